package h3

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"muxgate/internal/pool"
)

// TestH3UpstreamEndsEverySession: an HTTP/3 upstream that sends GOAWAY on every connection as
// soon as it serves it (a server shutting down while its port still answers) gets two
// connections for a request, which fails as for an unreachable upstream, and none more for a
// request right after it, within the back-off.
func TestH3UpstreamEndsEverySession(t *testing.T) {
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u.shutEach.Store(true)
	p := newTestPool(t, u, Config{})
	for i := range 2 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://"+u.addr+"/", nil)
		if _, err := p.RoundTrip(req); !errors.Is(err, pool.ErrUnavailable) {
			t.Errorf("request %d: %v, want ErrUnavailable", i, err)
		}
		if n := u.accepted.Load(); n > 2 {
			t.Errorf("after request %d: %d connections, want 2 at most", i, n)
		}
	}
}
