package h2conn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
)

// h2cServer is a real x/net HTTP/2 server speaking h2c with prior
// knowledge on a 127.0.0.1 port.
type h2cServer struct {
	ln    net.Listener
	srv   *http2.Server
	h     http.Handler
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startServer(tb testing.TB, srv *http2.Server, h http.Handler) *h2cServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if srv == nil {
		srv = &http2.Server{}
	}
	s := &h2cServer{ln: ln, srv: srv, h: h, conns: make(map[net.Conn]bool)}
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(s.close)
	return s
}

func (s *h2cServer) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[nc] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.srv.ServeConn(nc, &http2.ServeConnOpts{Handler: s.h})
			nc.Close()
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

func (s *h2cServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *h2cServer) addr() string { return s.ln.Addr().String() }

func (s *h2cServer) dial(tb testing.TB, cfg Config) *Conn {
	tb.Helper()
	nc, err := net.Dial("tcp", s.addr())
	if err != nil {
		tb.Fatal(err)
	}
	c, err := New(context.Background(), nc, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// testHandler serves the paths the tests and the benchmark use.
func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, "+r.Method+" "+r.URL.RequestURI())
	})
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write(small100)
	})
	// /echo answers with the request's method, X- headers, body and
	// trailers (as response trailers), and the body's SHA-256.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		for k, vv := range r.Header {
			if strings.HasPrefix(k, "X-") {
				w.Header()[k] = vv
			}
		}
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("Trailer", "X-Body-Sha256")
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), r.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("X-Body-Sha256", fmt.Sprintf("%x", h.Sum(nil)))
		for k, vv := range r.Trailer {
			w.Header()[http.TrailerPrefix+"Req-"+k] = vv
		}
		_ = n
	})
	// /sum reads the whole body first and answers with its length and hash.
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	// /big?n=N sends N pattern bytes.
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		if r.Method == http.MethodHead {
			return
		}
		writePattern(w, n)
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.Header().Set("X-Code", strconv.Itoa(code))
		w.WriteHeader(code)
		if code != http.StatusNoContent && code != http.StatusNotModified {
			io.WriteString(w, "status body")
		}
	})
	mux.HandleFunc("/trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Declared")
		w.WriteHeader(200)
		io.WriteString(w, "body before trailers")
		w.Header().Set("X-Declared", "d1")
		w.Header().Set(http.TrailerPrefix+"X-Undeclared", "u1")
	})
	mux.HandleFunc("/multi", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "multi")
	})
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "after early hints")
	})
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	return mux
}

var small100 = bytes.Repeat([]byte("0123456789"), 10)

func writePattern(w io.Writer, n int) {
	var buf [32 << 10]byte
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for n > 0 {
		k := min(n, len(buf))
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		n -= k
	}
}

// patternReader yields the bytes writePattern writes.
type patternReader struct {
	n, off int
	reads  atomic.Int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.off, 32<<10-(r.off%(32<<10)))
	for i := 0; i < k; i++ {
		p[i] = byte((r.off + i) % (32 << 10) * 7)
	}
	r.off += k
	r.reads.Add(1)
	return k, nil
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func newRequest(tb testing.TB, method, url string, body io.Reader) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

func TestServerGet(t *testing.T) {
	s := startServer(t, nil, testHandler())
	c := s.dial(t, Config{})
	res, id, err := c.RoundTrip(newRequest(t, "GET", "http://"+s.addr()+"/hello?x=1", nil))
	if err != nil {
		t.Fatal(err)
	}
	if id != 1 {
		t.Errorf("stream ID = %d, want 1", id)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "hello, GET /hello?x=1"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if res.StatusCode != 200 || res.Proto != "HTTP/2.0" || res.ProtoMajor != 2 || res.Status != "200 OK" {
		t.Errorf("status = %d %q %s, want 200 %q HTTP/2.0", res.StatusCode, res.Status, res.Proto, "200 OK")
	}
	if got := res.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", got)
	}
	if res.ContentLength != int64(len(b)) {
		t.Errorf("ContentLength = %d, want %d", res.ContentLength, len(b))
	}
	st := c.State()
	if st.Active != 0 || st.Reserved != 0 || st.Closed || st.Draining || st.MaxStreams != 250 {
		t.Errorf("State = %+v, want an idle open conn with MaxStreams 250 (x/net's default)", st)
	}
	_, id, err = c.RoundTrip(newRequest(t, "GET", "http://"+s.addr()+"/small", nil))
	if err != nil || id != 3 {
		t.Errorf("second RoundTrip: id %d, err %v; want 3, nil", id, err)
	}
}

// TestServerLargeBodies posts a 10 MiB streamed body and reads a 10 MiB
// response slowly, with windows far below the sizes.
func TestServerLargeBodies(t *testing.T) {
	s := startServer(t, nil, testHandler())
	c := s.dial(t, Config{StreamWindow: 64 << 10, ConnWindow: 128 << 10})
	const n = 10 << 20

	t.Run("post", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			writePattern(pw, n)
			pw.Close()
		}()
		req := newRequest(t, "POST", "http://"+s.addr()+"/sum", pr)
		res, _, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		writePattern(&want, n)
		if got, w := string(b), fmt.Sprintf("%d %s", n, sha(want.Bytes())); got != w {
			t.Errorf("server saw %q, want %q", got, w)
		}
	})

	t.Run("large frames", func(t *testing.T) {
		// The server sends DATA frames as large as its writes (32 KiB),
		// larger than the read buffer: each arrives in two pieces at
		// least.
		c := s.dial(t, Config{StreamWindow: 256 << 10, ConnWindow: 1 << 20, MaxFrameSize: 1 << 20})
		res, _, err := c.RoundTrip(newRequest(t, "GET", "http://"+s.addr()+"/big?n="+strconv.Itoa(n), nil))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		var want bytes.Buffer
		writePattern(&want, n)
		if err != nil || !bytes.Equal(b, want.Bytes()) {
			t.Errorf("body: %d bytes, %v; want the %d pattern bytes", len(b), err, n)
		}
	})

	t.Run("slow read", func(t *testing.T) {
		res, _, err := c.RoundTrip(newRequest(t, "GET", "http://"+s.addr()+"/big?n="+strconv.Itoa(n), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		h := sha256.New()
		buf := make([]byte, 1000) // small reads: many credits, few updates
		total := 0
		for {
			k, err := res.Body.Read(buf)
			h.Write(buf[:k])
			total += k
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var want bytes.Buffer
		writePattern(&want, n)
		if total != n || fmt.Sprintf("%x", h.Sum(nil)) != sha(want.Bytes()) {
			t.Errorf("read %d bytes (hash match %v), want %d", total, fmt.Sprintf("%x", h.Sum(nil)) == sha(want.Bytes()), n)
		}
	})
}

// TestServerConcurrent sends 200 requests at once on one connection to a
// server that allows 250 streams.
func TestServerConcurrent(t *testing.T) {
	s := startServer(t, &http2.Server{MaxConcurrentStreams: 250}, testHandler())
	c := s.dial(t, Config{})
	if got := c.State().MaxStreams; got != 250 {
		t.Fatalf("MaxStreams = %d, want 250", got)
	}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan uint32, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body io.Reader
			method := "GET"
			if i%4 == 0 {
				method, body = "POST", strings.NewReader(strings.Repeat("x", i*100))
			}
			req := newRequest(t, method, "http://"+s.addr()+"/echo", body)
			req.Header.Set("X-I", strconv.Itoa(i))
			res, id, err := c.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			ids <- id
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				errs <- err
				return
			}
			if got := res.Header.Get("X-I"); got != strconv.Itoa(i) {
				errs <- fmt.Errorf("request %d got X-I %q", i, got)
			}
			if method == "POST" && len(b) != i*100 {
				errs <- fmt.Errorf("request %d echoed %d bytes, want %d", i, len(b), i*100)
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	seen := map[uint32]bool{}
	for id := range ids {
		if id%2 != 1 || seen[id] {
			t.Errorf("bad or repeated stream ID %d", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct stream IDs, want %d", len(seen), n)
	}
}

func TestServerCancel(t *testing.T) {
	s := startServer(t, nil, testHandler())
	c := s.dial(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req := newRequest(t, "GET", "http://"+s.addr()+"/block", nil).WithContext(ctx)
	res, _, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(res.Body)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("body read after cancel: %v, want context.Canceled", err)
	}
	res.Body.Close()
	// The connection stays usable.
	res, _, err = c.RoundTrip(newRequest(t, "GET", "http://"+s.addr()+"/small", nil))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// Body.Close before EOF resets the stream: its slot is free at once.
	if a := c.State().Active; a != 0 {
		t.Errorf("Active = %d after all bodies closed, want 0", a)
	}
}

// TestServerStress mixes completed, canceled, abandoned and slowly read
// requests on one connection; afterwards the connection must be idle and
// usable.
func TestServerStress(t *testing.T) {
	s := startServer(t, &http2.Server{MaxConcurrentStreams: 100}, testHandler())
	c := s.dial(t, Config{StreamWindow: 32 << 10, ConnWindow: 128 << 10})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				var req *http.Request
				switch (w + i) % 4 {
				case 0:
					req = newRequest(t, "GET", "http://"+s.addr()+"/big?n=200000", nil)
				case 1:
					req = newRequest(t, "POST", "http://"+s.addr()+"/echo", strings.NewReader(strings.Repeat("e", 50000)))
				case 2:
					req = newRequest(t, "GET", "http://"+s.addr()+"/block", nil)
				default:
					req = newRequest(t, "GET", "http://"+s.addr()+"/small", nil)
				}
				res, _, err := c.RoundTrip(req.WithContext(ctx))
				if errors.Is(err, ErrUnprocessed) {
					cancel()
					continue // all streams busy: the pool's job to wait
				}
				if err != nil {
					t.Errorf("RoundTrip: %v", err)
					cancel()
					continue
				}
				if (w+i)%4 == 2 || i%5 == 0 {
					cancel() // /block answers no body until canceled
				}
				switch i % 3 {
				case 0:
					_, err = io.Copy(io.Discard, res.Body)
				case 1:
					_, err = io.CopyN(io.Discard, res.Body, 1000)
				}
				if err != nil && err != io.EOF && !errors.Is(err, context.Canceled) {
					t.Errorf("reading %s: %v", req.URL.Path, err)
				}
				res.Body.Close()
				cancel()
			}
		}()
	}
	wg.Wait()
	if st := c.State(); st.Active != 0 || st.Reserved != 0 || st.Closed {
		t.Errorf("State after the storm: %+v, want idle and open", st)
	}
	res, _, err := c.RoundTrip(newRequest(t, "GET", "http://"+s.addr()+"/small", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(res.Body); len(b) != 100 {
		t.Errorf("read %d bytes, want 100", len(b))
	}
}
