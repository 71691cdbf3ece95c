package h2

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
)

// BenchmarkRoundTrip: a GET with a 100-byte response through the Pool,
// per engine, from an in-process x/net http2.Server over loopback h2c;
// allocs/op includes the server's. serial is one request at a time;
// parallel64 keeps 64 in flight on the pool's one session.
func BenchmarkRoundTrip(b *testing.B) {
	body := make([]byte, 100)
	u := startUpstream(b, false, 1000, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write(body)
	}))
	for _, e := range engines {
		b.Run(e.name(), func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				p := newRealPool(b, u, Config{Engine: e})
				b.ReportAllocs()
				for b.Loop() {
					if err := benchGet(p, u); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel64", func(b *testing.B) {
				p := newRealPool(b, u, Config{Engine: e})
				b.ReportAllocs()
				b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := benchGet(p, u); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// benchGet sends one GET and reads its 100-byte body. It may run on any
// goroutine, so it returns its error instead of failing the benchmark.
func benchGet(p *Pool, u upstream) error {
	req, err := http.NewRequestWithContext(context.Background(), "GET", "http://"+u.addr+"/", nil)
	if err != nil {
		return err
	}
	res, err := p.RoundTrip(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if n != 100 || err != nil {
		return fmt.Errorf("read %d bytes (%v), want 100", n, err)
	}
	return nil
}
