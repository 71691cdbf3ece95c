package h2conn

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/net/http2"

	"muxgate/internal/pool"
)

// Sentinel errors the caller acts on.
var (
	// ErrUnprocessed is wrapped by a RoundTrip error when the peer provably
	// did not process the request (RFC 9113 8.7): the stream was refused
	// (REFUSED_STREAM), it was above the last stream ID of a GOAWAY, no
	// stream was free, or the connection failed before the request's
	// HEADERS were handed to the network (or with the write that carried
	// them, which wrote nothing). Such a request may be retried on another
	// connection.
	ErrUnprocessed = errors.New("h2conn: request not processed by the peer")

	// ErrClosed is the cause when Close or Shutdown ended the connection.
	ErrClosed = errors.New("h2conn: connection closed")

	// ErrResponseTimeout is wrapped by the error of a RoundTrip that got no
	// response head within Config.ResponseTimeout.
	ErrResponseTimeout = errors.New("h2conn: no response head in time")

	// ErrBodyIdle is wrapped by the error of a Body read that waited Config.BodyIdleTimeout
	// for bytes of the response body that did not come.
	ErrBodyIdle = fmt.Errorf("h2conn: %w", pool.ErrBodyIdle)

	// ErrHeaderListSize is wrapped by the error of a RoundTrip whose
	// request header list is larger than the peer's
	// SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 6.5.2): nothing was sent.
	ErrHeaderListSize = errors.New("h2conn: request header list larger than the peer allows")

	// ErrNoExtendedConnect is wrapped by the error of a RoundTrip of an
	// extended CONNECT (see StartReservedWith) on a connection whose peer
	// did not enable it in its first SETTINGS (SETTINGS_ENABLE_CONNECT_PROTOCOL,
	// RFC 8441 3): nothing was sent.
	ErrNoExtendedConnect = errors.New("h2conn: peer did not enable extended CONNECT")
)

var (
	errNoStream     = errors.New("h2conn: no stream available")
	errBodyClosed   = errors.New("h2conn: read on closed response body")
	errPingTimeout  = errors.New("h2conn: keep-alive ping not answered")
	errSettingsWait = errors.New("h2conn: peer sent no SETTINGS in time")
	errStreamIDs    = errors.New("h2conn: stream IDs exhausted")
	errReqBodyShort = errors.New("h2conn: request body shorter than ContentLength")
)

// StreamError is a stream that ended with RST_STREAM, sent by the peer
// (Remote) or by us because the peer broke the protocol on that stream.
type StreamError struct {
	StreamID uint32
	Code     http2.ErrCode
	Remote   bool // the peer reset the stream
}

func (e *StreamError) Error() string {
	s := "h2conn: stream " + strconv.FormatUint(uint64(e.StreamID), 10)
	if e.Remote {
		s += " reset by peer: "
	} else {
		s += " reset: "
	}
	return s + e.Code.String()
}

// ConnError is a connection that ended with a GOAWAY carrying an error
// code, sent by the peer (Remote) or by us because the peer broke the
// protocol. A GOAWAY(NO_ERROR) from the peer is a ConnError with Code
// NO_ERROR for the streams it cut off.
type ConnError struct {
	Code         http2.ErrCode
	Remote       bool   // the peer sent the GOAWAY
	LastStreamID uint32 // from the peer's GOAWAY; 0 for our own errors
	Reason       string // our reason, or the peer's debug data
}

func (e *ConnError) Error() string {
	s := "h2conn: connection error: "
	if e.Remote {
		s = "h2conn: GOAWAY from peer (last stream " +
			strconv.FormatUint(uint64(e.LastStreamID), 10) + "): "
	}
	s += e.Code.String()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// opError is an I/O failure of the connection.
type opError struct {
	op  string // "read" or "write"
	err error
}

func (e *opError) Error() string { return "h2conn: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// unprocessedError marks err as "the peer did not process the request".
type unprocessedError struct{ err error }

func (e *unprocessedError) Error() string   { return e.err.Error() + " (request not processed)" }
func (e *unprocessedError) Unwrap() []error { return []error{ErrUnprocessed, e.err} }

func unprocessed(err error) error {
	if errors.Is(err, ErrUnprocessed) {
		return err
	}
	return &unprocessedError{err}
}

// wrapError is an error with our prefix around a cause from elsewhere
// (a request body, a context).
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }
