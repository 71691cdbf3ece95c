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
	"strconv"
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
	readAll(tb, res)
}

// doGetList is doGet with the response head as a list, as the gateway asks for it.
func doGetList(tb testing.TB, c *Conn, req *http.Request) {
	if !c.Reserve() {
		tb.Fatal("no stream")
	}
	st, _, err := c.StartListReserved(req)
	if err != nil {
		tb.Fatal(err)
	}
	res, _, err := st.Await()
	if err != nil {
		tb.Fatal(err)
	}
	if len(st.Fields()) == 0 {
		tb.Fatal("no fields in the list")
	}
	readAll(tb, res)
}

func readAll(tb testing.TB, res *http.Response) {
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

// BenchmarkRoundTripRaw64K is BenchmarkRoundTripRaw with a 64 KiB
// response body, sent as four full-size DATA frames: it measures what
// the client does per body byte.
func BenchmarkRoundTripRaw64K(b *testing.B) {
	addr := startRawBody(b, make([]byte, 64<<10))
	b.Run("serial", func(b *testing.B) {
		c, _ := dialCounting(b, addr, Config{})
		req := newRequest(b, "GET", "http://"+addr+"/big", nil)
		b.ReportAllocs()
		b.SetBytes(64 << 10)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			doGet(b, c, req)
		}
	})
	b.Run("parallel64", func(b *testing.B) {
		// The responder ignores flow control: the connection window must
		// hold 64 responses in flight besides the credit not yet sent.
		c, _ := dialCounting(b, addr, Config{ConnWindow: 16 << 20})
		req := newRequest(b, "GET", "http://"+addr+"/big", nil)
		b.ReportAllocs()
		b.SetBytes(64 << 10)
		b.SetParallelism(64 / max(1, runtimeGOMAXPROCS()))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				doGet(b, c, req)
			}
		})
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
		get  func(testing.TB, *Conn, *http.Request)
		req  *http.Request
		max  float64
	}{
		{"background context", doGet, req, maxAllocsBackground},
		{"cancelable context", doGet, creq, maxAllocsCancelable},
		{"head as a list", doGetList, creq, maxAllocsList},
	} {
		tc.get(t, c, tc.req) // warm the pools
		n := testing.AllocsPerRun(2000, func() { tc.get(t, c, tc.req) })
		t.Logf("%s: %.1f allocs per request", tc.name, n)
		if n > tc.max {
			t.Errorf("%s: %.1f allocs per request, want at most %.0f", tc.name, n, tc.max)
		}
	}
}

// rawResponder is a minimal HTTP/2 server that allocates nothing per
// request: it answers every request HEADERS with one prebuilt response
// (":status 200", a content-length and the body in DATA frames of at
// most 16 KiB; startRaw's body is 100 bytes), batching its writes. It
// understands nothing else, not even flow control, which suffices for
// GETs that fit the client's windows.
type rawResponder struct {
	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex
	nc []net.Conn
}

func startRaw(tb testing.TB) string { return startRawBody(tb, small100) }

func startRawBody(tb testing.TB, body []byte) string {
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
				serveRaw(nc, body)
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

func serveRaw(nc net.Conn, body []byte) {
	var tmpl bytes.Buffer
	enc := hpack.NewEncoder(&tmpl)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
	block := bytes.Clone(tmpl.Bytes())
	var resp bytes.Buffer
	fr := http2.NewFramer(&resp, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true})
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		fr.WriteData(1, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	// The header block adds the content-length to the client's dynamic
	// table each time; repeating it is valid hpack.
	template := resp.Bytes()
	var idAt []int // where each frame of template has its stream ID
	for at := 0; at < len(template); {
		idAt = append(idAt, at+5)
		at += 9 + (int(template[at])<<16 | int(template[at+1])<<8 | int(template[at+2]))
	}

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
			for _, at := range idAt {
				binary.BigEndian.PutUint32(out[n+at:], id)
			}
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
// values), the header map (two) and some hpack-decoded strings; the HEADERS
// frame, which the framer allocated, the reader parses in place
// (headersframe.go). A cancelable context adds nothing: the connection's
// watch polls it (watch.go). The head as a list (StartListReserved) costs
// nothing for the header map's two: the stream holds the list's array.
const (
	maxAllocsBackground = 4
	maxAllocsCancelable = 4
	maxAllocsList       = 2
)

// BenchmarkRequestHead measures the client's per-request header work
// alone: checking a proxied request's head and encoding it.
func BenchmarkRequestHead(b *testing.B) {
	c := &Conn{enc: newEncoder()}
	req := proxiedRequest(b, "http://example.com/small?q=1")
	b.ReportAllocs()
	for b.Loop() {
		var inline [inlineFields]field
		h, sent, err := prepareHead(req, nil, 1<<20, inline[:0])
		if err != nil {
			b.Fatal(err)
		}
		h.encode(c, sent)
	}
}

// BenchmarkReadData measures the reader's DATA path alone: one 16 KiB
// DATA frame per op, from memory into a stream's buffer, which is then
// dropped. The read buffer holds two frames but not a third, so most
// frames arrive in two pieces, as they do from the network.
func BenchmarkReadData(b *testing.B) {
	for _, tc := range []struct {
		name string
		pad  []byte
	}{{"plain", nil}, {"padded", make([]byte, 100)}} {
		b.Run(tc.name, func(b *testing.B) {
			var frames bytes.Buffer
			fr := http2.NewFramer(&frames, nil)
			fr.WriteDataPadded(1, false, make([]byte, 16<<10-1-len(tc.pad)), tc.pad)
			c, s := readingConn(&loopReader{b: frames.Bytes()})
			b.ReportAllocs()
			b.SetBytes(16 << 10)
			for b.Loop() {
				if err := c.readNext(); err != nil {
					b.Fatal(err)
				}
				c.recvWindow, s.recvWindow = maxWindow, maxWindow
				s.buf.release()
			}
		})
	}
}

// readingConn is a Conn reduced to its reader, on r, with stream 1 open
// and its response head received.
func readingConn(r io.Reader) (*Conn, *stream) {
	c := &Conn{
		cfg:         Config{}.withDefaults(),
		wake:        make(chan struct{}, 1),
		recvWindow:  maxWindow,
		lastID:      1,
		gotSettings: true,
	}
	c.br = newInbuf(r)
	c.rfr = http2.NewFramer(nil, c.br)
	c.rfr.SetReuseFrames()
	c.rfr.SetMaxReadFrameSize(defaultMaxFrame)
	s := &stream{c: c, id: 1, opened: true, gotHead: true, clen: -1, recvWindow: maxWindow}
	c.streams.add(s)
	return c, s
}

// loopReader reads b over and over, as much as fits each Read.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		n += k
		r.off = (r.off + k) % len(r.b)
	}
	return n, nil
}

// BenchmarkState: a pool calls State for every session at every pick,
// from many goroutines at once, while GETs keep the reader busy.
func BenchmarkState(b *testing.B) {
	addr := startRaw(b)
	c, _ := dialCounting(b, addr, Config{})
	req := newRequest(b, "GET", "http://"+addr+"/small", nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				doGet(b, c, req)
			}
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.State().Closed {
				b.Error("connection closed")
			}
		}
	})
	b.StopTimer()
	close(stop)
	wg.Wait()
}
