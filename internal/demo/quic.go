package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// noError closes a QUIC connection without signalling an error (RFC 9114 8.1, H3_NO_ERROR).
const noError = quic.ApplicationErrorCode(http3.ErrCodeNoError)

// quicConn is one accepted QUIC connection and the HTTP/3 server that serves it alone: quic-go's
// graceful shutdown (GOAWAY, then drain) is per server, and GoAway must drain the open
// connections while the Server keeps serving new ones.
type quicConn struct {
	conn  *quic.Conn
	srv   *http3.Server
	trace *goAwayTrace
	done  chan struct{} // closed by the connection's goroutine when it stops serving

	draining bool // guarded by Server.mu; GoAway started srv's graceful shutdown
}

// listenQUIC starts an HTTP3 server on the UDP address addr.
func listenQUIC(addr string, opt Options) (*Server, error) {
	if opt.TLS == nil {
		return nil, errors.New("demo: HTTP3 needs TLS")
	}
	if opt.HTTP1 {
		return nil, errors.New("demo: HTTP3 and HTTP1 exclude each other")
	}
	ln, err := quic.ListenAddr(addr, http3.ConfigureTLSConfig(opt.TLS), &quic.Config{
		MaxIncomingStreams: int64(maxStreams(opt)),
		Tracer:             newGoAwayTrace,
	})
	if err != nil {
		return nil, err
	}
	h := opt.Handler
	if h == nil {
		h = Handler()
	}
	s := &Server{quic: ln, handler: &counter{next: h}, quicConns: map[*quic.Conn]*quicConn{}}
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptQUIC()
	return s, nil
}

// acceptQUIC serves each QUIC connection whose handshake completed, until Close.
func (s *Server) acceptQUIC() {
	defer s.wg.Done()
	for {
		c, err := s.quic.Accept(s.stop)
		if err != nil { // the listener closed or stop ended: both are Close
			return
		}
		trace, _ := c.QlogTrace().(*goAwayTrace)
		qc := &quicConn{conn: c, srv: &http3.Server{Handler: s.handler}, trace: trace, done: make(chan struct{})}
		if !s.trackQUIC(qc) {
			c.CloseWithError(noError, "demo: server closed")
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrackQUIC(qc)
			defer close(qc.done)
			trace.arm()
			qc.srv.ServeQUICConn(c)
			// ServeQUICConn returns once the connection closed or its server shut down; either
			// way nothing more is served on it.
			c.CloseWithError(noError, "")
		}()
	}
}

// trackQUIC counts qc as accepted and open, unless Close has begun.
func (s *Server) trackQUIC(qc *quicConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Close sets closed before CloseConns takes mu: a connection added here is closed there.
	if s.closed.Load() {
		return false
	}
	s.quicConns[qc.conn] = qc
	s.accepted.Add(1)
	s.addOpenLocked(1)
	return true
}

func (s *Server) untrackQUIC(qc *quicConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.quicConns, qc.conn)
	s.addOpenLocked(-1)
}

// goAwayQUIC starts the graceful shutdown of each open QUIC connection's HTTP/3 server: it sends
// GOAWAY, rejects new request streams with H3_REQUEST_REJECTED (RFC 9114 5.2, safe to retry),
// lets the open ones finish, and ends when the client closes the connection or Close cuts it.
// It returns once each connection has created its GOAWAY frame, which its server does once it
// takes no new request stream, just before it writes the frame; or once the connection closed;
// or with an error when ctx ends first.
func (s *Server) goAwayQUIC(ctx context.Context) error {
	s.mu.Lock()
	conns := make([]*quicConn, 0, len(s.quicConns))
	for _, qc := range s.quicConns {
		conns = append(conns, qc)
		if !qc.draining {
			qc.draining = true
			// Shutdown returns when the connection is done, or closes it when stop ends.
			s.wg.Go(func() { qc.srv.Shutdown(s.stop) })
		}
	}
	s.mu.Unlock()
	for _, qc := range conns {
		select {
		case <-qc.trace.goAway:
		case <-qc.done:
		case <-ctx.Done():
			return fmt.Errorf("demo: GOAWAY not sent on every QUIC connection: %w", context.Cause(ctx))
		}
	}
	return nil
}
