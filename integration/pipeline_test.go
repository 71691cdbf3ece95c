//go:build unix

package integration

import (
	"fmt"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestPipelining: requests written back to back in one write are answered in order, with the
// right bodies, whatever their methods.
func TestPipelining(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			for _, useTLS := range []bool{false, true} {
				addr := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
				t.Run(map[bool]string{false: "clear", true: "tls"}[useTLS], func(t *testing.T) {
					t.Run("get", func(t *testing.T) {
						c := dialRaw(t, addr, useTLS)
						var b strings.Builder
						for i := 1; i <= 10; i++ {
							fmt.Fprintf(&b, "GET /path/%d HTTP/1.1\r\nHost: example.test\r\n\r\n", i)
						}
						c.send(b.String())
						for i := 1; i <= 10; i++ {
							resp, body := c.response("GET")
							want := fmt.Sprintf("/path/%d", i)
							if resp.StatusCode != 200 || body != want {
								t.Fatalf("response %d: status %d body %q, want 200 %q", i, resp.StatusCode, body, want)
							}
						}
					})
					t.Run("mixed", func(t *testing.T) {
						c := dialRaw(t, addr, useTLS)
						type step struct {
							method, path, req string
							status            int
							body              string
						}
						large := pattern(100 << 10) // bigger than one stream window of most peers
						steps := []step{
							{method: "GET", path: "/path/1", body: "/path/1"},
							{method: "HEAD", path: "/bytes/5000", body: ""},
							{method: "POST", path: "/echo", req: "posted body", body: "posted body"},
							{method: "GET", path: "/bytes/102400", body: large},
							{method: "GET", path: "/stream/40000", body: pattern(40000)},
							{method: "POST", path: "/echo", req: "", body: ""},
							{method: "GET", path: "/status/404", status: 404},
							{method: "HEAD", path: "/path/head", body: ""},
							{method: "GET", path: "/path/last", body: "/path/last"},
						}
						var b strings.Builder
						for _, s := range steps {
							fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: example.test\r\n", s.method, s.path)
							if s.method == "POST" {
								fmt.Fprintf(&b, "Content-Length: %d\r\n", len(s.req))
							}
							b.WriteString("\r\n" + s.req)
						}
						c.send(b.String())
						for i, s := range steps {
							resp, body := c.response(s.method)
							status := s.status
							if status == 0 {
								status = 200
							}
							if resp.StatusCode != status {
								t.Fatalf("response %d (%s %s): status %d, want %d", i+1, s.method, s.path, resp.StatusCode, status)
							}
							if status == 200 && body != s.body {
								t.Fatalf("response %d (%s %s): body of %d bytes %.40q, want %d bytes %.40q", i+1, s.method, s.path, len(body), body, len(s.body), s.body)
							}
							if s.method == "HEAD" && s.path == "/bytes/5000" && resp.ContentLength != 5000 {
								t.Errorf("response %d (HEAD /bytes/5000): Content-Length %d, want 5000", i+1, resp.ContentLength)
							}
						}
					})
				})
			}
		})
	}
}
