//go:build unix

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"muxgate/gateway"
	"muxgate/internal/demo"
)

// named is an upstream that answers every request with its name, the request's Host and its
// target, as it got them.
func named(name string) demo.Options {
	return demo.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", name, r.Host, r.RequestURI)
	})}
}

// TestRoutes: each request goes to the upstream its host and path match, whatever that speaks
// (h2c, h2, h3), one after another on one client connection; the access log names that upstream;
// a request that no route matches goes to the default upstream; a route of two upstreams spreads
// its requests over both; and the target goes upstream as the client sent it, although it was
// matched normalized.
func TestRoutes(t *testing.T) {
	def := startUpstream(t, upstreamKinds[0], named("default"))
	api := startUpstream(t, upstreamKinds[1], named("api"))
	img := startUpstream(t, upstreamKinds[2], named("img"))
	v2a := startUpstream(t, upstreamKinds[0], named("v2"))
	v2b := startUpstream(t, upstreamKinds[0], named("v2"))
	cfg := testConfig(def)
	cfg.Routes = []gateway.Route{
		{Pattern: "/api/", Upstreams: []string{api.url}},
		{Pattern: "img.test", Upstreams: []string{img.url}},
		{Pattern: "/api/v2/", Upstreams: []string{v2a.url, v2b.url}},
	}
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	for _, tc := range []struct{ host, target, want, upstream string }{
		{"a.test", "/index.html", "default a.test /index.html", def.url},
		{"a.test", "/api/users?x=1", "api a.test /api/users?x=1", api.url},
		{"IMG.test:8080", "/api/logo.png", "img IMG.test:8080 /api/logo.png", img.url},
		{"a.test", "/api", "api a.test /api", api.url},
		{"a.test", "/static/../api/v2/x", "v2 a.test /static/../api/v2/x", v2a.url + "|" + v2b.url},
		{"a.test", "/%61pi/v2/", "v2 a.test /%61pi/v2/", v2a.url + "|" + v2b.url},
		{"a.test", "/apiv2", "default a.test /apiv2", def.url},
		{"a.test", "/api/v2/y", "v2 a.test /api/v2/y", v2a.url + "|" + v2b.url},
	} {
		c.send("GET " + tc.target + " HTTP/1.1\r\nHost: " + tc.host + "\r\n\r\n")
		resp, body := c.response("GET")
		if resp.StatusCode != http.StatusOK || body != tc.want {
			t.Errorf("Host %s, %s: %d %q, want 200 %q", tc.host, tc.target, resp.StatusCode, body, tc.want)
		}
	}
	if v2a.Requests() == 0 || v2b.Requests() == 0 || v2a.Requests()+v2b.Requests() != 3 {
		t.Errorf("the route of two upstreams sent them %d and %d requests, want 3 spread over both", v2a.Requests(), v2b.Requests())
	}
	lines := strings.Split(strings.TrimSpace(access.String()), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d access-log lines, want 8:\n%s", len(lines), access.String())
	}
	for i, want := range []string{def.url, api.url, img.url, api.url, "", "", def.url, ""} {
		if want != "" && !strings.Contains(lines[i], `"upstream":"`+want+`"`) {
			t.Errorf("access-log line %d does not name upstream %s:\n%s", i+1, want, lines[i])
		}
	}
}

// TestRoutesPipelined: pipelined requests to several routes are answered in order, each by its
// route's upstream, where every route's sessions start requests without waiting (muxgate's own
// HTTP/2 session) and where one does not (HTTP/3).
func TestRoutesPipelined(t *testing.T) {
	for _, k := range []upstreamKind{upstreamKinds[0], upstreamKinds[2]} {
		t.Run(k.name, func(t *testing.T) {
			def := startUpstream(t, upstreamKinds[0], named("default"))
			api := startUpstream(t, k, named("api"))
			cfg := testConfig(def)
			cfg.Routes = []gateway.Route{{Pattern: "/api/", Upstreams: []string{api.url}}}
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			var burst strings.Builder
			targets := []string{"/api/1", "/2", "/api/3", "/api/4", "/5", "/6"}
			for _, target := range targets {
				burst.WriteString("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n")
			}
			c.send(burst.String())
			for _, target := range targets {
				want := "default a " + target
				if strings.HasPrefix(target, "/api/") {
					want = "api a " + target
				}
				if resp, body := c.response("GET"); resp.StatusCode != http.StatusOK || body != want {
					t.Errorf("%s: %d %q, want 200 %q", target, resp.StatusCode, body, want)
				}
			}
		})
	}
}

// TestBinaryRoute: -route reaches the gateway, the URLs of one pattern make one route, and two
// patterns may name one upstream, whose one session serves both.
func TestBinaryRoute(t *testing.T) {
	def := startUpstream(t, upstreamKinds[0], named("default"))
	api := startUpstream(t, upstreamKinds[0], named("api"))
	api2 := startUpstream(t, upstreamKinds[0], named("api"))
	p := startBinary(t, "-upstream", def.url, "-route", "/api/="+api.url, "-route", "/api/="+api2.url,
		"-route", "/v1/="+api.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json")
	clear, _ := p.waitServing(1)
	c := newClient(t)
	for i := range 4 {
		if _, body := get(t, c, "http://"+clear[0]+"/api/x"); body != "api "+clear[0]+" /api/x" {
			t.Errorf("request %d: %q from /api/x, want the api upstream's", i, body)
		}
	}
	if _, body := get(t, c, "http://"+clear[0]+"/x"); body != "default "+clear[0]+" /x" {
		t.Errorf("%q from /x, want the default upstream's", body)
	}
	if api.Requests() == 0 || api2.Requests() == 0 {
		t.Errorf("the two upstreams of /api/ got %d and %d requests, want some each", api.Requests(), api2.Requests())
	}
	before := api.Requests()
	if _, body := get(t, c, "http://"+clear[0]+"/v1/x"); body != "api "+clear[0]+" /v1/x" || api.Requests() != before+1 {
		t.Errorf("%q from /v1/x, want the api upstream's", body)
	}
	if n := api.Accepted(); n != 1 {
		t.Errorf("the upstream of two routes accepted %d connections, want 1", n)
	}
}
