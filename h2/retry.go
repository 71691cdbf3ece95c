package h2

import (
	"fmt"
	"net/http"

	"muxgate/internal/pool"
)

// streamFailed wraps the error of a request whose stream on session id
// ended before its response head. Both engines decide what they know and
// this decides the rest, so that both retry the same requests. The error
// wraps
//   - pool.ErrNotProcessed, which lets the pool send the request again on
//     another session, when notProcessed: the upstream provably did not
//     process the request (RFC 9113 8.7): REFUSED_STREAM, a stream above a
//     GOAWAY's last stream ID (6.8), or a session that closed or drained
//     before the stream's HEADERS were written;
//   - pool.ErrMaybeProcessed, which lets the pool send it again once, when
//     the session died before the response head and the request is
//     idempotent (RFC 9110 9.2.2): the upstream may have processed it, but
//     one that closes an idle connection without GOAWAY races the request
//     sent on it, and the client should not pay for that race;
//   - pool.ErrSessionFailed when the session died and the request may not go
//     again: the connection failed, not this one request.
func streamFailed(id uint64, err error, req *http.Request, notProcessed, died bool) error {
	err = fmt.Errorf("h2: session %d: %w", id, err)
	switch {
	case notProcessed:
		return pool.NotProcessed(err)
	case died && idempotent(req):
		return pool.MaybeProcessed(err)
	case died:
		return pool.SessionFailed(err)
	}
	return err
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
