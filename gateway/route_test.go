package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"testing"

	"muxgate/h1"
)

// oneRoute is a router that sends every request to up, with scheme and address.
func oneRoute(up upstream, scheme, address string) *router {
	rt := &route{up: up, scheme: scheme, address: address, names: []string{scheme + "://" + address}}
	return &router{def: rt, all: []*route{rt}}
}

// testRouter is a router over patterns whose routes are named by their pattern alone (no
// upstream), and "default".
func testRouter(t *testing.T, patterns ...string) *router {
	t.Helper()
	rt := &router{def: &route{names: []string{"default"}}}
	for _, p := range patterns {
		ru, err := parsePattern(p)
		if err != nil {
			t.Fatalf("parsePattern(%q): %v", p, err)
		}
		ru.to = &route{names: []string{p}}
		rt.rules = append(rt.rules, ru)
	}
	sortRules(rt.rules)
	return rt
}

// TestRouterFind: the most specific host wins, then the longest path; a path pattern with a
// trailing slash takes what is below it and itself without the slash; the query, the port and
// the case of the host are not matched; a request that no pattern matches takes the default.
func TestRouterFind(t *testing.T) {
	rt := testRouter(t,
		"/", "/api/", "/api/v2/", "/exact", "example.com/", "example.com/api/", "*.example.com",
		"*.eu.example.com/", "static.example.com/img/")
	for _, tc := range []struct{ host, target, want string }{
		{"other.test", "/index.html", "/"},
		{"other.test", "/api", "/api/"},
		{"other.test", "/api/", "/api/"},
		{"other.test", "/api/x?q=/api/v2/", "/api/"},
		{"other.test", "/api/v2/users", "/api/v2/"},
		{"other.test", "/apiv2", "/"},
		{"other.test", "/exact", "/exact"},
		{"other.test", "/exact/", "/"},
		{"other.test", "/exact?x", "/exact"},
		{"Example.COM:8080", "/x", "example.com/"},
		{"example.com.", "/api/v2/", "example.com/api/"},
		{"www.example.com", "/api/", "*.example.com"},
		{"a.eu.example.com", "/", "*.eu.example.com/"},
		{"eu.example.com", "/", "*.example.com"},
		{"static.example.com", "/img/a.png", "static.example.com/img/"},
		{"static.example.com", "/css/a.css", "*.example.com"},
		{"notexample.com", "/", "/"},
		{"[::1]:8080", "/api/", "/api/"},
		{"other.test", "http://example.com/api/", "/api/"}, // the Host h1 took from the target matches
		{"other.test", "/static/../api/v2/", "/api/v2/"},
		{"other.test", "/%61pi/v2/", "/api/v2/"},
		{"other.test", "//api/v2/", "/api/v2/"},
		{"other.test", "/api%2Fv2/", "/"},
	} {
		r := &http.Request{Host: tc.host, RequestURI: tc.target}
		if got := rt.find(r).names[0]; got != tc.want {
			t.Errorf("Host %q, %q: route %q, want %q", tc.host, tc.target, got, tc.want)
		}
	}
	none := testRouter(t)
	if got := none.find(&http.Request{Host: "a", RequestURI: "/"}); got != none.def {
		t.Errorf("a router without rules gave %v, want its default", got)
	}
}

// TestRoutePath: what a path is matched as.
func TestRoutePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/a/./b", "/a/b"},
		{"/a/../b/", "/b/"},
		{"/a/..", "/"},
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
		{"/.", "/"},
		{"/../..", "/"},
		{"//a///b", "/a/b"},
		{"/%7Euser/%41%2e%2E/x", "/~user/A../x"},
		{"/%2e%2e/%2E/a", "/a"},
		{"/a%2Fb%20c%", "/a%2Fb%20c%"},
		{"/a%zz", "/a%zz"},
	} {
		if got := routePath(tc.in); got != tc.want {
			t.Errorf("routePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { routePath("/api/v1/users?x=1") }); n != 0 {
		t.Errorf("routePath of a clean path allocates %v times", n)
	}
}

// TestParsePatternErrors: what a pattern may not be.
func TestParsePatternErrors(t *testing.T) {
	for _, p := range []string{"", "example.com:80/", "exa mple.com/", "*/", "*.", "a..b/", "*.*.a/", "/a b", "/a?b", "/a#b", "/é", "ex_ample.com/"} {
		if _, err := parsePattern(p); !errors.Is(err, ErrConfig) {
			t.Errorf("parsePattern(%q): %v, want ErrConfig", p, err)
		}
	}
}

// TestNewRouterErrors: a pattern given twice, a route without upstreams, and the errors of the
// upstreams' URLs are refused.
func TestNewRouterErrors(t *testing.T) {
	for _, tc := range []struct {
		routes []Route
		want   string
	}{
		{[]Route{{"/a/", []string{"h2c://127.0.0.1:2"}}, {"/a/", []string{"h2c://127.0.0.1:3"}}}, "twice"},
		{[]Route{{"/a/", nil}}, "no upstream"},
		{[]Route{{"/a/", []string{"h2c://127.0.0.1:2", "https://127.0.0.1:3"}}}, "scheme"},
		{[]Route{{"/a/", []string{"ftp://127.0.0.1:2"}}}, "scheme"},
		{[]Route{{"a:1/", []string{"h2c://127.0.0.1:2"}}}, "port"},
	} {
		cfg := &Config{Upstream: "h2c://127.0.0.1:1", Routes: tc.routes}
		if _, err := newRouter(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want ErrConfig saying %q", tc.routes, err, tc.want)
		}
	}
}

// TestNewRouter: each route gets its upstreams' :scheme and address, a route of several a
// balancer, and the rules their order of precedence.
func TestNewRouter(t *testing.T) {
	cfg := &Config{Upstream: "h2c://127.0.0.1:1", Routes: []Route{
		{"/api/", []string{"https://127.0.0.1:2", "h3://127.0.0.1:3"}},
		{"example.com", []string{"unix:/run/app.sock"}},
	}}
	rt, err := newRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.shutdown(context.Background())
	if len(rt.all) != 3 || len(rt.rules) != 2 {
		t.Fatalf("%d routes and %d rules, want 3 and 2", len(rt.all), len(rt.rules))
	}
	if r := rt.rules[0].to; r.scheme != "http" || r.address != "localhost" || r.names[0] != "unix:/run/app.sock" {
		t.Errorf("the host's route first: got %+v", r)
	}
	if r := rt.rules[1].to; r.scheme != "https" || r.address != "127.0.0.1:2" || len(r.names) != 2 {
		t.Errorf("the path's route: got %+v", r)
	} else if _, ok := r.up.(*balancer); !ok {
		t.Errorf("a route of two upstreams has a %T, want a balancer", r.up)
	}
	if got := strings.Join(rt.names(), " "); got != "h2c://127.0.0.1:1 https://127.0.0.1:2 h3://127.0.0.1:3 unix:/run/app.sock" {
		t.Errorf("names %q", got)
	}
}

// TestRouterSharesPools: an upstream named in several routes, alone or balanced, has one pool,
// which the shutdown shuts down once; its metrics are written once; the balancers over it share
// its count of health checks in flight.
func TestRouterSharesPools(t *testing.T) {
	cfg := &Config{Upstream: "h2c://127.0.0.1:1", Routes: []Route{
		{"/a/", []string{"h2c://127.0.0.1:2"}},
		{"/b/", []string{"h2c://127.0.0.1:2"}},
		{"/c/", []string{"h2c://127.0.0.1:2", "h2c://127.0.0.1:1"}},
		{"/d/", []string{"h2c://127.0.0.1:1", "h2c://127.0.0.1:2"}},
	}, Eject: Ejection{After: 2}}
	rt, err := newRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rt.pools.order); n != 2 {
		t.Errorf("%d pools, want 2", n)
	}
	if got := strings.Join(rt.names(), " "); got != "h2c://127.0.0.1:1 h2c://127.0.0.1:2" {
		t.Errorf("names %q, want each once", got)
	}
	a, b2, c := rt.all[1].up, rt.all[2].up, rt.all[3].up.(*balancer)
	if a != b2 || c.members[0].up != a || c.members[1].up != rt.def.up {
		t.Error("the routes do not share the pools of the upstreams they name alike")
	}
	if d := rt.all[4].up.(*balancer); d.members[0].checking != c.members[1].checking || d.members[1].checking != c.members[0].checking || c.members[0].checking == c.members[1].checking {
		t.Error("the balancers over one pool do not share its count of health checks in flight")
	}
	g := &Gateway{routes: rt, front: h1.New(h1.Config{}, nil), metrics: newMetrics()}
	var b bytes.Buffer
	if err := writeMetrics(&b, g); err != nil {
		t.Fatal(err)
	}
	samples := map[string]bool{}
	for line := range strings.Lines(b.String()) {
		if name, _, _ := strings.Cut(line, " "); !strings.HasPrefix(line, "#") && samples[name] {
			t.Errorf("sample %s written twice", name)
		} else {
			samples[name] = true
		}
	}
	if err := rt.shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v (a pool shut down twice says ErrClosed)", err)
	}
}

// FuzzRoutePath: a path is matched as one that needs no more normalizing (but decoding, which is
// done once), that starts with a
// slash, has neither dot segments nor empty ones, and means what path.Clean says the original
// means.
func FuzzRoutePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2E/", "//x//", "/a/.", "/%41%zz%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := routePath(p)
		// Decoding is done once, as the upstream will: "%7%41" is "%7A", not "z".
		if again := routePath(got); again != got && !strings.Contains(got, "%") {
			t.Fatalf("routePath(%q) = %q, and again %q", p, got, again)
		}
		if !strings.HasPrefix(got, "/") || strings.Contains(got, "//") || strings.Contains(got+"/", "/./") || strings.Contains(got+"/", "/../") {
			t.Fatalf("routePath(%q) = %q: not normalized", p, got)
		}
		if strings.HasPrefix(p, "/") && path.Clean(decodeUnreserved(p)) != path.Clean(got) {
			t.Fatalf("routePath(%q) = %q: another path than %q", p, got, path.Clean(decodeUnreserved(p)))
		}
	})
}

// FuzzParsePattern: a pattern is refused, or matches a request for its own host and path.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"/", "/api/", "example.com", "*.example.com/x", "a:1/", "/a?b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		ru, err := parsePattern(pattern)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("parsePattern(%q): %v, not ErrConfig", pattern, err)
			}
			return
		}
		host := strings.TrimPrefix(ru.host, ".")
		if ru.wildcard {
			host = "x." + host
		}
		if !ru.matches(requestHost(host), ru.path) {
			t.Fatalf("%q as %+v does not match host %q, path %q", pattern, ru, host, ru.path)
		}
	})
}
