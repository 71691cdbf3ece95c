package pool

import (
	"errors"
	"fmt"
)

// Errors the gateway acts on. Errors returned by Pool.RoundTrip wrap at most
// one of them, and ErrMaybeProcessed besides when an attempt may have been
// processed.
var (
	// ErrQueueFull: every session is busy, no more may be opened and the
	// queue holds Config.QueueLength requests already (gateway: 503).
	ErrQueueFull = errors.New("pool: request queue full")

	// ErrQueueTimeout: the request waited Config.QueueTimeout in the queue
	// without getting a stream (gateway: 503).
	ErrQueueTimeout = errors.New("pool: timed out waiting for a stream")

	// ErrUnavailable: no session is live and the last dial failed; the
	// error also wraps that dial error (gateway: 502, upstream not reachable).
	ErrUnavailable = errors.New("pool: upstream not reachable")

	// ErrPeerSilent is the "dial error" of a pool with
	// Limits.FailWhileUnreachable whose session closed because the peer
	// stopped answering (SessionState.Silent): until a dial succeeds, its
	// requests fail with ErrUnavailable wrapping it.
	ErrPeerSilent = errors.New("pool: the upstream stopped answering its session")

	// ErrSessionsRefused is the "dial error" of a pool whose upstream took its connections and
	// ended the sessions (a GOAWAY, or a close) before any carried a stream, more than once in
	// a row: until a session carries one, the next dial waits for the back-off, and requests
	// that find no session fail with ErrUnavailable wrapping it.
	ErrSessionsRefused = errors.New("pool: the upstream ended its new sessions before they carried a stream")

	// ErrResponseTimeout: the upstream sent no response head within the
	// session's response timeout (gateway: 504). Never retried: the
	// upstream may be processing the request.
	ErrResponseTimeout = errors.New("pool: upstream sent no response head in time")

	// ErrBodyIdle: the upstream sent none of a response body's bytes for the sessions' body
	// idle timeout while they were awaited; the stream was reset.
	ErrBodyIdle = errors.New("pool: upstream stopped sending the response body")

	// ErrClosed: the pool is shut down.
	ErrClosed = errors.New("pool: closed")

	// ErrRequestHeaderTooLarge: the request's header fields are more than
	// the upstream said it takes (HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE),
	// so nothing was sent (gateway: 431). Never retried: every session of an
	// upstream says the same.
	ErrRequestHeaderTooLarge = errors.New("pool: request header fields larger than the upstream takes")

	// ErrNoExtendedConnect: the request is an extended CONNECT (see
	// ConnectProtocol) and the upstream did not announce
	// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 3, RFC 9220 3), so
	// nothing was sent. Never retried: every session of an upstream says
	// the same.
	ErrNoExtendedConnect = errors.New("pool: upstream does not take extended CONNECT")

	// ErrNotProcessed is wrapped by a Session's RoundTrip error when the
	// upstream provably did not process the request (RFC 9113 8.7: a refused
	// stream, a stream above a GOAWAY's last stream ID, a session that died
	// before the request was written). The pool retries such a request on
	// another session when its body can be replayed. A Pool.RoundTrip error
	// that wraps ErrMaybeProcessed as well was not processed in its last
	// attempt only: an earlier one may have been.
	ErrNotProcessed = errors.New("pool: request not processed by the upstream")

	// ErrMaybeProcessed is wrapped by a Session's RoundTrip error when the
	// request is idempotent and its session died after it was sent, before
	// its response head: the upstream may have processed it. RFC 9110 9.2.2
	// lets a client send it again, and the pool does, once: an upstream that
	// closes an idle connection without a GOAWAY races the requests sent on
	// it, and the client should not pay for that race, while an upstream that
	// drops the connection for this very request would run it at every try.
	// Pool.RoundTrip wraps it in the error of a request one of whose attempts
	// failed so, whatever the last attempt's error: such a request must not
	// be sent anywhere else.
	ErrMaybeProcessed = errors.New("pool: request possibly processed by the upstream before its session died")

	// ErrSessionFailed is wrapped by a Session's RoundTrip error when the
	// request failed because its session (the connection) ended under it,
	// where neither of the two above applies: a failure of the path or the
	// connection, not of this one request, as a stream reset on a live
	// connection or a response past a per-request limit is. The gateway's
	// HTTP/3 fallback counts the former and not the latter. A response body's
	// error wraps it too when the session died under the body.
	ErrSessionFailed = errors.New("pool: upstream session failed")
)

// NotProcessed returns an error that wraps both ErrNotProcessed and err.
// Sessions use it to mark an error as safe to retry.
func NotProcessed(err error) error {
	return fmt.Errorf("%w: %w", ErrNotProcessed, err)
}

// MaybeProcessed returns an error that wraps both ErrMaybeProcessed and err.
// Sessions use it for an idempotent request whose session died after it was
// sent (see ErrMaybeProcessed).
func MaybeProcessed(err error) error {
	return fmt.Errorf("%w: %w", ErrMaybeProcessed, err)
}

// SessionFailed returns an error that wraps both ErrSessionFailed and err.
func SessionFailed(err error) error {
	return fmt.Errorf("%w: %w", ErrSessionFailed, err)
}
