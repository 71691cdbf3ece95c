//go:build unix

package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestSpareSessionsClose: the three sessions a burst of 21 held requests needs (10 streams
// each) are closed once the burst is over, one per SessionIdleTimeout, each with a GOAWAY, down
// to one, which serves the requests that follow; no request fails.
func TestSpareSessionsClose(t *testing.T) {
	const streams = 10
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			b := newBlocker(t)
			u := startUpstream(t, k, demo.Options{Handler: b.handler(), MaxConcurrentStreams: streams})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.Pool.SessionIdleTimeout = 100 * time.Millisecond
			if k.h3 {
				cfg.Pool.MaxStreamsPerSession = streams // see TestPoolGrowth
			}
			f := startGateway(t, cfg)
			c := newClient(t)

			const total = 2*streams + 1
			results := make(chan string, total)
			for i := range total {
				path := fmt.Sprintf("/block/%d", i)
				getAsync(c, f.url(false), path, results)
				b.waitEntered(t)
			}
			if n := u.Open(); n != 3 {
				t.Fatalf("with %d requests held, %d upstream connections open, want 3", total, n)
			}
			b.unblock()
			expectOK(t, results, total)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := u.WaitOpen(ctx, 1); err != nil {
				t.Fatalf("after the burst: %v", err)
			}
			for i := range 20 {
				if resp, body := get(t, c, f.url(false)+"/bytes/10"); resp.StatusCode != http.StatusOK || len(body) != 10 {
					t.Fatalf("request %d after the burst: %s with %d bytes", i, resp.Status, len(body))
				}
			}
			if n, open := u.Accepted(), u.Open(); n != 3 || open != 1 {
				t.Errorf("upstream accepted %d connections, %d open; want 3 and 1", n, open)
			}
			if n := strings.Count(f.logs.String(), `"reason":"spare"`); n != 2 {
				t.Errorf("%d sessions dropped as spare in the log, want 2", n)
			}
		})
	}
}
