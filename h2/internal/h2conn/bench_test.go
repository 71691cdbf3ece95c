package h2conn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// countConn counts the client's writes, to report how well the writer
// batches.
type countConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func dialCounting(tb testing.TB, addr string, cfg Config) (*Conn, *countConn) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	cc := &countConn{Conn: nc}
	c, err := New(context.Background(), cc, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, cc
}

func doGet(tb testing.TB, c *Conn, req *http.Request) {
	res, _, err := c.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
}

// BenchmarkRoundTrip: GET with a 100-byte response from an in-process
// x/net http2.Server over loopback. allocs/op includes the server's.
func BenchmarkRoundTrip(b *testing.B) {
	s := startServer(b, &http2.Server{MaxConcurrentStreams: 1000}, testHandler())
	b.Run("serial", func(b *testing.B) {
		c, cc := dialCounting(b, s.addr(), Config{})
		req := newRequest(b, "GET", "http://"+s.addr()+"/small", nil)
		b.ReportAllocs()
		b.ResetTimer()
		start := cc.writes.Load()
		for i := 0; i < b.N; i++ {
			doGet(b, c, req)
		}
		b.ReportMetric(float64(cc.writes.Load()-start)/float64(b.N), "writes/op")
	})
	b.Run("parallel64", func(b *testing.B) {
		c, cc := dialCounting(b, s.addr(), Config{})
		req := newRequest(b, "GET", "http://"+s.addr()+"/small", nil)
		b.ReportAllocs()
		b.SetParallelism(64 / max(1, runtimeGOMAXPROCS()))
		b.ResetTimer()
		start := cc.writes.Load()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				doGet(b, c, req)
			}
		})
		b.ReportMetric(float64(cc.writes.Load()-start)/float64(b.N), "writes/op")
	})
}

// BenchmarkRoundTripXNet is the same GET through x/net's own
// http2.ClientConn, for comparison.
func BenchmarkRoundTripXNet(b *testing.B) {
	s := startServer(b, &http2.Server{MaxConcurrentStreams: 1000}, testHandler())
	nc, err := net.Dial("tcp", s.addr())
	if err != nil {
		b.Fatal(err)
	}
	tr := &http2.Transport{AllowHTTP: true, DisableCompression: true}
	cc, err := tr.NewClientConn(nc)
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	req := newRequest(b, "GET", "http://"+s.addr()+"/small", nil)
	b.ReportAllocs()
	b.SetParallelism(64 / max(1, runtimeGOMAXPROCS()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := cc.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

// BenchmarkRoundTripRaw measures the client alone: the peer is a
// responder that allocates nothing per request (see rawResponder).
func BenchmarkRoundTripRaw(b *testing.B) {
	addr := startRaw(b)
	b.Run("serial", func(b *testing.B) {
		c, cc := dialCounting(b, addr, Config{})
		req := newRequest(b, "GET", "http://"+addr+"/small", nil)
		b.ReportAllocs()
		b.ResetTimer()
		start := cc.writes.Load()
		for i := 0; i < b.N; i++ {
			doGet(b, c, req)
		}
		b.ReportMetric(float64(cc.writes.Load()-start)/float64(b.N), "writes/op")
	})
	b.Run("headers", func(b *testing.B) {
		c, _ := dialCounting(b, addr, Config{})
		req := proxiedRequest(b, "http://"+addr+"/small")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			doGet(b, c, req)
		}
	})
	b.Run("parallel64", func(b *testing.B) {
		c, cc := dialCounting(b, addr, Config{})
		req := newRequest(b, "GET", "http://"+addr+"/small", nil)
		b.ReportAllocs()
		b.SetParallelism(64 / max(1, runtimeGOMAXPROCS()))
		b.ResetTimer()
		start := cc.writes.Load()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				doGet(b, c, req)
			}
		})
		b.ReportMetric(float64(cc.writes.Load()-start)/float64(b.N), "writes/op")
	})
}

// proxiedRequest is a GET with the fields a browser's request carries
// through the gateway.
func proxiedRequest(tb testing.TB, url string) *http.Request {
	req := newRequest(tb, "GET", url, nil)
	for k, v := range map[string]string{
		"User-Agent":        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Accept":            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Accept-Encoding":   "gzip, deflate, br",
		"Accept-Language":   "en-US,en;q=0.5",
		"Cookie":            "session=0123456789abcdef",
		"X-Forwarded-For":   "192.0.2.1",
		"X-Forwarded-Proto": "https",
		"X-Request-Id":      "4bf92f3577b34da6a3ce929d0e0e4736",
		"Via":               "1.1 muxgate",
		"Connection":        "keep-alive",
	} {
		req.Header.Set(k, v)
	}
	return req
}

// TestRoundTripAllocs pins the client's allocations per request: a GET
// with a 100-byte response, read to EOF and closed.
func TestRoundTripAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a normal build")
	}
	addr := startRaw(t)
	c, _ := dialCounting(t, addr, Config{})
	req := newRequest(t, "GET", "http://"+addr+"/small", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	creq := req.WithContext(ctx)
	for _, tc := range []struct {
		name string
		req  *http.Request
		max  float64
	}{
		{"background context", req, maxAllocsBackground},
		{"cancelable context", creq, maxAllocsCancelable},
	} {
		doGet(t, c, tc.req) // warm the pools
		n := testing.AllocsPerRun(2000, func() { doGet(t, c, tc.req) })
		t.Logf("%s: %.1f allocs per request", tc.name, n)
		if n > tc.max {
			t.Errorf("%s: %.1f allocs per request, want at most %.0f", tc.name, n, tc.max)
		}
	}
}

// rawResponder is a minimal HTTP/2 server that allocates nothing per
// request: it answers every request HEADERS with one prebuilt response
// (":status 200", "content-length: 100", 100 bytes of DATA), batching its
// writes. It understands nothing else, which suffices for GETs.
type rawResponder struct {
	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex
	nc []net.Conn
}

func startRaw(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &rawResponder{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.nc = append(r.nc, nc)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer nc.Close()
				serveRaw(nc)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, nc := range r.nc {
			nc.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return ln.Addr().String()
}

func serveRaw(nc net.Conn) {
	var tmpl bytes.Buffer
	enc := hpack.NewEncoder(&tmpl)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "100"})
	block := bytes.Clone(tmpl.Bytes())
	var resp bytes.Buffer
	fr := http2.NewFramer(&resp, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true})
	fr.WriteData(1, true, small100)
	// The header block adds "content-length: 100" to the client's dynamic
	// table each time; repeating it is valid hpack.
	template := resp.Bytes()
	headersLen := 9 + len(block)

	br := bufio.NewReaderSize(nc, 64<<10)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil {
		return
	}
	out := make([]byte, 0, 64<<10)
	out = append(out, 0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0)
	var hdr [9]byte
	var payload [64]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := http2.FrameType(hdr[3]), http2.Flags(hdr[4])
		id := binary.BigEndian.Uint32(hdr[5:]) & (1<<31 - 1)
		switch {
		case typ == http2.FramePing && !flags.Has(http2.FlagPingAck) && length == 8:
			if _, err := io.ReadFull(br, payload[:8]); err != nil {
				return
			}
			out = append(out, 0, 0, 8, byte(http2.FramePing), byte(http2.FlagPingAck), 0, 0, 0, 0)
			out = append(out, payload[:8]...)
			length = 0
		case typ == http2.FrameSettings && !flags.Has(http2.FlagSettingsAck):
			out = append(out, 0, 0, 0, byte(http2.FrameSettings), byte(http2.FlagSettingsAck), 0, 0, 0, 0)
		case typ == http2.FrameHeaders && flags.Has(http2.FlagHeadersEndStream):
			n := len(out)
			out = append(out, template...)
			binary.BigEndian.PutUint32(out[n+5:], id)
			binary.BigEndian.PutUint32(out[n+headersLen+5:], id)
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if br.Buffered() == 0 && len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }

// Allocation budgets per request, pinned from measurements (see
// TestRoundTripAllocs). With a Background context a GET costs: the stream
// (which is also the Response, its Body and the array of its header
// values), the HEADERS frame the framer parses, the header map (two) and
// some hpack-decoded strings. A cancelable context adds nothing: the
// connection's watch polls it (watch.go).
const (
	maxAllocsBackground = 5
	maxAllocsCancelable = 5
)

// BenchmarkRequestHead measures the client's per-request header work
// alone: checking a proxied request's head and encoding it.
func BenchmarkRequestHead(b *testing.B) {
	c := &Conn{}
	c.enc = hpack.NewEncoder(&c.hbuf)
	req := proxiedRequest(b, "http://example.com/small?q=1")
	b.ReportAllocs()
	for b.Loop() {
		var inline [inlineFields]field
		h, sent, err := prepareHead(req, 1<<20, inline[:0])
		if err != nil {
			b.Fatal(err)
		}
		h.encode(c, sent)
	}
}
