package h3

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"muxgate/certs"
	"muxgate/internal/pool"
)

// patternByte is byte i of the deterministic pattern the bodies carry.
func patternByte(i int64) byte { return byte(i*7 + i>>8) }

// pattern is an endless reader of the pattern.
type pattern struct{ n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = patternByte(p.n)
		p.n++
	}
	return len(b), nil
}

// checkPattern reads r to its end and fails unless it is exactly the first
// size bytes of the pattern; it reports the first byte that differs.
func checkPattern(t *testing.T, r io.Reader, size int64) {
	t.Helper()
	buf := make([]byte, 32<<10)
	var off int64
	for {
		n, err := r.Read(buf)
		for i := range n {
			if off+int64(i) >= size {
				t.Fatalf("body longer than %d bytes", size)
			}
			if got, want := buf[i], patternByte(off+int64(i)); got != want {
				t.Fatalf("body byte %d is %#x, want %#x", off+int64(i), got, want)
			}
		}
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the body after %d bytes: %v", off, err)
		}
	}
	if off != size {
		t.Fatalf("body has %d bytes, want %d", off, size)
	}
}

func get(t *testing.T, p *Pool, u *upstream, path string) (*http.Response, string, *pool.Info) {
	t.Helper()
	info := new(pool.Info)
	req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", "https://"+u.addr+path, nil)
	res, err := p.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return res, string(b), info
}

func TestH3Get(t *testing.T) {
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Proto+" "+r.Host+" "+r.URL.Path+" "+r.Header.Get("Accept-Encoding"))
		io.WriteString(w, "hello")
	}))
	p := newTestPool(t, u, Config{})
	for i := range 2 {
		info := new(pool.Info)
		req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", "https://"+u.addr+"/path", nil)
		req.Host = "example.test"
		res, err := p.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "hello" || res.StatusCode != 200 {
			t.Errorf("request %d: %d %q, want 200 hello", i, res.StatusCode, body)
		}
		if got := res.Header.Get("X-Seen"); got != "HTTP/3.0 example.test /path " {
			t.Errorf("upstream saw %q, want HTTP/3.0, :authority example.test, no Accept-Encoding added", got)
		}
		if res.TLS == nil || res.TLS.NegotiatedProtocol != "h3" {
			t.Errorf("Response.TLS %v, want ALPN h3", res.TLS)
		}
		if !reflect.DeepEqual(*info, pool.Info{SessionID: 1, Protocol: "h3", Attempts: 1}) {
			t.Errorf("request %d: Info %+v, want session 1, h3, 1 attempt", i, *info)
		}
	}
	if n := u.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d QUIC connections for 2 sequential requests, want 1", n)
	}
	st := p.State()
	if st.Protocol != "h3" || len(st.Sessions) != 1 || st.Sessions[0].MaxStreams != DefaultMaxStreams || st.Sessions[0].InFlight != 0 {
		t.Errorf("State %+v, want protocol h3, one session with MaxStreams %d and nothing in flight", st, DefaultMaxStreams)
	}
}

func TestH3PostBody(t *testing.T) {
	const size = 10 << 20
	// The upstream checks the body byte for byte as it arrives.
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		var off int64
		for {
			n, err := r.Body.Read(buf)
			for i := range n {
				if buf[i] != patternByte(off+int64(i)) {
					http.Error(w, fmt.Sprintf("byte %d differs", off+int64(i)), http.StatusBadRequest)
					return
				}
			}
			off += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		fmt.Fprintf(w, "%d bytes ok, content-length %d", off, r.ContentLength)
	}))
	p := newTestPool(t, u, Config{})
	for _, length := range []int64{size, -1} {
		t.Run(fmt.Sprintf("content-length %d", length), func(t *testing.T) {
			req, _ := http.NewRequest("POST", "https://"+u.addr+"/upload", io.NopCloser(io.LimitReader(&pattern{}, size)))
			req.ContentLength = length
			res, err := p.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if want := fmt.Sprintf("%d bytes ok, content-length %d", size, length); err != nil || string(body) != want {
				t.Errorf("upstream said %q (%v), want %q", body, err, want)
			}
		})
	}
}

func TestH3Echo(t *testing.T) {
	const size = 2 << 20
	// The upstream echoes the body as it arrives, so both directions stream
	// at once through windows smaller than the body.
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	p := newTestPool(t, u, Config{StreamWindow: 64 << 10, ConnWindow: 128 << 10})
	req, _ := http.NewRequest("POST", "https://"+u.addr+"/echo", io.NopCloser(io.LimitReader(&pattern{}, size)))
	res, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	checkPattern(t, res.Body, size)
}

// progressWriter counts the bytes a handler's writes returned for.
type progressWriter struct {
	w       http.ResponseWriter
	written atomic.Int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.written.Add(int64(n))
	return n, err
}

func TestH3SlowReader(t *testing.T) {
	const (
		size   = 10 << 20
		window = 64 << 10
		// slack covers what the server may hold outside the stream window,
		// in its response writer and QUIC send stream (none was measured:
		// quic-go's Write returns as the window takes the bytes).
		slack = 64 << 10
	)
	progress := make(chan *progressWriter, 1)
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &progressWriter{w: w}
		progress <- pw
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.CopyBuffer(pw, io.LimitReader(&pattern{}, size), make([]byte, 16<<10))
	}))
	p := newTestPool(t, u, Config{StreamWindow: window, ConnWindow: 4 * window})
	req, _ := http.NewRequest("GET", "https://"+u.addr+"/big", nil)
	res, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	pw := <-progress

	// While nothing is read, the server may get no further than the stream
	// window and its own buffers. Wait a bounded time for it to overrun.
	limit := int64(window + slack)
	overrun := time.NewTimer(500 * time.Millisecond)
	defer overrun.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-overrun.C:
			waiting = false
		case <-tick.C:
			if n := pw.written.Load(); n > limit {
				t.Fatalf("server wrote %d bytes to a reader that read none; flow control allows %d", n, limit)
			}
		}
	}

	// Then read slowly, in small pieces: the server never runs further
	// ahead of the reader than the window, and every byte arrives intact.
	r := &boundedReader{t: t, r: res.Body, server: &pw.written, ahead: limit}
	checkPattern(t, r, size)
}

// boundedReader reads in small pieces and fails if the server ever wrote
// more than ahead bytes beyond what was read.
type boundedReader struct {
	t      *testing.T
	r      io.Reader
	server *atomic.Int64
	read   int64
	ahead  int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if w := b.server.Load(); w-b.read > b.ahead {
		b.t.Fatalf("server wrote %d bytes when %d were read; flow control allows %d ahead", w, b.read, b.ahead)
	}
	n, err := b.r.Read(p[:min(len(p), 4<<10)])
	b.read += int64(n)
	return n, err
}

func TestH3ConcurrentUsesTwoConnections(t *testing.T) {
	const n = 200
	// Every handler waits until all n requests are in the upstream at once,
	// which takes two connections of 100 streams.
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	var once sync.Once
	u := startUpstream(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		if len(arrived) == n {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "ok")
	}))
	p := newTestPool(t, u, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+u.addr+"/", nil)
			res, err := p.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && !bytes.Equal(body, []byte("ok")) {
				err = fmt.Errorf("body %q", body)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("request: %v", err)
	}
	if got := u.accepted.Load(); got != 2 {
		t.Errorf("upstream accepted %d QUIC connections for %d concurrent requests at 100 streams each, want 2", got, n)
	}
	st := p.State()
	if len(st.Sessions) != 2 {
		t.Errorf("%d sessions in the pool, want 2", len(st.Sessions))
	}
	for _, s := range st.Sessions {
		if s.InFlight != 0 {
			t.Errorf("session %d: %d streams in flight after every response ended, want 0", s.ID, s.InFlight)
		}
	}
}

func TestH3RejectedRequestRetried(t *testing.T) {
	var calls atomic.Int64
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// Reset the first request's stream unprocessed (RFC 9114 8.1).
			str, err := w.(http3.HTTPStreamer).HTTPStream()
			if err != nil {
				panic(err)
			}
			str.CancelRead(quic.StreamErrorCode(http3.ErrCodeRequestRejected))
			str.CancelWrite(quic.StreamErrorCode(http3.ErrCodeRequestRejected))
			return
		}
		io.WriteString(w, "second try")
	}))
	p := newTestPool(t, u, Config{Limits: pool.Limits{ReplayBuffer: 1 << 10}})
	info := new(pool.Info)
	req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "PUT", "https://"+u.addr+"/x", strings.NewReader("replayed body"))
	res, err := p.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v, want the rejected request retried", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "second try" || info.Attempts != 2 || info.SessionID != 2 {
		t.Errorf("got %q after %d attempts on session %d, want %q after 2 attempts, the second on a new session 2",
			body, info.Attempts, info.SessionID, "second try")
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("upstream handled %d requests, want 2", n)
	}
}

func TestH3GoAway(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}))
		p := newTestPool(t, u, Config{})
		get(t, p, u, "/")
		// The client closes an idle connection on GOAWAY; the server's
		// graceful shutdown returns once it did.
		if err := <-u.goAway(); err != nil {
			t.Fatalf("graceful shutdown of the upstream: %v", err)
		}
		_, body, info := get(t, p, u, "/")
		// quic-go may close the connection a moment after the server
		// saw it closed: the request then meets the GOAWAY before its
		// stream opens, and is sent again at once.
		if body != "ok" || info.SessionID != 2 {
			t.Errorf("after GOAWAY: %q on session %d, want ok on a new session 2", body, info.SessionID)
		}
		if n := u.accepted.Load(); n != 2 {
			t.Errorf("upstream accepted %d connections, want 2", n)
		}
	})
	t.Run("busy", func(t *testing.T) {
		entered := make(chan struct{}, 1)
		release := make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				entered <- struct{}{}
				<-release
			}
			io.WriteString(w, "ok "+r.URL.Path)
		}))
		t.Cleanup(releaseOnce)
		p := newTestPool(t, u, Config{})
		blocked := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest("GET", "https://"+u.addr+"/block", nil)
			res, err := p.RoundTrip(req)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(res.Body)
				res.Body.Close()
				if err == nil && string(b) != "ok /block" {
					err = fmt.Errorf("body %q", b)
				}
			}
			blocked <- err
		}()
		<-entered
		drained := u.goAway()
		// The connection carries a stream, so it drains: the requests after
		// the GOAWAY go to a new connection, with no error, whether quic-go
		// saw the GOAWAY before opening their stream or the server rejected
		// it. A request that reached the server before its GOAWAY left is
		// still served on the old one (RFC 9114 5.2), so the first few may
		// be; once one is on the new connection, every later one is.
		onNew := 0
		for i := 0; i < 100 && onNew < 3; i++ {
			_, body, info := get(t, p, u, "/next")
			switch {
			case body != "ok /next":
				t.Errorf("request %d after GOAWAY: %q, want ok /next", i, body)
			case info.SessionID == 2:
				onNew++
			case onNew > 0 || info.SessionID != 1:
				t.Errorf("request %d after GOAWAY on session %d, want 2 (or 1 before any went to 2)", i, info.SessionID)
			}
		}
		if onNew < 3 {
			t.Errorf("%d of the requests after GOAWAY went to a new session, want 3", onNew)
		}
		releaseOnce()
		if err := <-blocked; err != nil {
			t.Errorf("request in flight at GOAWAY: %v, want it answered", err)
		}
		if err := <-drained; err != nil {
			t.Errorf("graceful shutdown of the upstream: %v", err)
		}
	})
}

func TestH3DialErrors(t *testing.T) {
	t.Run("no server on the UDP port", func(t *testing.T) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		addr := c.LocalAddr().String()
		c.Close()
		u := &upstream{addr: addr}
		p := newTestPool(t, u, Config{DialTimeout: 300 * time.Millisecond})
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		_, err = p.RoundTrip(req)
		if !errors.Is(err, pool.ErrUnavailable) {
			t.Errorf("err %v, want ErrUnavailable", err)
		}
	})
	t.Run("no h3 by ALPN", func(t *testing.T) {
		u := startRawQUIC(t, "not-h3")
		p := newTestPool(t, u, Config{})
		req, _ := http.NewRequest("GET", "https://"+u.addr+"/", nil)
		_, err := p.RoundTrip(req)
		if !errors.Is(err, pool.ErrUnavailable) || u.accepted.Load() != 0 {
			t.Errorf("err %v after %d connections, want ErrUnavailable from the handshake", err, u.accepted.Load())
		}
	})
	t.Run("QUIC without HTTP/3", func(t *testing.T) {
		// ALPN h3, but the server never opens its control stream.
		u := startRawQUIC(t, http3.NextProtoH3)
		p := newTestPool(t, u, Config{DialTimeout: 300 * time.Millisecond})
		req, _ := http.NewRequest("GET", "https://"+u.addr+"/", nil)
		_, err := p.RoundTrip(req)
		if !errors.Is(err, pool.ErrUnavailable) || !strings.Contains(err.Error(), "SETTINGS") || u.accepted.Load() != 1 {
			t.Errorf("err %v after %d connections, want ErrUnavailable for missing SETTINGS after 1", err, u.accepted.Load())
		}
	})
}

// startRawQUIC accepts QUIC connections with ALPN proto on a loopback port
// and does nothing with them.
func startRawQUIC(t *testing.T, proto string) *upstream {
	t.Helper()
	cert, err := certs.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{proto}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String(), tls: &tls.Config{RootCAs: certs.Pool(cert)}, ln: ln}
	u.wg.Go(func() {
		var conns []*quic.Conn
		for {
			c, err := ln.Accept(context.Background())
			if err != nil {
				for _, c := range conns {
					c.CloseWithError(0, "")
				}
				return
			}
			u.accepted.Add(1)
			conns = append(conns, c)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u
}

func TestH3ShutdownWaitsForStreams(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		close(entered)
		<-release
		io.WriteString(w, "end")
	}))
	// Registered after startUpstream, so it runs before the upstream's
	// cleanup waits for the handler.
	t.Cleanup(releaseOnce)
	cfg := Config{Address: u.addr, TLS: u.tls}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://"+u.addr+"/", nil)
	res, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(context.Background()) }()
	// Shutdown must wait for the open stream: give it a bounded time to
	// return too early.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a response was still coming", err)
	case <-time.After(200 * time.Millisecond):
	}
	releaseOnce()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(b) != "end" {
		t.Errorf("body during Shutdown: %q, %v; want the whole body", b, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := p.RoundTrip(req); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("RoundTrip after Shutdown: %v, want ErrClosed", err)
	}
}

// TestConnectionEnded: the errors quic-go fails a stream with when the whole connection ended
// count as a dead connection, even before the connection's context says so; a reset of one
// stream does not.
func TestConnectionEnded(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"application close", fmt.Errorf("http3: parsing frame failed: %w", &quic.ApplicationError{Remote: true, ErrorCode: 0x100}), true},
		{"idle timeout", &quic.IdleTimeoutError{}, true},
		{"stateless reset", &quic.StatelessResetError{}, true},
		{"transport error", &quic.TransportError{ErrorCode: quic.InternalError}, true},
		{"stream reset", &quic.StreamError{StreamID: 4, ErrorCode: 0x10c, Remote: true}, false},
		{"other", errors.New("boom"), false},
	} {
		if got := connectionEnded(c.err); got != c.want {
			t.Errorf("%s: connectionEnded %v, want %v", c.name, got, c.want)
		}
		// A response body failed so says the session failed, for the gateway's resend.
		if got := errors.Is(bodyFailed(context.Background(), c.err), pool.ErrSessionFailed); got != c.want {
			t.Errorf("%s: body error wraps pool.ErrSessionFailed %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSessionEndedByStream: a stream that failed as its connection ended (an idle timeout here)
// makes the session closed, and silent, at once: quic-go fails the streams before it ends the
// connection's context, and a request sent again at once must not find the session live, nor
// miss that its peer went silent (pool.ErrPeerSilent, which sends requests to other upstreams
// without a dial to this one).
func TestSessionEndedByStream(t *testing.T) {
	u := startRawQUIC(t, "h3")
	conn, err := quic.DialAddr(context.Background(), u.addr, &tls.Config{RootCAs: u.tls.RootCAs, NextProtos: []string{"h3"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	s := newSession(1, conn, nil, 0, 0, 0)
	if st := s.State(); st.Closed || st.Silent {
		t.Fatalf("a live session: %+v", st)
	}
	if s.endedBy(&quic.StreamError{StreamID: 0, ErrorCode: 0x10c, Remote: true}) {
		t.Error("a reset of one stream ended the session")
	}
	if !s.endedBy(fmt.Errorf("http3: parsing frame failed: %w", &quic.IdleTimeoutError{})) {
		t.Error("an idle timeout did not end the session")
	}
	if st := s.State(); !st.Closed || !st.Silent || conn.Context().Err() != nil {
		t.Errorf("after a stream's idle timeout, with the connection's context %v: %+v, want closed and silent", conn.Context().Err(), st)
	}
	if s.Reserve() {
		t.Error("Reserve took a stream on an ended session")
	}
}

func TestH3Classify(t *testing.T) {
	rejected := &http3.Error{ErrorCode: http3.ErrCodeRequestRejected, Remote: true}
	reset := &http3.Error{ErrorCode: http3.ErrCodeInternalError, Remote: true}
	lost := errors.New("connection lost")
	const not, maybe, failed = "not processed", "maybe processed", "session failed"
	cases := []struct {
		name string
		err  error
		a    attempt
		want string // not, maybe, failed, or "" for none
	}{
		{"rejected after the request was written", rejected, attempt{opened: true, wrote: true}, not},
		{"stream never opened", lost, attempt{}, not},
		{"closed before HEADERS were written", lost, attempt{opened: true, closed: true}, not},
		{"idempotent, connection died", lost, attempt{opened: true, wrote: true, closed: true, idempotent: true}, maybe},
		{"not idempotent, connection died", lost, attempt{opened: true, wrote: true, closed: true}, failed},
		{"reset by the server", reset, attempt{opened: true, wrote: true}, ""},
		{"idempotent, reset on a live connection", reset, attempt{opened: true, wrote: true, idempotent: true}, ""},
		{"too many 1xx on a live connection", errors.New("http3: too many 1xx informational responses"), attempt{opened: true, wrote: true}, ""},
	}
	for _, c := range cases {
		err := classify(c.err, c.a)
		var got []string
		for _, m := range []struct {
			name string
			err  error
		}{{not, pool.ErrNotProcessed}, {maybe, pool.ErrMaybeProcessed}, {failed, pool.ErrSessionFailed}} {
			if errors.Is(err, m.err) {
				got = append(got, m.name)
			}
		}
		if want := []string{c.want}; c.want == "" && len(got) != 0 || c.want != "" && !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v does not wrap %v", c.name, err, c.err)
		}
	}
}

// TestH3ClientCancelled: a request whose context ends (a gateway's client that went away) fails
// with an error wrapping context.Canceled, before its response head and in its body, not only
// with quic-go's H3_REQUEST_CANCELLED (local), which would blame the upstream.
func TestH3ClientCancelled(t *testing.T) {
	entered := make(chan struct{}, 2)
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			io.WriteString(w, "first")
			w.(http.Flusher).Flush()
		}
		entered <- struct{}{}
		<-r.Context().Done()
	}))
	p := newTestPool(t, u, Config{})

	t.Run("before the head", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+u.addr+"/head", nil)
		go func() {
			<-entered
			cancel()
		}()
		_, err := p.RoundTrip(req)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("RoundTrip: %v, want context.Canceled", err)
		}
	})
	t.Run("in the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+u.addr+"/body", nil)
		res, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		<-entered
		buf := make([]byte, 5)
		if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first" {
			t.Fatalf("first read: %q, %v", buf, err)
		}
		cancel()
		if _, err := io.ReadAll(res.Body); !errors.Is(err, context.Canceled) {
			t.Errorf("body read after the cancel: %v, want context.Canceled", err)
		}
	})
}
