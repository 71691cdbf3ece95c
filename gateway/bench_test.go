package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"muxgate/internal/demo"
)

// BenchmarkProxyGET measures one proxied GET of a 100-byte body over kept-alive HTTP/1.1
// connections, through an h2c session to the demo upstream, all on loopback in this process.
// Profile it with -cpuprofile to see where the gateway's time goes; speed comparisons with
// other proxies belong to integration/bench.
func BenchmarkProxyGET(b *testing.B) {
	up, err := demo.Listen("127.0.0.1:0", demo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	g, err := New(Config{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, Upstream: "h2c://" + up.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	addr := g.Addrs()[0].String()
	req := []byte("GET /bytes/100 HTTP/1.1\r\nHost: bench\r\n\r\n")

	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != 100 {
				b.Errorf("got status %d with %d bytes, want 200 with 100", resp.StatusCode, n)
				return
			}
		}
	})
}
