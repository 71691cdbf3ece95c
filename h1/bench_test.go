package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// h2loadGET is what h2load 1.52 sends for each request of an HTTP/1.1 run, byte for byte: its
// field names after Host are in lower case, as HTTP/2 clients write them.
const h2loadGET = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nuser-agent: h2load nghttp2/1.52.0\r\n\r\n"

// curlGET is a request with canonical field names, as curl and browsers send them.
const curlGET = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n"

func BenchmarkParseHead(b *testing.B) {
	b.Run("h2load", func(b *testing.B) { benchmarkParseHead(b, h2loadGET) })
	b.Run("curl", func(b *testing.B) { benchmarkParseHead(b, curlGET) })
}

func benchmarkParseHead(b *testing.B, req string) {
	src := strings.NewReader(req)
	br := bufio.NewReaderSize(src, bufferSize)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(req)
		br.Reset(src)
		raw, err := readHead(br, buf, defaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		buf = raw[:0]
		var h head
		if err := parseHead(&h, string(raw)); err != nil {
			b.Fatal(err)
		}
	}
}

// hundredBytes answers every request with 100 bytes of text, as the benchmark's upstream does.
var hundredBytes = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "100")
	io.WriteString(w, hundred)
})

var hundred = strings.Repeat("x", 100)

// benchClient serves hundredBytes on a loopback listener until the benchmark ends, and returns
// a client connected to it.
func benchClient(b *testing.B) *client {
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{}, hundredBytes)
	go s.Serve(ln)
	b.Cleanup(func() { s.Close() })
	c := dial(b, ln.Addr().String())
	c.conn.SetDeadline(noDeadline)
	return c
}

// BenchmarkKeepAlive measures one request and response on a kept-alive loopback connection,
// client included.
func BenchmarkKeepAlive(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	for b.Loop() {
		c.send(h2loadGET)
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
	}
}

// BenchmarkPipelined measures eight GETs sent at once on a kept-alive loopback connection
// (h2load -m 8), and their eight responses, client included; ns/op and allocs/op are per request.
func BenchmarkPipelined(b *testing.B) {
	const depth = 8
	c := benchClient(b)
	batch := strings.Repeat(h2loadGET, depth)
	b.ReportAllocs()
	for i := 0; i < b.N; i += depth {
		c.send(batch)
		for range depth {
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		}
	}
}

// TestParseHeadAllocs pins the parser's allocations for a typical request: the head's string,
// the header map and its group of slots, and the head, whose array backs the values (in a
// server, the head lives in the response).
func TestParseHeadAllocs(t *testing.T) {
	src := strings.NewReader(h2loadGET)
	br := bufio.NewReaderSize(src, bufferSize)
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(h2loadGET)
		br.Reset(src)
		raw, err := readHead(br, buf, defaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		var h head
		if err := parseHead(&h, string(raw)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("got %.0f allocations per head, want at most 4", allocs)
	}
}

// TestServeAllocs pins the server's allocations per kept-alive request whose handler only writes
// a body (4.14 when this was written: the head's string, the request's header map, its context
// (reqContext; the standard library's context and cancel func took two, 5.15 in all), the
// response's header map), and the bytes they take. The response, which holds the request and the
// head, is recycled: without that, 6.16 allocations and 2,033 bytes.
func TestServeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	const requests = 100
	s := New(Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	s.clock.set(time.Now())
	serve := func() {
		s.slots <- struct{}{}
		c := newConn(s, &memConn{in: h2loadGET, left: requests})
		if !s.addConn(c) {
			t.Fatal("connection refused")
		}
		c.serve()
	}
	allocs := testing.AllocsPerRun(10, serve) / requests
	if allocs > 4.5 {
		t.Errorf("got %.2f allocations per request, want at most 4 (and a few per connection)", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		serve()
	}
	runtime.ReadMemStats(&after)
	if bytes := (after.TotalAlloc - before.TotalAlloc) / (10 * requests); bytes > 1200 {
		t.Errorf("got %d bytes allocated per request, want at most 1200", bytes)
	}
}

// BenchmarkServe measures the server alone: one connection's serve loop over an in-memory conn
// that delivers one request per read, as a kept-alive client does, and drops the responses.
func BenchmarkServe(b *testing.B) { benchmarkServe(b, 1) }

// BenchmarkServePipelined is BenchmarkServe with eight requests per read (h2load -m 8); ns/op
// and allocs/op are per request.
func BenchmarkServePipelined(b *testing.B) { benchmarkServe(b, 8) }

func benchmarkServe(b *testing.B, batch int) {
	s := New(Config{}, hundredBytes)
	s.clock.set(time.Now()) // as the watch goroutine of a serving Server does
	rwc := &memConn{in: strings.Repeat(h2loadGET, batch), left: (b.N + batch - 1) / batch}
	b.ReportAllocs()
	b.ResetTimer()
	s.slots <- struct{}{}
	c := newConn(s, rwc)
	if !s.addConn(c) {
		b.Fatal("connection refused")
	}
	c.serve()
}

// memConn is a net.Conn that reads in, left times over, then io.EOF, and drops what is written.
// Deadlines are ignored: nothing blocks.
type memConn struct {
	in   string
	left int
	off  int
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.off == len(m.in) {
		if m.left == 0 {
			return 0, io.EOF
		}
		m.left--
		m.off = 0
	}
	n := copy(p, m.in[m.off:])
	m.off += n
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

// TestServeCloseAllocs pins what a connection that sends one request and asks to close
// allocates (14 and 1,560 bytes when this was written: the connection, its head, the request's
// context and header map, ...): its response goes back to the pool as a kept-alive one does,
// rather than to the garbage collector (15 and 3,096 bytes).
func TestServeCloseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	const closeGET = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
	s := New(Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	s.clock.set(time.Now())
	serve := func() {
		s.slots <- struct{}{}
		c := newConn(s, &memConn{in: closeGET})
		if !s.addConn(c) {
			t.Fatal("connection refused")
		}
		c.serve()
	}
	serve() // fills the pools
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const conns = 100
	for range conns {
		serve()
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / conns
	bytes := (after.TotalAlloc - before.TotalAlloc) / conns
	t.Logf("%.2f allocations, %d bytes per connection", allocs, bytes)
	if allocs > 14.5 || bytes > 2048 {
		t.Errorf("got %.2f allocations and %d bytes per connection, want at most 14 and 2048", allocs, bytes)
	}
}
