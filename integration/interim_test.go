//go:build unix

package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// earlyHints is an upstream whose /hints/* routes send 103 Early Hints with a Link field before
// their final response: /hints/wait once the test says so (release) or its request ended,
// /hints/now at once.
func earlyHints(release <-chan struct{}) http.Handler {
	return demoWith("/hints/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		if r.URL.Path == "/hints/many" {
			for range 20 {
				w.WriteHeader(http.StatusEarlyHints)
			}
		}
		if r.URL.Path == "/hints/wait" {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "final")
	})
}

// TestEarlyHintsForwarded: over each upstream kind and both HTTP/2 engines (x/net's session
// reports them through httptrace, as quic-go's does), an upstream's 103 reaches an HTTP/1.1 client
// while the upstream is still at work on the final response (RFC 9110 15.2: a proxy forwards
// 1xx responses), its fields in it and not in the final response, with the gateway's Via as the
// final response has it; an HTTP/1.0 client, which may
// get no 1xx, gets only the final response; pipelined, the 103 comes in its request's turn; an
// upstream that sends too many fails its request.
func TestEarlyHintsForwarded(t *testing.T) {
	var release chan struct{}
	handler := func() http.Handler {
		release = make(chan struct{})
		return earlyHints(release)
	}
	withEachEngine(t, handler, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send("GET /hints/wait HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, _ := c.response("GET") // the upstream waits for release until this has come
		if resp.StatusCode != http.StatusEarlyHints || resp.Header.Get("Link") != "</style.css>; rel=preload; as=style" {
			t.Fatalf("got %d Link %q, want 103 with the upstream's Link", resp.StatusCode, resp.Header.Get("Link"))
		}
		hintVia := resp.Header.Get("Via")
		close(release)
		resp, body := c.response("GET")
		if resp.StatusCode != 200 || body != "final" || resp.Header.Get("Link") != "" {
			t.Errorf("got %d %q Link %q, want 200 final without the hint's Link", resp.StatusCode, body, resp.Header.Get("Link"))
		}
		if via := resp.Header.Get("Via"); !strings.HasSuffix(hintVia, " muxgate") || hintVia != via {
			t.Errorf("103 has Via %q, final response %q: want the gateway's entry on both (RFC 9110 7.6.3)", hintVia, via)
		}

		c = dialRaw(t, f.addr, false)
		c.send("GET /hints/now HTTP/1.0\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "final" {
			t.Errorf("HTTP/1.0: got %d %q, want 200 final and no 103", resp.StatusCode, body)
		}

		c = dialRaw(t, f.addr, false)
		c.send("GET /path/first HTTP/1.1\r\nHost: a\r\n\r\nGET /hints/now HTTP/1.1\r\nHost: a\r\n\r\n")
		for _, want := range []struct {
			code int
			body string
		}{{200, "/path/first"}, {103, ""}, {200, "final"}} {
			if resp, body := c.response("GET"); resp.StatusCode != want.code || body != want.body {
				t.Errorf("pipelined: got %d %q, want %d %q", resp.StatusCode, body, want.code, want.body)
			}
		}

		// More than the sessions take (16, quic-go's 5) fail the request.
		c = dialRaw(t, f.addr, false)
		c.send("GET /hints/many HTTP/1.1\r\nHost: a\r\n\r\n")
		hints := 0
		for {
			resp, _ := c.response("GET")
			if resp.StatusCode != http.StatusEarlyHints {
				if resp.StatusCode != http.StatusBadGateway || hints > 16 {
					t.Errorf("20 hints: got %d after %d hints, want 502 after 16 at most", resp.StatusCode, hints)
				}
				break
			}
			hints++
		}
	})
}
