package pool

import (
	"context"
	"net/http"
	"time"

	"muxgate/internal/fieldlist"
)

// Session is one multiplexed connection to the upstream (an HTTP/2
// connection or a QUIC session) as the pool sees it. Its methods are safe
// for concurrent use.
type Session interface {
	// Reserve reserves one stream for a RoundTrip that follows at once. It
	// returns false when the session takes no new streams at all: it is
	// draining or closed. The pool keeps count of streams itself (against
	// State's MaxStreams), so Reserve need not refuse for a full session; a
	// session that does is dropped.
	Reserve() bool

	// RoundTrip sends req on the stream that Reserve reserved. When the
	// upstream provably did not process req, the error wraps ErrNotProcessed
	// (see NotProcessed); when req is idempotent and the session died after
	// it was sent, ErrMaybeProcessed (see MaybeProcessed); else when the
	// session died under req, ErrSessionFailed. If req's context carries an Info, RoundTrip may set
	// its StreamID before it returns.
	RoundTrip(req *http.Request) (*http.Response, error)

	// Shutdown stops new streams (GOAWAY), waits for the open ones to end and
	// closes the session. If ctx ends first it returns an error and leaves
	// the session to Close.
	Shutdown(ctx context.Context) error

	// Close closes the session at once, failing its open streams.
	Close() error

	// State reports Closed, Draining and MaxStreams. The pool calls it under
	// its own lock for every pick, so it must be cheap and never wait for
	// I/O.
	State() SessionState
}

// RequestListSession is a Session that sends the fields of a request whose
// Header is nil from the Info.Request of its context.
type RequestListSession interface {
	Session
	SendsRequestList()
}

// forSession returns req as session s must get it: a request whose fields
// travel as a list (Info.Request) goes to a session that does not send lists
// as a copy with a Header made of them.
func forSession(s Session, req *http.Request, info *Info) *http.Request {
	if req.Header != nil || info == nil || info.Request == nil {
		return req
	}
	if _, ok := s.(RequestListSession); ok {
		return req
	}
	r := new(http.Request)
	*r = *req
	r.Header = fieldlist.Header(info.Request)
	return r
}

// SessionState is a snapshot of one session. The session fills Closed,
// Silent, Draining and MaxStreams; the pool fills ID, InFlight and LastIdle from its
// own accounting.
type SessionState struct {
	ID         uint64    // assigned by the pool at dial, from 1
	Closed     bool      // the connection is gone
	Silent     bool      // closed because the peer stopped answering (an unanswered PING): its host may be gone
	Draining   bool      // no new streams: GOAWAY received or sent
	MaxStreams int       // the peer's limit on concurrent streams (0: none now); NoLimit: none announced
	InFlight   int       // streams the pool counts: from Reserve until the response body ends
	LastIdle   time.Time // when InFlight last fell to zero, or the dial time
}

// NoLimit is SessionState.MaxStreams for a peer that announced no limit.
const NoLimit = -1

// DialFunc opens a session. id is the pool's ID for it, for logs. turn tells a dialer that
// tries the addresses of a name which to try first (addrs.Resolve): the session's ID, so that
// successive sessions go to one address after another, or, with Limits.MinSessions, its slot,
// so that the sessions kept hold one address each. The function must return once ctx ends (at
// Shutdown) and bound its own time (a dial timeout).
type DialFunc func(ctx context.Context, id, turn uint64) (Session, error)
