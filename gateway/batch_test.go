package gateway

import (
	"context"
	"testing"
)

// TestStartsPipelined: the proxy starts pipelined requests itself over muxgate's own HTTP/2
// session only; over x/net's session and HTTP/3 each runs as a handler of its own.
func TestStartsPipelined(t *testing.T) {
	for _, tc := range []struct {
		upstream, engine string
		want             bool
	}{
		{"h2c://127.0.0.1:9", "", true},
		{"h2c://127.0.0.1:9", "own", true},
		{"h2c://127.0.0.1:9", "x/net", false},
		{"h3://127.0.0.1:9", "", false},
	} {
		g, err := New(Config{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, Upstream: tc.upstream, Pool: PoolConfig{H2Engine: tc.engine}})
		if err != nil {
			t.Fatalf("%s %q: %v", tc.upstream, tc.engine, err)
		}
		p := &proxy{routes: g.routes}
		if got := p.StartsPipelined(); got != tc.want {
			t.Errorf("%s engine %q: StartsPipelined %v, want %v", tc.upstream, tc.engine, got, tc.want)
		}
		g.closeListeners()
		g.routes.shutdown(context.Background())
	}
}
