package h2

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"muxgate/internal/pool"
)

// session is one HTTP/2 connection of EngineXNet: an x/net ClientConn over
// a watchConn. It implements pool.Session.
type session struct {
	id      uint64
	cc      *http2.ClientConn
	conn    *watchConn
	timeout time.Duration // Config.ResponseTimeout
	idle    time.Duration // Config.BodyIdleTimeout
}

func (s *session) Reserve() bool {
	// x/net lets a closed ClientConn that never carried a stream take one,
	// to report the error; the pool wants a live session instead.
	return !s.conn.closed.Load() && s.cc.ReserveNewRequest()
}

// State reads what the watchConn saw on the wire, and x/net's mu-only
// CanTakeNewRequest: ClientConn.State would take the write lock, which a
// stalled write holds.
func (s *session) State() pool.SessionState {
	return pool.SessionState{
		Closed:     s.conn.closed.Load(),
		Draining:   s.conn.goAway.Load() >= 0 || !s.cc.CanTakeNewRequest(),
		MaxStreams: int(s.conn.maxStreams.Load()),
	}
}

func (s *session) Shutdown(ctx context.Context) error { return s.cc.Shutdown(ctx) }

func (s *session) Close() error { return s.cc.Close() }

// RoundTrip sends req on a new stream. Its error wraps pool.ErrNotProcessed
// when the upstream provably did not process req, or when req may be sent
// again (see streamFailed). An extended CONNECT (pool.ConnectProtocol) goes
// as x/net takes one, with its protocol as the ":protocol" field; its error
// wraps pool.ErrNoExtendedConnect when the upstream did not enable it.
func (s *session) RoundTrip(req *http.Request) (*http.Response, error) {
	protocol := pool.ConnectProtocol(req)
	if protocol != "" {
		req = withProtocolField(req, protocol)
	}
	t := &streamTrace{conn: s.conn}
	idle := s.idle
	if req.Method == http.MethodConnect {
		idle = 0 // a tunnel's silence is its own (see Config.BodyIdleTimeout)
	}
	sent, timer := pool.StartHeadTimer(req, s.timeout, idle)
	ctx := httptrace.WithClientTrace(sent.Context(), &httptrace.ClientTrace{
		WroteHeaderField: t.wroteHeaderField,
		Got1xxResponse:   pool.Got1xxResponse(req.Context()),
	})
	res, err := timer.Headed(s.cc.RoundTrip(sent.WithContext(ctx)))
	id := t.id.Load()
	if info := pool.InfoFrom(req.Context()); info != nil {
		info.StreamID = uint64(id)
	}
	if err != nil {
		if protocol != "" && !s.conn.extConnect.Load() && req.Context().Err() == nil {
			// x/net refuses it with an unexported error; the watchConn saw the
			// SETTINGS x/net decided by (dial's PING round trip waited for them).
			err = errors.Join(pool.ErrNoExtendedConnect, err)
		}
		// x/net returns a stream's error only after its writer ended (or
		// on cancellation, which is never retried), so wrote is final here.
		return nil, streamFailed(s.id, err, req, s.notProcessed(err, id, t.wrote.Load()), s.conn.closed.Load())
	}
	return res, nil
}

// withProtocolField returns a copy of req, an extended CONNECT, whose Header
// is a copy of req's with protocol as the ":protocol" field, which is how
// x/net's client takes an extended CONNECT (RFC 8441 4). The caller's Header
// may be shared, so it is not changed.
func withProtocolField(req *http.Request, protocol string) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header, 1)
	}
	r.Header[":protocol"] = []string{protocol}
	return r
}

// notProcessed reports whether RFC 9113 says the upstream did not process
// the request of stream id: REFUSED_STREAM (8.7), a stream above a
// GOAWAY's last stream ID (6.8), or a session that closed or drained before
// the stream's HEADERS were written.
//
// x/net reports the GOAWAY case with an unexported error; the watchConn's
// record of the GOAWAY frame stands in for it.
func (s *session) notProcessed(err error, id uint32, wrote bool) bool {
	var se http2.StreamError
	return errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream ||
		wrote && s.conn.goAway.Load() >= 0 && int64(id) > s.conn.goAway.Load() ||
		!wrote && s.unusable()
}

func (s *session) unusable() bool {
	return s.conn.closed.Load() || s.conn.goAway.Load() >= 0 || !s.cc.CanTakeNewRequest()
}

// streamTrace learns a request's stream ID from the watchConn. x/net
// reports each header field while it encodes a request (WroteHeaderField),
// holding the write lock it keeps until the HEADERS frame is written; the
// first report claims the next stream the watchConn sees opened.
type streamTrace struct {
	conn    *watchConn
	claimed bool          // owned by x/net's writer, the only caller of wroteHeaderField
	id      atomic.Uint32 // set by the watchConn before the HEADERS frame is written
	wrote   atomic.Bool   // set by the watchConn once the whole HEADERS frame was written
}

func (t *streamTrace) wroteHeaderField(string, []string) {
	if !t.claimed {
		t.claimed = true
		t.conn.claimNext(t)
	}
}
