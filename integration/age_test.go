//go:build unix

package integration

import (
	"net/http"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestSessionAge: with a session age, the gateway keeps dialing the upstream anew as its
// sessions age, and a client's requests meanwhile all succeed, each kind of upstream session
// alike.
func TestSessionAge(t *testing.T) {
	const age = 200 * time.Millisecond
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.Pool.MaxSessionAge = age
			f := startGateway(t, cfg)
			c := newClient(t)
			deadline := time.Now().Add(20 * age)
			n := 0
			for ; u.Accepted() < 3 && n < 5000 && time.Now().Before(deadline); n++ {
				if resp, body := get(t, c, f.url(false)+"/bytes/10"); resp.StatusCode != http.StatusOK || len(body) != 10 {
					t.Fatalf("request %d: %s with %d bytes", n, resp.Status, len(body))
				}
			}
			if got := u.Accepted(); got < 3 {
				t.Errorf("the upstream accepted %d connections in %d requests over %v, want 3 (a session age of %v)", got, n, 20*age, age)
			}
		})
	}
}
