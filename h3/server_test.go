package h3

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"muxgate/certs"
)

// upstream is a real quic-go HTTP/3 server on a loopback UDP port. Its
// accept loop counts the QUIC connections and hands each to the current
// http3.Server, so that goAway can drain the connections of one server while
// new connections go to the next, as a redeployed upstream does.
type upstream struct {
	addr    string
	tls     *tls.Config // client config trusting the server
	ln      *quic.Listener
	handler http.Handler

	accepted atomic.Int64 // QUIC connections accepted
	shutEach atomic.Bool  // each connection gets a server of its own, shut down (GOAWAY) at once

	mu      sync.Mutex
	srv     *http3.Server   // guarded by mu; serves the connections accepted next
	servers []*http3.Server // guarded by mu; every server made, for the cleanup
	wg      sync.WaitGroup  // the accept loop and one goroutine per connection
}

// startUpstream serves h on 127.0.0.1:0 (UDP) until the test ends, allowing
// maxStreams concurrent request streams per connection (0: quic-go's 100).
func startUpstream(t *testing.T, maxStreams int64, h http.Handler) *upstream {
	t.Helper()
	cert, err := certs.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
	ln, err := quic.ListenAddr("127.0.0.1:0", serverTLS, &quic.Config{MaxIncomingStreams: maxStreams})
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{
		addr:    ln.Addr().String(),
		tls:     &tls.Config{RootCAs: certs.Pool(cert)},
		ln:      ln,
		handler: h,
	}
	u.srv = u.newServerLocked()
	u.wg.Go(u.acceptLoop)
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		servers := u.servers
		u.mu.Unlock()
		for _, s := range servers {
			s.Close()
		}
		u.wg.Wait()
	})
	return u
}

func (u *upstream) newServerLocked() *http3.Server {
	s := &http3.Server{Handler: u.handler}
	u.servers = append(u.servers, s)
	return s
}

func (u *upstream) acceptLoop() {
	for {
		conn, err := u.ln.Accept(context.Background())
		if err != nil {
			return
		}
		u.accepted.Add(1)
		u.mu.Lock()
		s := u.srv
		if u.shutEach.Load() {
			s = u.newServerLocked()
			u.wg.Go(func() { s.Shutdown(context.Background()) })
		}
		u.mu.Unlock()
		u.wg.Go(func() {
			if err := s.ServeQUICConn(conn); err != nil {
				conn.CloseWithError(0, "")
			}
		})
	}
}

// goAway sends GOAWAY on every connection served so far and returns a
// channel that receives the result of their graceful shutdown, once their
// requests ended and the clients closed them. New connections are served.
func (u *upstream) goAway() <-chan error {
	u.mu.Lock()
	old := u.srv
	u.srv = u.newServerLocked()
	u.mu.Unlock()
	done := make(chan error, 1)
	u.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := old.Shutdown(ctx)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	})
	return done
}

func newTestPool(t *testing.T, u *upstream, cfg Config) *Pool {
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
