//go:build unix

package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"muxgate/gateway"
	"muxgate/internal/demo"
)

// TestSetFields: the fields an operator sets replace those of their names that the client sent
// upstream or the upstream sent back, an empty one removes them, and the other fields pass,
// over each kind of upstream session (which take requests and give responses as lists or maps).
func TestSetFields(t *testing.T) {
	handler := func() http.Handler {
		return demoWith("/with-server", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "upstream/1.0")
			w.Header().Set("X-Keep", "kept")
			w.Header().Set("Strict-Transport-Security", "max-age=1")
			w.Write([]byte("ok"))
		})
	}
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{Handler: handler()})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.SetRequestFields = []gateway.Field{{Name: "X-Env", Value: "prod"}, {Name: "X-Debug"}}
			cfg.SetResponseFields = []gateway.Field{{Name: "Server"}, {Name: "Strict-Transport-Security", Value: "max-age=63072000"}}
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			c.send("GET /headers HTTP/1.1\r\nHost: a.test\r\nX-Env: dev\r\nx-debug: 1\r\nX-Other: o\r\n\r\n")
			resp, body := c.response("GET")
			seen := headerLines(body)
			if resp.StatusCode != 200 || seen["x-env"] != "prod" || seen["x-other"] != "o" || strings.Contains(strings.ToLower(body), "x-debug") {
				t.Errorf("the upstream saw %q, want X-Env: prod, X-Other: o and no X-Debug", body)
			}
			c.send("GET /with-server HTTP/1.1\r\nHost: a.test\r\n\r\n")
			resp, _ = c.response("GET")
			if h := resp.Header; h.Get("Server") != "" || h.Get("X-Keep") != "kept" || h.Values("Strict-Transport-Security")[0] != "max-age=63072000" || len(h.Values("Strict-Transport-Security")) != 1 {
				t.Errorf("the client got %v, want no Server, X-Keep, and the set Strict-Transport-Security alone", h)
			}
			c.send("GET /bytes/3 HTTP/1.1\r\nHost: a.test\r\n\r\n")
			if resp, _ = c.response("GET"); resp.Header.Get("Strict-Transport-Security") != "max-age=63072000" {
				t.Errorf("a response without the field: %v, want it added", resp.Header)
			}
			// muxgate's own answers: a failure (a WebSocket handshake without a valid key), and
			// the answer of the last hop to an OPTIONS with Max-Forwards 0.
			for _, req := range []string{
				"GET /websocket HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: bad\r\nSec-WebSocket-Version: 13\r\n\r\n",
				"OPTIONS / HTTP/1.1\r\nHost: a.test\r\nMax-Forwards: 0\r\n\r\n",
			} {
				c.send(req)
				resp, _ := c.response(strings.Fields(req)[0])
				if resp.Header.Get("Strict-Transport-Security") != "max-age=63072000" {
					t.Errorf("muxgate's own %s: %v, want the set field", resp.Status, resp.Header)
				}
			}
		})
	}
}

// TestBinarySetFields: the flags reach the gateway, and a framing field is refused at start.
func TestBinarySetFields(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json",
		"-set-response-header", "Strict-Transport-Security: max-age=63072000", "-set-request-header", "X-Env: prod")
	clear, _ := p.waitServing(1)
	resp, err := http.Get("http://" + clear[0] + "/headers")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Header.Get("Strict-Transport-Security") != "max-age=63072000" || headerLines(b.String())["x-env"] != "prod" {
		t.Errorf("response %v with %q, %v; want the set fields both ways", resp.Header, b.String(), err)
	}
	code, _, stderr := runBinary(t, "-upstream", u.url, "-set-request-header", "Transfer-Encoding: chunked")
	if code != 2 || !strings.Contains(stderr, "-set-request-header") {
		t.Errorf("a framing field: exit %d, %q; want 2 naming the flag", code, stderr)
	}
}
