package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
)

// Route sends the requests whose host and path match Pattern to upstreams of their own, rather
// than to Config.Upstream's (Config.Routes).
//
// Pattern is host/path, /path (any host) or host (any path). A host matches the request's Host
// without its port, in any case; *.example.com matches the names below example.com but not
// example.com itself. A path that ends in a slash matches the paths that begin with it, and
// itself without the slash (/api/ matches /api, /api/ and /api/v1); another matches that path
// alone. The query is not matched. Of the patterns that match a request, the one with the most
// specific host wins (a name, then the longest wildcard, then none), then the one with the
// longest path; a request that none matches goes to Config.Upstream.
type Route struct {
	Pattern   string
	Upstreams []string // URLs as Config.Upstream's; several are balanced as Config.Upstreams are
}

// maxRoutes bounds Config.Routes: each request is matched against them in turn.
const maxRoutes = 256

// route is where a request goes: an upstream (a pool, or a balancer over several), the
// :scheme and default :authority of its requests, and its upstreams' names in order, for the
// access log (pool.Info.Upstream indexes them).
type route struct {
	up      upstream
	scheme  string
	address string
	names   []string
}

// rule is a parsed Route.Pattern and where it sends what it matches.
type rule struct {
	host     string // lower case, without a trailing dot; "" matches any
	wildcard bool   // host is a suffix, ".example.com", that the request's host must end in
	path     string // normalized (routePath); "/" matches any
	prefix   bool   // path ends in "/": it matches the paths below it too
	to       *route
}

// router picks each request's route: the first rule that matches (rules are in order of
// precedence), else def.
type router struct {
	def   *route
	rules []rule
	all   []*route // def, then each Route's, in Config.Routes' order
	pools *pools   // every upstream's pool, each once, however many routes share it; nil in tests that make routes by hand
}

// find returns r's route. A router without rules costs nothing per request.
func (rt *router) find(r *http.Request) *route {
	if len(rt.rules) == 0 {
		return rt.def
	}
	host := requestHost(r.Host)
	p := routePath(targetPath(r.RequestURI))
	for i := range rt.rules {
		if rt.rules[i].matches(host, p) {
			return rt.rules[i].to
		}
	}
	return rt.def
}

// shutdown ends the balancers' health checks and shuts every pool down once, all at once,
// within ctx. A router without pools (one made by hand) shuts its routes' upstreams down.
func (rt *router) shutdown(ctx context.Context) error {
	var ups []upstream
	if rt.pools != nil {
		for _, r := range rt.all {
			if b, ok := r.up.(*balancer); ok {
				b.stopHealthChecks()
			}
		}
		ups = rt.pools.order
	} else {
		for _, r := range rt.all {
			ups = append(ups, r.up)
		}
	}
	errs := make([]error, len(ups))
	var wg sync.WaitGroup
	for i, up := range ups {
		wg.Go(func() { errs[i] = up.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// starts reports whether every route's upstream sends requests without waiting for their
// response heads (starter).
func (rt *router) starts() bool {
	for _, r := range rt.all {
		if st, ok := r.up.(starter); !ok || !st.Starts() {
			return false
		}
	}
	return true
}

// names returns the URL of every upstream once, the default route's first.
func (rt *router) names() []string {
	var names []string
	for _, r := range rt.all {
		for _, n := range r.names {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// matches reports whether the rule matches a request for host (requestHost's) and path
// (routePath's).
func (ru *rule) matches(host, p string) bool {
	switch {
	case ru.host == "":
	case ru.wildcard:
		if len(host) <= len(ru.host) || !strings.HasSuffix(host, ru.host) {
			return false
		}
	case host != ru.host:
		return false
	}
	if !ru.prefix {
		return p == ru.path
	}
	return strings.HasPrefix(p, ru.path) || p == ru.path[:len(ru.path)-1]
}

// parsePattern reads a Route.Pattern into a rule without its route.
func parsePattern(pattern string) (rule, error) {
	host, p, hasPath := strings.Cut(pattern, "/")
	p = "/" + p
	if !hasPath {
		p = "/"
	}
	bad := func(why string) (rule, error) {
		return rule{}, fmt.Errorf("%w: route %q: %s", ErrConfig, pattern, why)
	}
	if pattern == "" {
		return bad("empty pattern")
	}
	var ru rule
	if host != "" {
		if strings.Contains(host, ":") {
			return bad("a host pattern has no port (ports are not matched)")
		}
		ru.host = strings.TrimSuffix(strings.ToLower(host), ".")
		name := ru.host
		if rest, ok := strings.CutPrefix(ru.host, "*."); ok {
			name, ru.host, ru.wildcard = rest, "."+rest, true
		}
		if !validPatternHost(name) {
			return bad("host must be a name, *.name or an IPv4 address, of letters, digits, '-' and '.'")
		}
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' {
			return bad("path must be visible ASCII, without '?' or '#'")
		}
	}
	ru.path = routePath(p)
	ru.prefix = strings.HasSuffix(ru.path, "/")
	return ru, nil
}

// validPatternHost reports whether h is a host a pattern may name: labels of letters, digits
// and hyphens, separated by dots.
func validPatternHost(h string) bool {
	if h == "" || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// sortRules puts rules in order of precedence: a host before none, a name before a wildcard, a
// longer wildcard before a shorter, then a longer path before a shorter; ties keep their order.
func sortRules(rules []rule) {
	rank := func(ru *rule) int {
		switch {
		case ru.host == "":
			return 0
		case ru.wildcard:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(rules, func(a, b rule) int {
		return cmp.Or(
			cmp.Compare(rank(&b), rank(&a)),
			cmp.Compare(len(b.host), len(a.host)),
			cmp.Compare(len(b.path), len(a.path)))
	})
}

// requestHost is the host of a Host field as patterns name it: without the port and a trailing
// dot, in lower case. A bracketed IPv6 literal keeps its brackets (no pattern names one).
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// routePath is the path a rule is matched against: p, a request's path as it was sent
// (targetPath), with the percent-encoded octets of unreserved characters decoded (RFC 3986
// 6.2.2.2), dot segments removed (RFC 3986 5.2.4) and runs of slashes made one, so that neither
// /%61pi/ nor /static/../api/ nor //api/ passes for other than /api/. The request still goes
// upstream with the path it was sent with. A path that needs none of this is returned as it is,
// without an allocation; an empty one (an asterisk-form or authority-form target) is "/".
func routePath(p string) string {
	if p == "" || p[0] != '/' {
		return "/"
	}
	if !strings.Contains(p, "%") && !strings.Contains(p, "/.") && !strings.Contains(p, "//") {
		return p
	}
	p = decodeUnreserved(p)
	clean := path.Clean(p)
	if clean != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		clean += "/" // a trailing slash, or a last dot segment, leaves a directory (RFC 3986 5.2.4)
	}
	return clean
}

// decodeUnreserved decodes the percent-encoded octets of p that are unreserved characters
// (ALPHA, DIGIT, '-', '.', '_', '~': RFC 3986 2.3), which mean what they encode; the others
// stay encoded.
func decodeUnreserved(p string) string {
	var b []byte // nil until an octet is decoded
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if c, ok := unhex2(p[i+1], p[i+2]); ok && unreserved(c) {
				if b == nil {
					b = append(make([]byte, 0, len(p)), p[:i]...)
				}
				b = append(b, c)
				i += 2
				continue
			}
		}
		if b != nil {
			b = append(b, p[i])
		}
	}
	if b == nil {
		return p
	}
	return string(b)
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
