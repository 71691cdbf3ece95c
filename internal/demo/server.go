package demo

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
)

// Options shape a Server. The zero value serves h2c with prior knowledge.
type Options struct {
	// TLS, when set, serves HTTP/2 over TLS (ALPN h2) with these settings; NextProtos is set.
	TLS *tls.Config
	// MaxConcurrentStreams is announced in SETTINGS; 0: 100.
	MaxConcurrentStreams uint32
	// HTTP1 serves HTTP/1.1 instead of HTTP/2: the direct baseline of the benchmark.
	HTTP1 bool
	// Handler serves the requests; nil: Handler().
	Handler http.Handler
}

// Server is a running demo upstream on a loopback or given address.
type Server struct {
	ln      net.Listener
	h2      *http2.Server
	h1      *http.Server
	handler http.Handler

	accepted atomic.Int64 // connections accepted so far
	open     atomic.Int64 // connections open now

	mu     sync.Mutex            // guards conns
	conns  map[net.Conn]struct{} // guarded by mu
	wg     sync.WaitGroup        // one per connection goroutine and the accept loop
	closed atomic.Bool
}

// Listen starts a server on addr ("127.0.0.1:0" for a free port). Close stops it.
func Listen(addr string, opt Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{handler: opt.Handler, conns: map[net.Conn]struct{}{}}
	if s.handler == nil {
		s.handler = Handler()
	}
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
	streams := opt.MaxConcurrentStreams
	if streams == 0 {
		streams = 100
	}
	s.h2 = &http2.Server{MaxConcurrentStreams: streams}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Accepted counts the connections accepted since Listen.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Open counts the connections open now.
func (s *Server) Open() int64 { return s.open.Load() }

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
			s.h2.ServeConn(c, &http2.ServeConnOpts{Handler: s.handler, BaseConfig: &http.Server{}})
			c.Close()
		}()
	}
}

func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		s.conns[c] = struct{}{}
		s.accepted.Add(1)
		s.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		if _, ok := s.conns[c]; ok {
			delete(s.conns, c)
			s.open.Add(-1)
		}
	}
}

// CloseConns closes every open connection abruptly, as an upstream that restarts would.
func (s *Server) CloseConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops accepting, closes every connection and waits for the server's goroutines.
func (s *Server) Close() error {
	s.closed.Store(true)
	err := s.ln.Close()
	if s.h1 != nil {
		s.h1.Close()
	}
	s.CloseConns()
	s.wg.Wait()
	return err
}
