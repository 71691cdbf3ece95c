package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestUpstreamClosesConnections: an upstream that drops every connection between requests
// costs the client nothing: the next request goes out on a new session and succeeds.
func TestUpstreamClosesConnections(t *testing.T) {
	const rounds = 10
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			c := dialRaw(t, f.addr, false)
			for i := range rounds {
				path := fmt.Sprintf("/path/round-%d", i)
				c.send("GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
				resp, body := c.response("GET")
				if resp.StatusCode != 200 || body != path {
					t.Fatalf("round %d after the upstream closed its connections: %s %q, want 200 %q", i, resp.Status, body, path)
				}
				u.CloseConns()
			}
			if n := u.Accepted(); n < rounds {
				t.Errorf("upstream accepted %d connections in %d rounds, want one per round", n, rounds)
			}
		})
	}
}

// goAway makes the upstream send GOAWAY(NO_ERROR) on each of its connections, and waits until
// it has.
func goAway(t testing.TB, u *upstream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.GoAway(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamGoAway: a graceful GOAWAY from the upstream is never an error to the client: a
// request in flight on the draining session completes, and later requests use a new session.
func TestUpstreamGoAway(t *testing.T) {
	const rounds = 10
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Run("between requests", func(t *testing.T) {
				u := startUpstream(t, k, demo.Options{})
				f := startGateway(t, testConfig(u))
				c := dialRaw(t, f.addr, false)
				for i := range rounds {
					path := fmt.Sprintf("/path/round-%d", i)
					c.send("GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
					resp, body := c.response("GET")
					if resp.StatusCode != 200 || body != path {
						t.Fatalf("round %d after GOAWAY: %s %q, want 200 %q", i, resp.Status, body, path)
					}
					goAway(t, u)
				}
				// After a GOAWAY the upstream serves no new stream on that connection, so each
				// round needs a session of its own.
				if n := u.Accepted(); n != rounds {
					t.Errorf("upstream accepted %d connections in %d rounds, want one per round", n, rounds)
				}
			})
			t.Run("in flight", func(t *testing.T) {
				b := newBlocker(t)
				u := startUpstream(t, k, demo.Options{Handler: b.handler()})
				f := startGateway(t, testConfig(u))
				defer b.unblock()
				held := dialRaw(t, f.addr, false)
				held.send("GET /block/held HTTP/1.1\r\nHost: example.test\r\n\r\n")
				b.waitEntered(t)
				goAway(t, u)

				other := dialRaw(t, f.addr, false)
				other.send("GET /path/other HTTP/1.1\r\nHost: example.test\r\n\r\n")
				if resp, body := other.response("GET"); resp.StatusCode != 200 || body != "/path/other" {
					t.Errorf("request after GOAWAY: %s %q, want 200 /path/other", resp.Status, body)
				}

				b.unblock()
				if resp, body := held.response("GET"); resp.StatusCode != 200 || body != "released /block/held" {
					t.Errorf("request in flight during GOAWAY: %s %q, want 200 %q", resp.Status, body, "released /block/held")
				}
				if n := u.Accepted(); n != 2 {
					t.Errorf("upstream accepted %d connections, want 2 (the draining one and its successor)", n)
				}
			})
		})
	}
}
