//go:build unix

package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestUnixUpstream: an upstream on a Unix domain socket (unix:/path) is reached over h2c by
// each HTTP/2 engine; a request without Host goes with :authority localhost.
func TestUnixUpstream(t *testing.T) {
	for _, engine := range []string{"own", "x/net"} {
		t.Run(engine, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "app.sock")
			s, err := demo.Listen(sock, demo.Options{Unix: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			cfg := testConfig(&upstream{Server: s, url: "unix:" + sock})
			cfg.Pool.H2Engine = engine
			f := startGateway(t, cfg)
			if resp, body := get(t, newClient(t), f.url(false)+"/bytes/6"); resp.StatusCode != http.StatusOK || len(body) != 6 {
				t.Errorf("GET: %s with %d bytes, want 200 with 6", resp.Status, len(body))
			}
			c := dialRaw(t, f.addr, false)
			c.send("GET /headers HTTP/1.0\r\n\r\n")
			resp, body := c.response("GET")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "localhost") {
				t.Errorf("HTTP/1.0 without Host: %s, the upstream saw %q; want the authority localhost", resp.Status, body)
			}
			if s.Accepted() != 1 {
				t.Errorf("the upstream accepted %d connections, want 1", s.Accepted())
			}
		})
	}
}
