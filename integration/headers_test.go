//go:build unix

package integration

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"muxgate/internal/demo"
)

// TestHeaderRules: hop-by-hop fields and the fields Connection names never reach the upstream;
// X-Forwarded-For, X-Forwarded-Proto and Via are set, and each can be turned off.
func TestHeaderRules(t *testing.T) {
	const request = "GET /headers HTTP/1.1\r\n" +
		"Host: example.test:8080\r\n" +
		"Connection: keep-alive, X-Secret\r\n" +
		"Connection: X-Other-Secret\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"Upgrade: foo/2\r\n" +
		"X-Secret: hide me\r\n" +
		"X-Other-Secret: hide me too\r\n" +
		"TE: trailers, gzip\r\n" +
		"X-Forwarded-For: 192.0.2.7\r\n" +
		"X-Kept: yes\r\n" +
		"\r\n"
	removed := []string{"connection", "keep-alive", "proxy-connection", "upgrade", "x-secret", "x-other-secret", "transfer-encoding"}

	// x/net's session takes the fields as a Header, which the pool makes of the list h1 read.
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			f := startGateway(t, cfg)
			for _, useTLS := range []bool{false, true} {
				addr := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
				proto := map[bool]string{false: "http", true: "https"}[useTLS]
				t.Run(proto, func(t *testing.T) {
					c := dialRaw(t, addr, useTLS)
					c.send(request)
					resp, body := c.response("GET")
					if resp.StatusCode != 200 {
						t.Fatalf("status %d, want 200; body:\n%s", resp.StatusCode, body)
					}
					got := headerLines(body)
					for _, name := range removed {
						if v, ok := got[name]; ok {
							t.Errorf("the upstream got %s: %q, want it removed\n%s", name, v, body)
						}
					}
					want := map[string]string{
						"authority":         "example.test:8080",
						"x-forwarded-for":   "192.0.2.7, 127.0.0.1",
						"x-forwarded-proto": proto,
						"via":               "1.1 muxgate",
						"x-kept":            "yes",
						"te":                "trailers",
					}
					for name, v := range want {
						if got[name] != v {
							t.Errorf("the upstream got %s: %q, want %q\n%s", name, got[name], v, body)
						}
					}
					if via := resp.Header.Get("Via"); !strings.Contains(via, "muxgate") {
						t.Errorf("response Via %q, want it to name muxgate", via)
					}
					// The connection stays usable after the hop-by-hop fields.
					c.send("GET /path/next HTTP/1.1\r\nHost: example.test\r\n\r\n")
					if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/next" {
						t.Errorf("next request: status %d body %q, want 200 /path/next", resp.StatusCode, body)
					}
				})
			}
			// RFC 9110 5.6.1: no empty list element, where the client sent empty values; before,
			// the upstream got ", 127.0.0.1" and ", 1.1 muxgate".
			t.Run("empty list elements", func(t *testing.T) {
				c := dialRaw(t, f.addr, false)
				c.send("GET /headers HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For:\r\nVia:\r\n" +
					"X-Forwarded-For: , 192.0.2.7,\r\nVia: ,\r\n\r\n")
				resp, body := c.response("GET")
				if resp.StatusCode != 200 {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				got := headerLines(body)
				for name, want := range map[string]string{"x-forwarded-for": "192.0.2.7, 127.0.0.1", "via": "1.1 muxgate"} {
					if got[name] != want {
						t.Errorf("the upstream got %s: %q, want %q\n%s", name, got[name], want, body)
					}
				}
			})
			// RFC 9110 7.6.1: connection-option = token. An element that is not one names no
			// field: the request is served, the options beside it still remove theirs, and the
			// connection stays open (it is no "close" either).
			t.Run("connection option not a token", func(t *testing.T) {
				c := dialRaw(t, f.addr, false)
				c.send("GET /headers HTTP/1.1\r\nHost: example.test\r\nConnection: x-a;q=1, X-B, close;q=1\r\n" +
					"X-A: 1\r\nX-B: 2\r\n\r\n")
				resp, body := c.response("GET")
				got := headerLines(body)
				if _, ok := got["x-b"]; resp.StatusCode != 200 || got["x-a"] != "1" || ok {
					t.Errorf("got %d, x-a %q, x-b %q upstream; want 200, x-a kept, x-b removed\n%s", resp.StatusCode, got["x-a"], got["x-b"], body)
				}
				c.send("GET /path/next HTTP/1.1\r\nHost: example.test\r\n\r\n")
				if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/next" {
					t.Errorf("next request: got %d %q, want 200 /path/next", resp.StatusCode, body)
				}
			})
			t.Run("http1.0", func(t *testing.T) {
				c := dialRaw(t, f.addr, false)
				c.send("GET /headers HTTP/1.0\r\nHost: example.test\r\n\r\n")
				resp, body := c.response("GET")
				if resp.StatusCode != 200 {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				if got := headerLines(body)["via"]; got != "1.0 muxgate" {
					t.Errorf("the upstream got Via %q for an HTTP/1.0 request, want %q", got, "1.0 muxgate")
				}
			})
		})
	}

	t.Run("turned off", func(t *testing.T) {
		u := startUpstream(t, upstreamKinds[0], demo.Options{})
		cfg := testConfig(u)
		cfg.NoForwardedFor, cfg.NoForwardedProto, cfg.NoVia = true, true, true
		f := startGateway(t, cfg)
		c := dialRaw(t, f.addr, false)
		c.send("GET /headers HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n")
		resp, body := c.response("GET")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		got := headerLines(body)
		if got["x-forwarded-for"] != "192.0.2.7" {
			t.Errorf("X-Forwarded-For %q, want the client's own %q untouched", got["x-forwarded-for"], "192.0.2.7")
		}
		for _, name := range []string{"x-forwarded-proto", "via"} {
			if v, ok := got[name]; ok {
				t.Errorf("the upstream got %s: %q with the flag off\n%s", name, v, body)
			}
		}
		if via := resp.Header.Get("Via"); via != "" {
			t.Errorf("response Via %q with NoVia", via)
		}
	})
}

// TestHostAsSent: a Host of any valid shape (RFC 3986 3.2.2, 3.2.3) reaches the upstream as the
// :authority exactly as sent, over each upstream kind and both HTTP/2 engines: an IPv6 literal, a
// port with leading zeros, and an empty port, which the gateway does not normalize away.
func TestHostAsSent(t *testing.T) {
	hosts := []string{"example.test", "Example.TEST:8080", "[::1]:8443", "[2001:db8::1]", "a:", "a:0080", "192.0.2.1:65535"}
	withEachEngine(t, demo.Handler, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		for _, host := range hosts {
			c.send("GET /headers HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
			resp, body := c.response("GET")
			if got := headerLines(body)["authority"]; resp.StatusCode != 200 || got != host {
				t.Errorf("Host %q: got %d, authority %q upstream, want 200 and %q\n%s", host, resp.StatusCode, got, host, body)
			}
		}
	})
}

// TestAbsoluteFormDefaultPort: an absolute-form target and a Host that differ only by the
// scheme's default port name one origin (RFC 9110 4.2.1): the request is served, with the target's
// authority upstream. Another port still gets 400.
func TestAbsoluteFormDefaultPort(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	f := startGateway(t, testConfig(u))
	c := dialRaw(t, f.addr, false)
	c.send("GET http://a:80/headers HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, body := c.response("GET"); resp.StatusCode != 200 || headerLines(body)["authority"] != "a:80" {
		t.Errorf("got %d, authority %q upstream; want 200 and a:80\n%s", resp.StatusCode, headerLines(body)["authority"], body)
	}
	c.send("GET http://a:8080/headers HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("another port: got %d, want 400", resp.StatusCode)
	}
}

// TestTrailers: the upstream's trailer fields reach the client after a chunked body.
func TestTrailers(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			c := dialRaw(t, f.addr, false)
			c.send("GET /trailers HTTP/1.1\r\nHost: example.test\r\nTE: trailers\r\n\r\n")
			resp, body := c.response("GET")
			if resp.StatusCode != 200 || body != "body before trailers\n" {
				t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, body, "body before trailers\n")
			}
			if got := resp.Trailer.Get("X-Checksum"); got != "done" {
				t.Errorf("trailer X-Checksum %q, want done (trailers %v)", got, resp.Trailer)
			}
		})
	}
}

// TestRequestTrailers: the trailer fields of a client's chunked body reach the upstream, over
// each upstream kind and both HTTP/2 engines, and the connection serves the next request.
func TestRequestTrailers(t *testing.T) {
	upload := demoWith("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %v %s", b, err, r.Trailer.Get("X-Checksum"))
	})
	withEachEngine(t, func() http.Handler { return upload }, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Checksum: 5d41\r\n\r\n")
		if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "hello <nil> 5d41" {
			t.Errorf("got %d %q, want 200 %q: the body and its trailer upstream", resp.StatusCode, body, "hello <nil> 5d41")
		}
		c.send("GET /path/next HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/next" {
			t.Errorf("next request: got %d %q, want 200 /path/next", resp.StatusCode, body)
		}
	})
}

// TestTargetAsSent: the request-target's path and query reach the upstream as the client sent
// them, in the origin-form and the absolute-form, over each upstream kind and both HTTP/2
// engines (RFC 9110 7.7): bytes that url.URL would escape ("|", "{", "^") are not escaped,
// escapes are not decoded, also in a path that starts with "//", and the query is untouched.
func TestTargetAsSent(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RequestURI) })
	targets := []string{
		"/plain/path?x=1",
		"/a|b",
		"/a%41|b?q=%7C|{}",
		"/x{y}^z`w",
		"/a%2Fb%2fc",
		"/a?",
		"//double/slash",
		"//admin%2f..%2fpublic|x", // net/url decodes %2f in such a path, which would make "/.."
		"//a%2fb|c?x",
	}
	withEachEngine(t, func() http.Handler { return echo }, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		for _, target := range targets {
			c.send("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != target {
				t.Errorf("GET %s: the upstream got %q (%d), want it as sent", target, body, resp.StatusCode)
			}
			c.send("GET http://a" + target + " HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != target {
				t.Errorf("GET http://a%s: the upstream got %q (%d), want %s", target, body, resp.StatusCode, target)
			}
			// HTTP/1.0 without Host: the authority sent upstream is the upstream's address.
			c10 := dialRaw(t, f.addr, false)
			c10.send("GET " + target + " HTTP/1.0\r\n\r\n")
			if resp, body := c10.response("GET"); resp.StatusCode != 200 || body != target {
				t.Errorf("GET %s HTTP/1.0 without Host: the upstream got %q (%d), want it as sent", target, body, resp.StatusCode)
			}
		}
	})
}

// TestOptionsForTheServer: an OPTIONS whose absolute-form target has no path asks about the
// server as a whole, and goes upstream as ":path *" (RFC 9112 3.2.4, RFC 9113 8.3.1); with a
// path, or in the asterisk-form, it goes as sent.
func TestOptionsForTheServer(t *testing.T) {
	echoPath := func(r *frameReply) {
		r.headers(false, ":status", "200", "content-length", strconv.Itoa(len(r.path)))
		r.data(true, r.path)
	}
	withFrameEngines(t, echoPath, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		for target, want := range map[string]string{
			"http://a":   "*",
			"*":          "*",
			"http://a/":  "/",
			"http://a?x": "/?x",
		} {
			c.send("OPTIONS " + target + " HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, body := c.response("OPTIONS"); resp.StatusCode != 200 || body != want {
				t.Errorf("OPTIONS %s: the upstream got :path %q (%d), want %q", target, body, resp.StatusCode, want)
			}
		}
	})
}

// TestMaxForwards: the gateway is an intermediary for Max-Forwards (RFC 9110 7.6.2). An OPTIONS
// or TRACE whose value is 0 is answered by the gateway, as the final recipient, and never reaches
// the upstream: OPTIONS with 200 and no content, TRACE with the request as message/http, without
// its credentials; with a higher value it goes on with the value less one. For other methods,
// and a value that is no number, the field crosses untouched.
func TestMaxForwards(t *testing.T) {
	var mu sync.Mutex
	var got []string // "METHOD max-forwards" as each request reached the upstream
	answer := func(r *frameReply) {
		mf, ok := r.field("max-forwards")
		if !ok {
			mf = "none"
		}
		method, _ := r.field(":method")
		mu.Lock()
		got = append(got, method+" "+mf)
		mu.Unlock()
		r.headers(false, ":status", "200", "content-length", strconv.Itoa(len(mf)))
		r.data(true, mf)
	}
	withFrameEngines(t, answer, func(t *testing.T, f *front) {
		mu.Lock()
		got = nil
		mu.Unlock()
		c := dialRaw(t, f.addr, false)
		c.send("OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n")
		if resp, body := c.response("OPTIONS"); resp.StatusCode != 200 || body != "" || resp.ContentLength != 0 {
			t.Errorf("OPTIONS, Max-Forwards 0: got %d %q (length %d), want 200 and no content", resp.StatusCode, body, resp.ContentLength)
		}
		c.send("TRACE /t?q HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nCookie: secret=1\r\nAuthorization: Basic c2VjcmV0\r\nX-A: 1\r\n\r\n")
		resp, body := c.response("TRACE")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "message/http" ||
			!strings.HasPrefix(body, "TRACE /t?q HTTP/1.1\r\n") || !strings.Contains(body, "\r\nX-A: 1\r\n") ||
			!strings.Contains(strings.ToLower(body), "\r\nhost: a\r\n") || strings.Contains(body, "secret") || strings.Contains(body, "c2VjcmV0") {
			t.Errorf("TRACE, Max-Forwards 0: got %d %q %q, want 200 message/http with the request, without its credentials",
				resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		for _, tc := range []struct{ method, value, want string }{
			{"OPTIONS", "3", "2"},
			{"TRACE", "1", "0"},
			{"GET", "0", "0"},
			{"OPTIONS", "x", "x"},
		} {
			c.send(tc.method + " / HTTP/1.1\r\nHost: a\r\nMax-Forwards: " + tc.value + "\r\n\r\n")
			if resp, body := c.response(tc.method); resp.StatusCode != 200 || body != tc.want {
				t.Errorf("%s, Max-Forwards %s: the upstream got %q (%d), want %q", tc.method, tc.value, body, resp.StatusCode, tc.want)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if want := "OPTIONS 2|TRACE 0|GET 0|OPTIONS x"; strings.Join(got, "|") != want {
			t.Errorf("the upstream got %q, want %q: nothing for a Max-Forwards of 0", strings.Join(got, "|"), want)
		}
	})
}
