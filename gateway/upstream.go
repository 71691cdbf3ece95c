package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"

	"muxgate/h2"
	"muxgate/h3"
	"muxgate/internal/pool"
)

var (
	_ statePool = (*h2.Pool)(nil)
	_ statePool = (*h3.Pool)(nil)
	_ loadPool  = (*h2.Pool)(nil)
	_ loadPool  = (*h3.Pool)(nil)
	_ loadPool  = (*fallback)(nil)
	_ upstream  = (*balancer)(nil)
)

// target is a parsed upstream URL.
type target struct {
	proto     string // "h2c", "h2", "h3" or "h3+h2"
	scheme    string // :scheme on the upstream requests
	address   string // host:port to dial, or a Unix socket's path
	unix      bool   // address is a Unix socket's path (h2c only)
	authority string // :authority of a request without Host, and of the health checks: address, or localhost for a Unix socket
	host      string // host without the port, the default TLS server name
}

// parseUpstream reads h2c://host:port, https://host[:port], h3://host[:port] or
// h3+h2://host[:port]: a non-empty host, an IPv6 one in brackets, and a port in 1-65535; or
// unix:/path (unix:///path too), h2c over a Unix domain socket.
func parseUpstream(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("%w: upstream %q: %w", ErrConfig, raw, err)
	}
	if u.Scheme == "unix" {
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
			return target{}, fmt.Errorf("%w: upstream %q: want unix:/path, the socket's absolute path", ErrConfig, raw)
		}
		return target{proto: "h2c", scheme: "http", address: u.Path, unix: true, authority: "localhost", host: "localhost"}, nil
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return target{}, fmt.Errorf("%w: upstream %q: want scheme://host:port and nothing else", ErrConfig, raw)
	}
	if strings.Contains(u.Hostname(), ":") && !strings.HasPrefix(u.Host, "[") {
		// url.Parse checks only a bracketed IP literal; unbracketed, h3://::1 read as host ":".
		return target{}, fmt.Errorf("%w: upstream %q: an IPv6 address goes in brackets", ErrConfig, raw)
	}
	var t target
	port := u.Port()
	switch u.Scheme {
	case "h2c":
		t.proto, t.scheme = "h2c", "http"
		if port == "" {
			return target{}, fmt.Errorf("%w: upstream %q: h2c needs a port", ErrConfig, raw)
		}
	case "https", "h2":
		t.proto, t.scheme = "h2", "https"
		if port == "" {
			port = "443"
		}
	case "h3", "h3+h2":
		t.proto, t.scheme = u.Scheme, "https"
		if port == "" {
			port = "443"
		}
	default:
		return target{}, fmt.Errorf("%w: upstream %q: scheme must be h2c, https, h3, h3+h2 or unix", ErrConfig, raw)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return target{}, fmt.Errorf("%w: upstream %q: port out of range 1-65535", ErrConfig, raw)
	}
	t.host = u.Hostname()
	t.address = net.JoinHostPort(t.host, port)
	t.authority = t.address
	if h, _, err := net.SplitHostPort(t.address); err != nil || h != t.host || !visibleASCII(t.host) {
		// url.Parse lets through a host such as "]", which no dial can split from its port, and
		// any byte in an IPv6 zone.
		return target{}, fmt.Errorf("%w: upstream %q: host %q is no host name or IP address (an internationalized name goes in its xn-- form)", ErrConfig, raw, t.host)
	}
	return t, nil
}

// visibleASCII reports whether s is made of visible ASCII characters only (RFC 5234 VCHAR).
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// newRouter parses Upstream, Upstreams and Routes and builds what serves them: a route for
// Upstream and Upstreams, the default, and one for each Route. An upstream named in several
// routes has one pool, which they share: its sessions serve them all.
func newRouter(cfg *Config) (*router, error) {
	if cfg.HealthCheck.Path != "" {
		if _, err := checkPath(cfg.HealthCheck.Path); err != nil {
			return nil, err
		}
	}
	if len(cfg.Routes) > maxRoutes {
		return nil, fmt.Errorf("%w: %d routes, at most %d", ErrConfig, len(cfg.Routes), maxRoutes)
	}
	rt := &router{pools: newPools(cfg)}
	fail := func(err error) (*router, error) {
		rt.shutdown(context.Background()) // nothing was dialed: it returns at once
		return nil, err
	}
	def, err := newRoute(cfg, cfg.upstreams(), rt.pools)
	if err != nil {
		return fail(err)
	}
	rt.def = def
	rt.all = append(rt.all, def)
	patterns := map[string]bool{}
	for _, r := range cfg.Routes {
		ru, err := parsePattern(r.Pattern)
		if err == nil && patterns[r.Pattern] {
			err = fmt.Errorf("%w: route %q given twice", ErrConfig, r.Pattern)
		}
		if err == nil && len(r.Upstreams) == 0 {
			err = fmt.Errorf("%w: route %q has no upstream", ErrConfig, r.Pattern)
		}
		if err == nil {
			ru.to, err = newRoute(cfg, r.Upstreams, rt.pools)
		}
		if err != nil {
			return fail(err)
		}
		patterns[r.Pattern] = true
		rt.all = append(rt.all, ru.to)
		rt.rules = append(rt.rules, ru)
	}
	sortRules(rt.rules)
	return rt, nil
}

// pools builds each upstream's pool once, for all the routes that name it.
type pools struct {
	cfg      *Config
	byName   map[string]upstream
	order    []upstream      // in the order built, for the shutdown
	balanced map[string]bool // upstreams in a route of several: their pools fail fast
	// checking counts the health checks in flight on each upstream's pool, for every balancer
	// that has it as a member (member.checking).
	checking map[string]*atomic.Int32
}

func newPools(cfg *Config) *pools {
	ps := &pools{cfg: cfg, byName: map[string]upstream{}, balanced: map[string]bool{}, checking: map[string]*atomic.Int32{}}
	groups := [][]string{cfg.upstreams()}
	for _, r := range cfg.Routes {
		groups = append(groups, r.Upstreams)
	}
	for _, g := range groups {
		for _, raw := range g {
			name, _, _ := splitParams(raw) // an error shows when the route is built
			ps.balanced[name] = ps.balanced[name] || len(g) > 1
		}
	}
	return ps
}

// get returns the pool of the upstream name, whose URL parsed to t, building it at the first
// call. A pool for an upstream that something else can stand in for (a member of a balancer)
// fails its requests at once while the upstream cannot be reached.
func (ps *pools) get(name string, t target) (upstream, error) {
	if up, ok := ps.byName[name]; ok {
		return up, nil
	}
	up, err := newPool(ps.cfg, t, name, ps.balanced[name])
	if err != nil {
		return nil, err
	}
	ps.byName[name] = up
	ps.order = append(ps.order, up)
	ps.checking[name] = new(atomic.Int32)
	return up, nil
}

// maxWeight bounds an upstream's ;weight=.
const maxWeight = 256

// upstreamParams are what may follow an upstream's URL, each after a ';'.
type upstreamParams struct {
	// weight is ;weight=N (1 to 256): the share of its route's requests the upstream takes
	// against the others' (1 each unless given), as nghttpx's weight and HAProxy's.
	weight int
	// health is ;health=/path: the path of its health checks, in place of HealthCheck.Path,
	// where its route has several upstreams; "" for HealthCheck.Path.
	health string
}

// splitParams splits the parameters that may follow an upstream's URL from it.
func splitParams(raw string) (string, upstreamParams, error) {
	url, rest, hasParams := strings.Cut(raw, ";")
	ps := upstreamParams{weight: 1}
	if !hasParams {
		return url, ps, nil
	}
	bad := func(why string) (string, upstreamParams, error) {
		return "", upstreamParams{}, fmt.Errorf("%w: upstream %q: %s", ErrConfig, raw, why)
	}
	seen := map[string]bool{}
	for param := range strings.SplitSeq(rest, ";") {
		k, v, _ := strings.Cut(param, "=")
		if seen[k] {
			return bad(";" + k + "= given twice")
		}
		seen[k] = true
		switch k {
		case "weight":
			w, err := strconv.Atoi(v)
			if err != nil || w < 1 || w > maxWeight {
				return bad(fmt.Sprintf(";weight=N wants N from 1 to %d", maxWeight))
			}
			ps.weight = w
		case "health":
			if _, err := checkPath(v); err != nil {
				return bad(";health= wants a path, /path[?query]")
			}
			ps.health = v
		default:
			return bad("after the URL, ;weight=N and ;health=/path only")
		}
	}
	return url, ps, nil
}

// newRoute builds the route to the upstreams of raws (URLs, each with its ;weight= if any), their
// pools from ps: the pool of one, or a balancer over the pools of several. Its requests take the
// first one's :scheme and address.
func newRoute(cfg *Config, raws []string, ps *pools) (*route, error) {
	names := make([]string, len(raws))
	params := make([]upstreamParams, len(raws))
	for i, raw := range raws {
		var err error
		if names[i], params[i], err = splitParams(raw); err != nil {
			return nil, err
		}
	}
	first, err := parseUpstream(names[0])
	if err != nil {
		return nil, err
	}
	rt := &route{scheme: first.scheme, address: first.authority, names: names}
	if len(names) == 1 {
		rt.up, err = ps.get(names[0], first)
		return rt, err
	}
	if len(names) > maxMembers {
		return nil, fmt.Errorf("%w: %d upstreams, at most %d", ErrConfig, len(names), maxMembers)
	}
	var members []*member
	for i, name := range names {
		t, err := parseUpstream(name)
		if err == nil && t.scheme != first.scheme {
			err = fmt.Errorf("%w: upstream %q: its requests' scheme (%s) is not the first upstream's (%s)", ErrConfig, name, t.scheme, first.scheme)
		}
		if err == nil && slices.Contains(names[:i], name) {
			err = fmt.Errorf("%w: upstream %q given twice", ErrConfig, name)
		}
		var up upstream
		if err == nil {
			up, err = ps.get(name, t)
		}
		if err != nil {
			return nil, err
		}
		members = append(members, &member{name: name, scheme: t.scheme, address: t.authority, up: up.(loadPool),
			weight: params[i].weight, healthPath: params[i].health, checking: ps.checking[name]})
	}
	rt.up = newBalancer(members, cfg.HealthCheck, cfg.Eject, cfg.Logger)
	return rt, nil
}

// newPool builds the pool that serves t, named name in its log: for h3+h2, an HTTP/3 pool with
// an HTTP/2 pool over TLS to the same host and port as its fallback. failFast as
// pool.Limits.FailWhileUnreachable, for a pool that something else can stand in for.
func newPool(cfg *Config, t target, name string, failFast bool) (upstream, error) {
	log := cfg.Logger.With().Str("upstream", name).Logger()
	switch t.proto {
	case "h3":
		return newH3Pool(cfg, t, log, failFast)
	case "h3+h2":
		// While QUIC cannot connect, the HTTP/2 pool serves at once what the HTTP/3 one fails.
		p3, err := newH3Pool(cfg, t, log, true)
		if err != nil {
			return nil, err
		}
		t.proto = "h2"
		p2, err := newH2Pool(cfg, t, log, failFast)
		if err != nil {
			p3.Shutdown(context.Background())
			return nil, err
		}
		return newFallback(p3, p2, log), nil
	}
	return newH2Pool(cfg, t, log, failFast)
}

// limits are the bounds of pc that the h2 and h3 pools take alike.
func (pc PoolConfig) limits() pool.Limits {
	return pool.Limits{
		MaxSessions:          pc.MaxSessions,
		MinSessions:          pc.MinSessions,
		MaxStreamsPerSession: pc.MaxStreamsPerSession,
		QueueLength:          pc.QueueLength,
		QueueTimeout:         pc.QueueTimeout,
		ReplayBuffer:         pc.RetryBuffer,
		MaxSessionAge:        pc.MaxSessionAge,
		SessionIdleTimeout:   pc.SessionIdleTimeout,
	}
}

// newH2Pool builds an HTTP/2 pool for t; failFast as pool.Limits.FailWhileUnreachable.
func newH2Pool(cfg *Config, t target, log zerolog.Logger, failFast bool) (*h2.Pool, error) {
	pc := cfg.Pool
	limits := pc.limits()
	limits.FailWhileUnreachable = failFast
	h2cfg := h2.Config{
		Logger:          log,
		Address:         t.address,
		Lookup:          cfg.Lookup,
		Unix:            t.unix,
		Limits:          limits,
		StreamWindow:    pc.StreamWindow,
		ConnWindow:      pc.ConnWindow,
		MaxFrameSize:    pc.MaxFrameSize,
		DialTimeout:     pc.DialTimeout,
		PingInterval:    pc.PingInterval,
		PingTimeout:     pc.PingTimeout,
		ResponseTimeout: cfg.UpstreamTimeout,
		BodyIdleTimeout: pc.BodyIdleTimeout,
		Engine:          h2.Engine(pc.H2Engine),
	}
	if t.proto == "h2" {
		h2cfg.TLS = upstreamTLS(cfg, t)
	}
	return h2.New(h2cfg)
}

// newH3Pool builds an HTTP/3 pool for t; failFast as pool.Limits.FailWhileUnreachable.
func newH3Pool(cfg *Config, t target, log zerolog.Logger, failFast bool) (*h3.Pool, error) {
	pc := cfg.Pool
	limits := pc.limits()
	limits.FailWhileUnreachable = failFast
	return h3.New(h3.Config{
		Logger:          log,
		Address:         t.address,
		Lookup:          cfg.Lookup,
		TLS:             upstreamTLS(cfg, t),
		Limits:          limits,
		StreamWindow:    pc.StreamWindow,
		ConnWindow:      pc.ConnWindow,
		DialTimeout:     pc.DialTimeout,
		PingInterval:    pc.PingInterval,
		IdleTimeout:     pc.QUICIdleTimeout,
		ResponseTimeout: cfg.UpstreamTimeout,
		BodyIdleTimeout: pc.BodyIdleTimeout,
	})
}

// upstreamTLS is the client TLS configuration for t: cfg.UpstreamTLS, with the URL's host as the
// server name unless one is set.
func upstreamTLS(cfg *Config, t target) *tls.Config {
	tc := &tls.Config{}
	if cfg.UpstreamTLS != nil {
		tc = cfg.UpstreamTLS.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = t.host
	}
	return tc
}
