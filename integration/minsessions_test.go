//go:build unix

package integration

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestMinSessionsSpread: an upstream name with three addresses, each a server of its own, and
// MinSessions 3: requests one after another reach all three, the sessions spread over the
// addresses one each; without MinSessions one server gets them all. Over HTTP/2 (both engines)
// and HTTP/3.
func TestMinSessionsSpread(t *testing.T) {
	for _, k := range []upstreamKind{upstreamKinds[0], engineKinds[3], upstreamKinds[2]} {
		for _, spread := range []bool{true, false} {
			name := k.name + " min 3"
			if !spread {
				name = k.name + " min 0"
			}
			t.Run(name, func(t *testing.T) {
				// One port on three addresses, below the ephemeral range (see freePort).
				addr := freePort(t, k)
				_, port, _ := net.SplitHostPort(addr)
				servers := []*upstream{startUpstreamAt(t, k, addr, demo.Options{}),
					startUpstreamAt(t, k, "127.0.0.2:"+port, demo.Options{}),
					startUpstreamAt(t, k, "127.0.0.3:"+port, demo.Options{})}
				named := &upstream{url: k.scheme() + "localhost:" + port} // the test certificate's name
				cfg := testConfig(named)
				cfg.Pool.H2Engine = k.engine
				cfg.Lookup = func(context.Context, string) ([]netip.Addr, error) {
					return []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}, nil
				}
				if spread {
					cfg.Pool.MinSessions = 3
				}
				f := startGateway(t, cfg)
				c := newClient(t)
				if spread {
					// The first request has the three sessions dialed, one after another.
					get(t, c, f.url(false)+"/bytes/10")
					third := func(log string) bool {
						for line := range strings.Lines(log) {
							if strings.Contains(line, `"sessions":3,`) && strings.Contains(line, `"message":"session up"`) {
								return true
							}
						}
						return false
					}
					if !f.logs.await(rawDeadline, third) {
						t.Fatal("the pool did not bring its third session up")
					}
				}
				const n = 30
				for range n {
					if resp, body := get(t, c, f.url(false)+"/bytes/10"); resp.StatusCode != 200 || len(body) != 10 {
						t.Fatalf("%s with %d bytes, want 200 with 10", resp.Status, len(body))
					}
				}
				var got []int64
				busy := 0
				for _, s := range servers {
					got = append(got, s.Requests())
					if s.Requests() > 0 {
						busy++
					}
					if s.Accepted() > 1 {
						t.Errorf("a server accepted %d connections, want 1 at most", s.Accepted())
					}
				}
				t.Logf("requests per server: %v", got)
				if spread && (busy != 3 || min(got[0], got[1], got[2]) < n/6) {
					t.Errorf("the three servers got %v of %d requests, want each a good share", got, n)
				}
				if !spread && busy != 1 {
					t.Errorf("the three servers got %v of %d requests, want one all", got, n)
				}
			})
		}
	}
}
