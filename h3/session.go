package h3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"muxgate/internal/pool"
)

// noError closes a connection gracefully (RFC 9114 8.1, H3_NO_ERROR).
const noError = quic.ApplicationErrorCode(http3.ErrCodeNoError)

// session is one QUIC connection with quic-go's HTTP/3 ClientConn on it. It
// implements pool.Session.
//
// quic-go's ClientConn does not tell when a GOAWAY arrived: it closes the
// connection itself once a GOAWAY arrived and no stream is open, and until
// then refuses to open new streams. A request that finds it so fails before
// its stream opens, which marks the session draining and sends the request,
// not processed, to another session.
type session struct {
	id         uint64
	conn       *quic.Conn
	cc         *http3.ClientConn
	maxStreams int
	timeout    time.Duration // Config.ResponseTimeout
	bodyIdle   time.Duration // Config.BodyIdleTimeout

	draining atomic.Bool // no new streams: Shutdown began, or a stream could not be opened
	// ended holds the error with which quic-go failed a stream as the connection ended
	// (connectionEnded), for State: quic-go fails the streams before the connection's
	// context is done, and a request sent again at once would otherwise find the session
	// live, and not silent after an idle timeout.
	ended atomic.Pointer[error]

	mu     sync.Mutex
	active int           // guarded by mu; streams from Reserve until the response body ends
	idle   chan struct{} // guarded by mu; made by Shutdown, closed by whoever ends the last stream
}

func newSession(id uint64, conn *quic.Conn, cc *http3.ClientConn, maxStreams int, timeout, idle time.Duration) *session {
	return &session{id: id, conn: conn, cc: cc, maxStreams: maxStreams, timeout: timeout, bodyIdle: idle}
}

func (s *session) closed() bool { return s.ended.Load() != nil || s.conn.Context().Err() != nil }

// endedBy reports whether err, a stream's failure, says that the connection ended, or the
// connection has, and records the first such err for State.
func (s *session) endedBy(err error) bool {
	if connectionEnded(err) {
		s.ended.CompareAndSwap(nil, &err)
		return true
	}
	return s.closed()
}

func (s *session) Reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() || s.closed() {
		return false
	}
	s.active++
	return true
}

func (s *session) State() pool.SessionState {
	closed := s.closed()
	return pool.SessionState{
		Closed:     closed,
		Silent:     closed && s.silent(),
		Draining:   s.draining.Load(),
		MaxStreams: s.maxStreams,
	}
}

// silent reports whether the closed connection died of its idle timeout: nothing came from the
// peer for -quic-idle-timeout, though quic-go PINGs it after half that without a packet (its
// keep-alive, KeepAlivePeriod): its host may be gone.
func (s *session) silent() bool {
	cause := context.Cause(s.conn.Context())
	if ended := s.ended.Load(); ended != nil {
		cause = *ended
	}
	_, idle := errors.AsType[*quic.IdleTimeoutError](cause)
	return idle
}

// streamDone ends a stream counted by Reserve.
func (s *session) streamDone() {
	s.mu.Lock()
	s.active--
	if s.active == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// Shutdown takes no new streams, waits for the open ones to end, and closes
// the connection with H3_NO_ERROR. quic-go's client cannot send a GOAWAY of
// its own; closing once idle is what RFC 9114 5.2 asks of it after one.
func (s *session) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	var idle chan struct{}
	if s.active > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	s.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-s.conn.Context().Done():
		case <-ctx.Done():
			return fmt.Errorf("h3: session %d: shutdown: %w", s.id, ctx.Err())
		}
	}
	return s.Close()
}

func (s *session) Close() error {
	s.draining.Store(true)
	return s.cc.CloseWithError(noError, "")
}

// RoundTrip sends req on a new stream. Its error wraps pool.ErrNotProcessed
// when the upstream provably did not process req, and pool.ErrMaybeProcessed
// when req is idempotent and may have been (see classify). An extended
// CONNECT (pool.ConnectProtocol, RFC 9220) goes through roundTripTunnel; one
// the upstream's SETTINGS did not enable fails with pool.ErrNoExtendedConnect
// before a stream opens.
func (s *session) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := s.checkConnect(req); err != nil {
		s.streamDone()
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if pool.ConnectProtocol(req) != "" && len(req.Trailer) == 0 {
		// quic-go's RequestStream cannot send trailers; a tunnel has none (RFC 9110 9.3.6).
		return s.roundTripTunnel(req)
	}
	req = plainConnect(req)
	t := &streamTrace{}
	idle := s.bodyIdle
	if req.Method == http.MethodConnect {
		idle = 0 // a tunnel's silence is its own (see Config.BodyIdleTimeout)
	}
	sent, timer := pool.StartHeadTimer(req, s.timeout, idle)
	ctx := httptrace.WithClientTrace(sent.Context(), &httptrace.ClientTrace{
		WroteHeaderField: t.wroteHeaderField,
		WroteHeaders:     t.wroteHeaders,
		Got1xxResponse:   pool.Got1xxResponse(req.Context()),
	})
	r := sent.WithContext(ctx)
	if r.Body == http.NoBody {
		// quic-go sends any non-nil Body on a goroutine of its own with an 8 KiB buffer; nil
		// closes the stream's sending side with the HEADERS, as a bodiless request should.
		r.Body = nil
	}
	res, err := timer.Headed(s.cc.RoundTrip(r))
	if err != nil {
		s.streamDone()
		if !t.opened.Load() && req.Context().Err() == nil && !s.closed() {
			// A live connection that would not open a stream met a GOAWAY
			// (quic-go fails the request before the stream opens, as RFC
			// 9114 5.2 asks): the session drains from now on.
			s.draining.Store(true)
		}
		closed := s.endedBy(err)
		err = classify(err, attempt{opened: t.opened.Load(), wrote: t.wrote.Load(), closed: closed, idempotent: idempotent(req)})
		return nil, fmt.Errorf("h3: session %d: %w", s.id, cancelled(req.Context(), err))
	}
	if res.Body == nil || res.Body == http.NoBody {
		s.streamDone()
		return res, nil
	}
	res.Body = &body{rc: res.Body, s: s, ctx: req.Context()}
	return res, nil
}

// checkConnect fails an extended CONNECT that the upstream did not enable
// with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 9220 3). quic-go would refuse
// it too, with an error that only its text tells apart; its ClientConn's
// SETTINGS, which dial waited for, tell it here.
func (s *session) checkConnect(req *http.Request) error {
	if pool.ConnectProtocol(req) == "" || s.cc.Settings().EnableExtendedConnect {
		return nil
	}
	return fmt.Errorf("h3: session %d: %w", s.id, pool.ErrNoExtendedConnect)
}

// plainConnect returns req, or for a plain CONNECT (see pool.ConnectProtocol)
// whose Proto names an HTTP version other than HTTP/1.1, such as an HTTP/1.0
// client's, a copy without it: quic-go sends any other Proto of a CONNECT as
// :protocol.
func plainConnect(req *http.Request) *http.Request {
	if req.Method != http.MethodConnect || req.Proto == "" || req.Proto == "HTTP/1.1" || pool.ConnectProtocol(req) != "" {
		return req
	}
	r := new(http.Request)
	*r = *req
	r.Proto = ""
	return r
}

// cancelled returns err, the failure of a request whose context is ctx, wrapping ctx.Err() as
// well when ctx has ended: quic-go resets the stream of a request whose context ends and fails
// it with its own H3_REQUEST_CANCELLED (local) (RFC 9114 4.1.1), which does not say that the
// caller, not the upstream, ended it (a gateway's client that went away).
func cancelled(ctx context.Context, err error) error {
	if ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// connectionEnded reports whether err says the QUIC connection itself ended (CONNECTION_CLOSE
// from either side, an idle timeout, a stateless reset) rather than this one stream: quic-go
// may fail the stream with it before the connection's context is done.
func connectionEnded(err error) bool {
	_, app := errors.AsType[*quic.ApplicationError](err)
	_, transport := errors.AsType[*quic.TransportError](err)
	_, idle := errors.AsType[*quic.IdleTimeoutError](err)
	_, reset := errors.AsType[*quic.StatelessResetError](err)
	return app || transport || idle || reset
}

// classify wraps err, marking it not processed when RFC 9114 says so:
// H3_REQUEST_REJECTED (4.1.1, 8.1), a stream that never opened (the
// connection was closed or had received a GOAWAY), or a connection that
// closed before the request's HEADERS frame was written. An idempotent
// request whose connection closed after that, before its response, is marked
// possibly processed (pool.ErrMaybeProcessed), which the pool retries once
// (RFC 9110 9.2.2): an upstream that drops a connection races the requests
// sent on it, and the client should not pay for that race. Any other request
// whose connection closed is marked pool.ErrSessionFailed: the connection
// failed, not the request, unlike a stream reset on a live connection (a
// handler's H3_INTERNAL_ERROR, RFC 9114 8.1) or quic-go's bound on 1xx
// responses. These are h2's streamFailed rules, so both protocols retry the
// same requests.
func classify(err error, a attempt) error {
	var he *http3.Error
	switch {
	case errors.As(err, &he) && he.ErrorCode == http3.ErrCodeRequestRejected,
		!a.opened,
		!a.wrote && a.closed:
		return pool.NotProcessed(err)
	case a.idempotent && a.closed:
		return pool.MaybeProcessed(err)
	case a.closed:
		return pool.SessionFailed(err)
	}
	return err
}

// attempt is what a failed round trip got to.
type attempt struct {
	opened     bool // the request's stream was opened
	wrote      bool // its HEADERS frame was written to the stream
	closed     bool // the connection is closed now
	idempotent bool // see idempotent
}

// streamTrace follows one request through quic-go's ClientConn. quic-go
// reports header fields only after it opened the request's stream, and
// WroteHeaders once the whole HEADERS frame went to the stream.
type streamTrace struct {
	opened atomic.Bool
	wrote  atomic.Bool
}

func (t *streamTrace) wroteHeaderField(string, []string) { t.opened.Store(true) }

func (t *streamTrace) wroteHeaders() { t.wrote.Store(true) }

// body ends its stream's count in the session when it ends or is closed.
// Its read errors wrap the request context's error once that has ended (see
// cancelled).
type body struct {
	rc   io.ReadCloser
	s    *session
	ctx  context.Context // the request's
	stop func() bool     // nil, or stops roundTripTunnel's reset of the stream at the context's end
	done atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		if err != io.EOF {
			b.s.endedBy(err) // before end releases the stream to a pool that may pick the session
			err = bodyFailed(b.ctx, err)
		}
		b.end()
	}
	return n, err
}

// bodyFailed wraps err, the failure of a response body whose request's context is ctx, as
// cancelled does, and with pool.ErrSessionFailed where the connection ended under the body: the
// caller may send an idempotent request again then. quic-go may fail the stream before the
// connection's context is done, which the pool's own check of the session's state would miss.
func bodyFailed(ctx context.Context, err error) error {
	err = cancelled(ctx, err)
	if connectionEnded(err) {
		err = pool.SessionFailed(err)
	}
	return err
}

func (b *body) Close() error {
	if b.stop != nil {
		// Before rc's Close, which ends a head timer's context (pool.HeadTimer), whose end
		// would otherwise reset the stream both ways, the tunnel's sending side with it.
		b.stop()
	}
	err := b.rc.Close()
	b.end()
	return err
}

func (b *body) end() {
	if b.done.CompareAndSwap(false, true) {
		if b.stop != nil {
			b.stop()
		}
		b.s.streamDone()
	}
}

// idempotent reports whether req may be sent twice without harm: an
// idempotent method (RFC 9110 9.2.2) and no body.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}
