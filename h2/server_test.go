package h2

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"muxgate/internal/fieldlist"
	"muxgate/internal/pool"
	"muxgate/internal/porttest"
)

// upstream is a real x/net/http2 server on a loopback listener, h2c or TLS.
type upstream struct {
	addr     string
	tls      *tls.Config   // client config trusting the server; nil for h2c
	accepted *atomic.Int64 // connections accepted
}

// startUpstream serves h on 127.0.0.1:0 until the test ends, then closes
// the listener and every connection and waits for the serving goroutines.
func startUpstream(t testing.TB, useTLS bool, maxStreams uint32, h http.Handler) upstream {
	t.Helper()
	return startUpstreamAt(t, "127.0.0.1:0", useTLS, maxStreams, h)
}

// startUpstreamAt is startUpstream on addr.
func startUpstreamAt(t testing.TB, addr string, useTLS bool, maxStreams uint32, h http.Handler) upstream {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u := upstream{addr: ln.Addr().String(), accepted: new(atomic.Int64)}
	var serverTLS *tls.Config
	if useTLS {
		cert, pool := selfSigned(t)
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{http2.NextProtoTLS}}
		u.tls = &tls.Config{RootCAs: pool}
	}
	serveConns(t, ln, u.accepted, func(c net.Conn) net.Conn {
		if serverTLS != nil {
			return tls.Server(c, serverTLS)
		}
		return c
	}, &http2.Server{MaxConcurrentStreams: maxStreams}, h)
	return u
}

// serveConns serves h over HTTP/2 on the connections ln accepts, counted in accepted, until the
// test ends; then it closes ln and every connection and waits for the serving goroutines. take
// gets each connection first: it returns the connection to serve (TLS over it, say), or nil for
// one it dealt with itself.
func serveConns(t testing.TB, ln net.Listener, accepted *atomic.Int64, take func(net.Conn) net.Conn, srv *http2.Server, h http.Handler) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c := take(nc)
			if c == nil {
				continue
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				if tc, ok := c.(*tls.Conn); ok {
					if err := tc.Handshake(); err != nil {
						c.Close()
						return
					}
				}
				srv.ServeConn(c, &http2.ServeConnOpts{Handler: h})
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "upstream"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func newRealPool(t testing.TB, u upstream, cfg Config) *Pool {
	t.Helper()
	cfg.Address, cfg.TLS = u.addr, u.tls
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p
}

func scheme(u upstream) string {
	if u.tls != nil {
		return "https"
	}
	return "http"
}

// forBoth runs f on each engine against an h2c and a TLS upstream.
func forBoth(t *testing.T, f func(t *testing.T, e Engine, useTLS bool)) {
	for _, e := range engines {
		for _, useTLS := range []bool{false, true} {
			name := "h2c"
			if useTLS {
				name = "tls"
			}
			t.Run(e.name()+"/"+name, func(t *testing.T) { f(t, e, useTLS) })
		}
	}
}

func TestRealGet(t *testing.T) {
	forBoth(t, func(t *testing.T, e Engine, useTLS bool) {
		u := startUpstream(t, useTLS, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Seen", r.Proto+" "+r.Host+" "+r.URL.Path+" "+r.Header.Get("Accept-Encoding"))
			io.WriteString(w, "hello")
		}))
		p := newRealPool(t, u, Config{Engine: e})
		for i, wantStream := range []uint64{1, 3} {
			info := new(pool.Info)
			req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", scheme(u)+"://"+u.addr+"/path", nil)
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
			if got := res.Header.Get("X-Seen"); got != "HTTP/2.0 example.test /path " {
				t.Errorf("upstream saw %q, want HTTP/2.0, :authority example.test, no Accept-Encoding added", got)
			}
			if (res.TLS != nil) != useTLS {
				t.Errorf("Response.TLS set %v, want %v", res.TLS != nil, useTLS)
			}
			if !reflect.DeepEqual(*info, pool.Info{SessionID: 1, StreamID: wantStream, Protocol: "h2", Attempts: 1}) {
				t.Errorf("request %d: Info %+v, want session 1 stream %d", i, *info, wantStream)
			}
		}
	})
}

// TestRealResponseTimeout: on either engine, a response head that does not come within
// ResponseTimeout fails the request with pool.ErrResponseTimeout, and the session serves the next
// request; a head that comes in time keeps its body past the timeout.
func TestRealResponseTimeout(t *testing.T) {
	forBoth(t, func(t *testing.T, e Engine, useTLS bool) {
		const timeout = 200 * time.Millisecond
		release := make(chan struct{})
		u := startUpstream(t, useTLS, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow-body" {
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			io.WriteString(w, "late")
		}))
		p := newRealPool(t, u, Config{Engine: e, ResponseTimeout: timeout})
		get := func(path string) (*http.Response, error) {
			req, _ := http.NewRequest("GET", scheme(u)+"://"+u.addr+path, nil)
			return p.RoundTrip(req)
		}
		start := time.Now()
		if res, err := get("/slow-head"); !errors.Is(err, pool.ErrResponseTimeout) {
			if err == nil {
				res.Body.Close()
			}
			t.Fatalf("slow head: %v, want pool.ErrResponseTimeout", err)
		}
		if took := time.Since(start); took < timeout {
			t.Errorf("timed out after %v, before %v", took, timeout)
		}
		res, err := get("/slow-body")
		if err != nil {
			t.Fatalf("slow body: %v", err)
		}
		defer res.Body.Close()
		time.AfterFunc(2*timeout, func() { close(release) })
		if b, err := io.ReadAll(res.Body); err != nil || string(b) != "late" {
			t.Errorf("slow body: %q, %v; want \"late\"", b, err)
		}
	})
}

// pattern is an endless deterministic stream of bytes.
type pattern struct{ n int }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.n*7 + p.n>>8)
		p.n++
	}
	return len(b), nil
}

func TestRealPostStreaming(t *testing.T) {
	const size = 10 << 20
	forBoth(t, func(t *testing.T, e Engine, useTLS bool) {
		u := startUpstream(t, useTLS, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		}))
		p := newRealPool(t, u, Config{Engine: e})
		want := sha256.New()
		io.Copy(want, io.LimitReader(&pattern{}, size))

		// No Content-Length: the body streams as it is read.
		req, _ := http.NewRequest("POST", scheme(u)+"://"+u.addr+"/upload", io.NopCloser(io.LimitReader(&pattern{}, size)))
		res, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got, wantBody := string(body), strconv.Itoa(size)+" "+hex.EncodeToString(want.Sum(nil)); got != wantBody {
			t.Errorf("upstream got %q, want %q", got, wantBody)
		}
	})
}

func TestRealConcurrentUsesTwoSessions(t *testing.T) {
	const n = 200
	forBoth(t, func(t *testing.T, e Engine, useTLS bool) {
		// Every handler waits until all n requests are in the upstream at
		// once, which takes two sessions of 100 streams.
		arrived := make(chan struct{}, n)
		all := make(chan struct{})
		var once sync.Once
		u := startUpstream(t, useTLS, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		p := newRealPool(t, u, Config{Engine: e})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()

		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				req, _ := http.NewRequestWithContext(ctx, "GET", scheme(u)+"://"+u.addr+"/", nil)
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
			t.Errorf("request: %v", err)
			break
		}
		st := p.State()
		if len(st.Sessions) != 2 {
			t.Errorf("%d sessions for %d concurrent requests at 100 streams per session, want 2", len(st.Sessions), n)
		}
		for _, s := range st.Sessions {
			if s.MaxStreams != 100 || s.InFlight != 0 {
				t.Errorf("session %d: max streams %d, in flight %d; want 100 and 0", s.ID, s.MaxStreams, s.InFlight)
			}
		}
	})
}

// TestRealStalledReaderStallsOnlyItsStream: two responses nobody reads
// hold their stream windows, together the whole connection window. A large
// response on the same session must still arrive in full (DESIGN.md: a
// slow client stalls only its own stream), and the stalled ones keep their
// bytes.
func TestRealStalledReaderStallsOnlyItsStream(t *testing.T) {
	const (
		win = 64 << 10
		big = 4 << 20
	)
	for _, e := range engines {
		t.Run(e.name(), func(t *testing.T) {
			if e == EngineXNet {
				t.Skip("x/net's ClientConn credits its connection window only as bodies are read " +
					"(transportResponseBody.Read): ConnWindow / StreamWindow stalled readers stall its session")
			}
			wrote := make(chan struct{}, 2)
			u := startUpstream(t, false, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/big" {
					io.Copy(w, io.LimitReader(&pattern{}, big))
					return
				}
				// One stream window, then nothing until the stream ends.
				io.Copy(w, io.LimitReader(&pattern{}, win))
				w.(http.Flusher).Flush()
				wrote <- struct{}{}
				<-r.Context().Done()
			}))
			p := newRealPool(t, u, Config{Engine: e, Limits: pool.Limits{MaxSessions: 1}, StreamWindow: win, ConnWindow: 2 * win})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stalled []*http.Response
			defer func() {
				for _, res := range stalled {
					res.Body.Close()
				}
			}()
			for range 2 {
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+u.addr+"/stall", nil)
				res, err := p.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				stalled = append(stalled, res)
				<-wrote
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+u.addr+"/big", nil)
			res, err := p.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if n != big || err != nil {
				t.Fatalf("large response: %d of %d bytes, err %v", n, big, err)
			}
			want := make([]byte, win)
			io.ReadFull(&pattern{}, want)
			for i, res := range stalled {
				got := make([]byte, win)
				if _, err := io.ReadFull(res.Body, got); err != nil || !bytes.Equal(got, want) {
					t.Errorf("stalled response %d: err %v, bytes intact %v", i, err, bytes.Equal(got, want))
				}
			}
			if st := p.State(); len(st.Sessions) != 1 {
				t.Errorf("%d sessions, want 1", len(st.Sessions))
			}
		})
	}
}

func TestRealDialErrors(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name(), func(t *testing.T) { testDialErrors(t, e) })
	}
}

// testDialErrors fails before either engine starts, but each engine dials
// on its own path.
func testDialErrors(t *testing.T, e Engine) {
	t.Run("refused", func(t *testing.T) {
		addr := porttest.Addr(t, true, false) // nothing listens there
		p := newRealPool(t, upstream{addr: addr}, Config{Engine: e})
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		_, err := p.RoundTrip(req)
		if !errors.Is(err, pool.ErrUnavailable) {
			t.Errorf("err %v, want ErrUnavailable", err)
		}
	})
	t.Run("no h2 by ALPN", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// A TLS server without ALPN: the handshake succeeds, no protocol
		// is selected.
		cert, roots := selfSigned(t)
		tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := tln.Accept()
				if err != nil {
					return
				}
				c.(*tls.Conn).Handshake()
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		t.Cleanup(func() {
			tln.Close()
			<-done
		})
		u := upstream{addr: ln.Addr().String(), tls: &tls.Config{RootCAs: roots}}
		p := newRealPool(t, u, Config{Engine: e})
		req, _ := http.NewRequest("GET", "https://"+u.addr+"/", nil)
		_, err = p.RoundTrip(req)
		if !errors.Is(err, pool.ErrUnavailable) || !strings.Contains(err.Error(), "ALPN") {
			t.Errorf("err %v, want ErrUnavailable for ALPN", err)
		}
	})
}

// TestRealListHead: a request whose Info asks for the head as a list gets it so from our own
// session, with the same fields a Header would hold, and as a Header from x/net's.
func TestRealListHead(t *testing.T) {
	forBoth(t, func(t *testing.T, e Engine, useTLS bool) {
		u := startUpstream(t, useTLS, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Two"] = []string{"a", "b"}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		}))
		p := newRealPool(t, u, Config{Engine: e})
		info := &pool.Info{List: new(pool.HeadList)}
		req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", scheme(u)+"://"+u.addr+"/", nil)
		res, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "hello" || res.ContentLength != 5 {
			t.Errorf("body %q, ContentLength %d; want hello, 5", body, res.ContentLength)
		}
		h := res.Header
		if e == EngineOwn {
			if h != nil {
				t.Fatalf("own session: Header %v, want nil with the head in Info.List", h)
			}
			h = fieldlist.Header(info.List.Fields)
		} else if info.List.Fields != nil {
			t.Errorf("x/net session: Info.List.Fields %v, want it left alone", info.List.Fields)
		}
		if got := h["X-Two"]; !slices.Equal(got, []string{"a", "b"}) || h.Get("Content-Type") != "text/plain" || h.Get("Content-Length") != "5" {
			t.Errorf("head %v, want X-Two a and b, Content-Type text/plain, Content-Length 5", h)
		}
	})
}
