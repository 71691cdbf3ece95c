//go:build unix

package integration

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// TestRequestID: with a request ID field set, each request reaches the upstream with a fresh ID
// in it, the client's own value replaced, and the access log gives the same ID; over every
// upstream kind and engine.
func TestRequestID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.RequestIDHeader = "X-Request-Id"
			access := &logBuffer{}
			cfg.AccessLog = zerolog.New(access)
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			var ids []string
			for range 2 {
				c.send("GET /headers HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\n\r\n")
				resp, body := c.response("GET")
				id := headerLines(body)["x-request-id"]
				if resp.StatusCode != 200 || !hex32.MatchString(id) {
					t.Fatalf("got %d, x-request-id %q; want 200 and 32 hex digits in place of mine\n%s", resp.StatusCode, id, body)
				}
				ids = append(ids, id)
			}
			if ids[0] == ids[1] {
				t.Errorf("two requests got the same ID %s", ids[0])
			}
			for _, id := range ids {
				if !strings.Contains(access.String(), `"request_id":"`+id+`"`) {
					t.Errorf("the access log has no request_id %s:\n%s", id, access.String())
				}
			}
		})
	}
}
