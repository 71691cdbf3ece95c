package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/net/http2"
)

// Options shape a Server. The zero value serves h2c with prior knowledge.
type Options struct {
	// TLS, when set, serves HTTP/2 over TLS (ALPN h2) with these settings; NextProtos is set.
	TLS *tls.Config
	// MaxConcurrentStreams is announced in SETTINGS; 0: 100. With HTTP3 it is QUIC's limit of
	// concurrent request streams per connection (initial_max_streams_bidi and MAX_STREAMS).
	MaxConcurrentStreams uint32
	// HTTP1 serves HTTP/1.1 instead of HTTP/2: the direct baseline of the benchmark.
	HTTP1 bool
	// HTTP3 serves HTTP/3 over QUIC on a UDP socket instead of HTTP/2 over TCP. It needs TLS
	// (NextProtos is set to h3) and excludes HTTP1.
	HTTP3 bool
	// Handler serves the requests; nil: Handler().
	Handler http.Handler
	// Unix serves on a Unix domain socket at the path Listen is given rather than on TCP; not
	// with HTTP3.
	Unix bool
	// MaxHeaderBytes bounds a request's header fields over HTTP/2, announced as
	// SETTINGS_MAX_HEADER_LIST_SIZE (x/net adds 32 bytes a field); 0: net/http's 1 MiB.
	MaxHeaderBytes int
}

// handshakeTimeout bounds a client's TLS handshake.
const handshakeTimeout = 10 * time.Second

// Server is a running demo upstream on a loopback or given address.
type Server struct {
	ln      net.Listener   // nil with HTTP3
	quic    *quic.Listener // nil without HTTP3
	h2      *http2.Server
	base    *http.Server // h2 is configured on it, so its Shutdown sends GOAWAY; it serves nothing
	h1      *http.Server
	handler *counter

	accepted atomic.Int64 // connections accepted so far, TCP or QUIC
	open     atomic.Int64 // connections open now, TCP or QUIC

	mu          sync.Mutex               // guards conns, quicConns and openChanged
	conns       map[net.Conn]*connWatch  // guarded by mu; the watch is nil until HTTP/2 is served
	quicConns   map[*quic.Conn]*quicConn // guarded by mu; HTTP3 only
	openChanged chan struct{}            // guarded by mu; closed when open changes, for WaitOpen; nil while none waits
	wg          sync.WaitGroup           // one per connection goroutine, graceful shutdown and accept loop
	closed      atomic.Bool              // set by Close before it closes anything

	// stop ends when Close begins: it ends the QUIC accept loop and cuts the graceful shutdowns
	// GoAway started. HTTP3 only; cancel is called by Close.
	stop   context.Context
	cancel context.CancelFunc
}

// Listen starts a server on addr ("127.0.0.1:0" for a free port). Close stops it.
func Listen(addr string, opt Options) (*Server, error) {
	if opt.HTTP3 {
		return listenQUIC(addr, opt)
	}
	network := "tcp"
	if opt.Unix {
		network = "unix"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	h := opt.Handler
	if h == nil {
		h = Handler()
	}
	s := &Server{handler: &counter{next: h}, conns: map[net.Conn]*connWatch{}}
	if opt.TLS != nil {
		cfg := opt.TLS.Clone()
		cfg.NextProtos = []string{"h2"}
		if opt.HTTP1 {
			cfg.NextProtos = []string{"http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
	}
	s.ln = ln
	if opt.HTTP1 {
		s.h1 = &http.Server{Handler: s.handler, ConnState: s.track}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.h1.Serve(ln)
		}()
		return s, nil
	}
	s.h2 = &http2.Server{MaxConcurrentStreams: maxStreams(opt)}
	// Configuring h2 on an HTTP/1 server registers every HTTP/2 connection with it, so that
	// base.Shutdown can start a graceful shutdown of each (see GoAway).
	s.base = &http.Server{MaxHeaderBytes: opt.MaxHeaderBytes}
	if err := http2.ConfigureServer(s.base, s.h2); err != nil {
		ln.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// maxStreams is opt's limit of concurrent streams per connection, its default filled.
func maxStreams(opt Options) uint32 {
	if opt.MaxConcurrentStreams == 0 {
		return 100
	}
	return opt.MaxConcurrentStreams
}

// Addr is the listening address: TCP, UDP with HTTP3, or a socket's path with Unix.
func (s *Server) Addr() string {
	if s.quic != nil {
		return s.quic.Addr().String()
	}
	return s.ln.Addr().String()
}

// Accepted counts the connections accepted since Listen: TCP connections, or with HTTP3 QUIC
// connections whose handshake completed.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Open counts the connections open now.
func (s *Server) Open() int64 { return s.open.Load() }

// WaitOpen waits until Open is n, or ctx ends.
func (s *Server) WaitOpen(ctx context.Context, n int64) error {
	for {
		s.mu.Lock()
		if s.open.Load() == n {
			s.mu.Unlock()
			return nil
		}
		if s.openChanged == nil {
			s.openChanged = make(chan struct{})
		}
		changed := s.openChanged
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d connections open, want %d: %w", s.open.Load(), n, ctx.Err())
		}
	}
}

// addOpenLocked counts d more connections open and wakes WaitOpen.
func (s *Server) addOpenLocked(d int64) {
	s.open.Add(d)
	if s.openChanged != nil {
		close(s.openChanged)
		s.openChanged = nil
	}
}

// Requests counts the requests that reached the handler since Listen.
func (s *Server) Requests() int64 { return s.handler.total.Load() }

// Active counts the requests whose handler is running now.
func (s *Server) Active() int64 { return s.handler.active.Load() }

// Peak is the most requests that were in the handler at once since Listen.
func (s *Server) Peak() int64 { return s.handler.peak.Load() }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.track(c, http.StateNew)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, http.StateClosed)
			defer c.Close()
			s.serveConn(c)
		}()
	}
}

// serveConn serves HTTP/2 on c until either side closes it.
func (s *Server) serveConn(c net.Conn) {
	var served net.Conn
	if tc, ok := c.(*tls.Conn); ok {
		// The HTTP/2 server checks the TLS version and ALPN result before it reads, so the
		// handshake must be complete, as net/http completes it before TLSNextProto.
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
			return
		}
		served = &watchedTLSConn{watchedConn{Conn: tc}}
	} else {
		served = &watchedConn{Conn: c}
	}
	w := served.(interface{ watch() *connWatch }).watch()
	w.goAway = make(chan struct{})
	w.done = make(chan struct{})
	defer close(w.done)
	s.mu.Lock()
	if _, ok := s.conns[c]; !ok { // closed by CloseConns or Close before the handshake ended
		s.mu.Unlock()
		return
	}
	s.conns[c] = w
	s.mu.Unlock()
	s.h2.ServeConn(served, &http2.ServeConnOpts{Handler: s.handler, BaseConfig: s.base})
}

func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		s.conns[c] = nil
		s.accepted.Add(1)
		s.addOpenLocked(1)
	case http.StateClosed, http.StateHijacked:
		if _, ok := s.conns[c]; ok {
			delete(s.conns, c)
			s.addOpenLocked(-1)
		}
	}
}

// GoAway starts a graceful shutdown of every open HTTP/2 connection, as an upstream that is
// being redeployed does: each sends GOAWAY(NO_ERROR) and closes once its streams are done. The
// server keeps accepting new connections. GoAway returns once each of those connections has
// written its GOAWAY frame or closed, or with an error when ctx ends first. With HTTP3 it does
// the same to every QUIC connection (see goAwayQUIC for when it returns). For an HTTP1 server
// it does nothing.
func (s *Server) GoAway(ctx context.Context) error {
	if s.quic != nil {
		return s.goAwayQUIC(ctx)
	}
	if s.base == nil {
		return nil
	}
	s.mu.Lock()
	watches := make([]*connWatch, 0, len(s.conns))
	for _, w := range s.conns {
		if w != nil {
			watches = append(watches, w)
		}
	}
	s.mu.Unlock()
	// base has no listener and no connection of its own: Shutdown only asks each HTTP/2
	// connection to shut down gracefully, and returns.
	s.base.Shutdown(ctx)
	for _, w := range watches {
		select {
		case <-w.goAway:
		case <-w.done:
		case <-ctx.Done():
			return fmt.Errorf("demo: GOAWAY not sent on every connection: %w", context.Cause(ctx))
		}
	}
	return nil
}

// CloseConns closes every open connection abruptly, as an upstream that restarts would: a QUIC
// connection with CONNECTION_CLOSE, without GOAWAY and without waiting for its streams.
func (s *Server) CloseConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
	for c := range s.quicConns {
		c.CloseWithError(noError, "demo: connection closed")
	}
}

// Close stops accepting, closes every connection and waits for the server's goroutines.
func (s *Server) Close() error {
	s.closed.Store(true)
	if s.quic != nil {
		s.cancel()
		err := s.quic.Close()
		s.CloseConns()
		s.wg.Wait()
		return err
	}
	err := s.ln.Close()
	if s.h1 != nil {
		s.h1.Close()
	}
	s.CloseConns()
	s.wg.Wait()
	return err
}
