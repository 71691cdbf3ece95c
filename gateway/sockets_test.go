package gateway

import (
	"context"
	"errors"
	"net"
	"testing"
)

// TestListenHook: New takes the sockets that Config.Listen gives, binds those it does not, and
// lists them all, in order, with their roles; a failure of the hook fails New, which closes what
// it had opened.
func TestListenHook(t *testing.T) {
	given, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer given.Close()
	var asked []string
	cfg := Config{
		Listeners:   []Listener{{Addr: "127.0.0.1:0"}, {Addr: "127.0.0.1:0"}},
		Upstream:    "h2c://127.0.0.1:1",
		MetricsAddr: "127.0.0.1:0",
		Listen: func(role, addr string) (net.Listener, error) {
			asked = append(asked, role+" "+addr)
			if len(asked) == 1 {
				return given, nil
			}
			return nil, nil
		},
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.routes.shutdown(context.Background())
	defer g.closeListeners()
	if want := []string{"client 127.0.0.1:0", "client 127.0.0.1:0", "metrics 127.0.0.1:0"}; len(asked) != 3 ||
		asked[0] != want[0] || asked[1] != want[1] || asked[2] != want[2] {
		t.Errorf("Listen was asked for %q, want %q", asked, want)
	}
	socks := g.Sockets()
	if len(socks) != 3 || socks[0].Listener != given || socks[0].Role != RoleClient ||
		socks[1].Role != RoleClient || socks[2].Role != RoleMetrics || socks[2].Listener.Addr() != g.MetricsAddr() {
		t.Fatalf("Sockets() = %+v, want the given listener, a bound client listener, then the metrics listener", socks)
	}
	if g.Addrs()[0].String() != given.Addr().String() || g.Addrs()[1].String() == given.Addr().String() {
		t.Errorf("Addrs() = %v, want the given socket's %v first and another", g.Addrs(), given.Addr())
	}

	refused := errors.New("refused")
	cfg.Listen = func(role, addr string) (net.Listener, error) {
		if role == RoleMetrics {
			return nil, refused
		}
		return nil, nil
	}
	if g2, err := New(cfg); !errors.Is(err, refused) {
		if g2 != nil {
			g2.closeListeners()
		}
		t.Fatalf("New with a failing Listen: %v, want its error", err)
	}
}
