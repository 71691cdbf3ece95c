package h2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"muxgate/h2/internal/h2conn"
	"muxgate/internal/pool"
)

// ownSession is one HTTP/2 connection of EngineOwn, an h2conn.Conn. It
// implements pool.Session.
type ownSession struct {
	id   uint64
	conn *h2conn.Conn
}

// ownConfig is the h2conn configuration for cfg, whose defaults are
// filled. The pool's limit on streams per session caps the connection's
// too, so that neither refuses what the other allows.
func ownConfig(cfg Config) h2conn.Config {
	return h2conn.Config{
		StreamWindow: uint32(cfg.StreamWindow),
		ConnWindow:   uint32(cfg.ConnWindow),
		MaxStreams:   cfg.MaxStreamsPerSession,
		MaxFrameSize: uint32(cfg.MaxFrameSize),
		PingInterval: max(cfg.PingInterval, 0),
		PingTimeout:  cfg.PingTimeout,
		// A session whose requests wait is PINGed sooner: see Config.PingTimeout.
		BusyPingAfter: cfg.PingTimeout,
		// Polled by the connection's watch: no timer per request.
		ResponseTimeout: cfg.ResponseTimeout,
		BodyIdleTimeout: cfg.BodyIdleTimeout,
	}
}

// dialOwn starts an EngineOwn session on c, which it owns from then on. h2conn.New returns
// once the peer's first SETTINGS has arrived (RFC 9113 3.4), so the peer is known to speak
// HTTP/2 and its stream limit is known before any request is sent; unlike x/net's session, no
// PING round trip is needed for that.
func (p *Pool) dialOwn(ctx context.Context, id uint64, c net.Conn) (pool.Session, error) {
	cfg := p.own
	cfg.Logger = p.log.With().Uint64("session", id).Logger()
	conn, err := h2conn.New(ctx, c, cfg)
	if err != nil {
		return nil, fmt.Errorf("h2: %s: %w", p.cfg.Address, err)
	}
	return &ownSession{id: id, conn: conn}, nil
}

// Reserve reserves a stream on the connection. It fails when the
// connection is draining or closed, or is full by the peer's latest
// SETTINGS_MAX_CONCURRENT_STREAMS (the pool then drops the session).
func (s *ownSession) Reserve() bool { return s.conn.Reserve() }

// RoundTrip sends req on the reserved stream. Its error wraps
// pool.ErrNotProcessed when the upstream provably did not process req, and
// pool.ErrMaybeProcessed when an idempotent req may have been (see streamFailed).
func (s *ownSession) RoundTrip(req *http.Request) (*http.Response, error) {
	st, err := s.Start(req, nil)
	if err != nil {
		return nil, err
	}
	return s.Await(st, req)
}

// SendsRequestList marks the session a pool.RequestListSession: Start sends
// the fields of Info.Request for a request whose Header is nil.
func (s *ownSession) SendsRequestList() {}

// Start sends req on the reserved stream without waiting for the response
// head, which Await returns. Its errors are RoundTrip's.
func (s *ownSession) Start(req *http.Request, f pool.HeadFailer) (pool.Started, error) {
	o := h2conn.StartOptions{Failed: f}
	if info := pool.InfoFrom(req.Context()); info != nil {
		o.ListHead = info.List != nil
		o.Interim = info.Interim
		if req.Header == nil {
			o.Fields = info.Request
		}
	}
	st, id, err := s.conn.StartReservedWith(req, o)
	if err != nil {
		setStreamID(req, id)
		return nil, s.failed(req, err)
	}
	return st, nil
}

// Await waits for the response head of the stream Start opened.
func (s *ownSession) Await(started pool.Started, req *http.Request) (*http.Response, error) {
	st := started.(*h2conn.Started)
	res, id, err := st.Await()
	info := pool.InfoFrom(req.Context())
	if info != nil {
		info.StreamID = uint64(id)
	}
	if err != nil {
		return nil, s.failed(req, err)
	}
	if info != nil && info.List != nil && res.Header == nil {
		info.List.Fields = st.Fields() // as Start asked
	}
	return res, nil
}

// setStreamID records the stream's ID in the Info of req's context, if any.
func setStreamID(req *http.Request, id uint32) {
	if info := pool.InfoFrom(req.Context()); info != nil {
		info.StreamID = uint64(id)
	}
}

// failed is the pool's error for a stream whose response head never came.
// The stream failed with the connection exactly when its error wraps the
// connection's.
func (s *ownSession) failed(req *http.Request, err error) error {
	cerr := s.conn.Err()
	died := cerr != nil && errors.Is(err, cerr)
	switch {
	case errors.Is(err, h2conn.ErrResponseTimeout):
		err = errors.Join(pool.ErrResponseTimeout, err)
	case errors.Is(err, h2conn.ErrHeaderListSize):
		err = errors.Join(pool.ErrRequestHeaderTooLarge, err)
	case errors.Is(err, h2conn.ErrNoExtendedConnect):
		err = errors.Join(pool.ErrNoExtendedConnect, err)
	}
	return streamFailed(s.id, err, req, errors.Is(err, h2conn.ErrUnprocessed), died)
}

// State never waits for I/O: h2conn holds its state lock only briefly.
func (s *ownSession) State() pool.SessionState {
	st := s.conn.State()
	return pool.SessionState{Closed: st.Closed, Silent: st.Silent, Draining: st.Draining, MaxStreams: st.MaxStreams}
}

func (s *ownSession) Shutdown(ctx context.Context) error { return s.conn.Shutdown(ctx) }

func (s *ownSession) Close() error { return s.conn.Close() }
