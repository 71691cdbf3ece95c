package h1

import (
	"errors"
	"net/http"
	"strings"
)

// ErrMalformedBody is matched (errors.Is) by the error a request body's Read returns when the
// body's framing is broken: a malformed or overlong chunk line, a chunk not followed by CRLF, a
// malformed trailer section, or framing that outweighs its data. The connection is not reused.
// If the handler writes nothing, the server answers 400 itself; a handler that answers on its
// own should use 400 as well.
var ErrMalformedBody = errors.New("h1: malformed request body")

// ErrBodyTimeout is matched (errors.Is) by the error a request body's Read returns when the
// client sent nothing for BodyReadTimeout or sent its content slower than MinBodyRate, and it is
// the cause of the request's cancelled context.
// The connection is closed after the response; if the handler writes nothing, the server answers
// 408 itself.
var ErrBodyTimeout = errors.New("h1: request body timeout")

// ErrBodyTooLarge is the error a chunked request body's Read returns once the content passes
// MaxBodyBytes. The connection is closed after the response; if the handler writes nothing, the
// server answers 413 itself.
var ErrBodyTooLarge = errors.New("h1: request body too large")

// ErrPipelineClosed is the cause (context.Cause) of the cancelled context of a pipelined request
// that will get no response, because the server closed the connection before its turn: an
// earlier response on the connection failed, or the connection did. A client that went away is
// another cause.
var ErrPipelineClosed = errors.New("h1: connection closed before this pipelined response's turn")

// ErrTunnelIdle is the cause (context.Cause) of the cancelled context of a request whose
// connection was switched to another protocol (Upgrade) and then carried no byte either way for
// Config.TunnelIdleTimeout.
var ErrTunnelIdle = errors.New("h1: switched connection idle")

// ErrTunnelClosed is the error of a Tunnel's Read or Write once its handler has returned.
var ErrTunnelClosed = errors.New("h1: switched connection closed")

// ErrNotUpgradable is Upgrade's error for a response that cannot switch its connection.
var ErrNotUpgradable = errors.New("h1: request cannot switch protocols")

// statusError is a request the server refuses on its own, before or instead of the handler. It is
// answered with code, the reason as a short plain-text body, and Connection: close, and then the
// connection is closed.
type statusError struct {
	code   int
	reason string
	key    string // the reason as a log token: "request header too large" -> request_header_too_large
}

func (e *statusError) Error() string { return "h1: " + e.reason }

// refusal makes the statusError that answers code with reason.
func refusal(code int, reason string) *statusError {
	key := []byte(strings.ToLower(reason))
	for i, b := range key {
		if (b < 'a' || b > 'z') && (b < '0' || b > '9') {
			key[i] = '_'
		}
	}
	return &statusError{code: code, reason: reason, key: string(key)}
}

// Refusal is a request the server answered on its own, before or instead of the handler (a
// malformed or oversized head, a head that did not complete in time, a Content-Length beyond
// MaxBodyBytes, a connection beyond MaxConnsPerIP, a CONNECT), as Config.OnRefusal gets it.
type Refusal struct {
	RemoteAddr            string
	Method, Target, Proto string // from the request line; empty if it was not read that far
	Status                int
	Reason                string // a short token: request_header_too_large, malformed_request_line, ...
}

// The refusals, each with the rule it enforces.
var (
	// RFC 9112 3: request-line = method SP request-target SP HTTP-version, single spaces.
	errRequestLine = refusal(http.StatusBadRequest, "malformed request line")
	// RFC 9110 9.1: method = token.
	errMethod = refusal(http.StatusBadRequest, "malformed method")
	// RFC 9112 3.2: the four forms of request-target; no whitespace, controls or fragment.
	errTarget = refusal(http.StatusBadRequest, "malformed request target")
	// RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
	errVersionSyntax = refusal(http.StatusBadRequest, "malformed HTTP version")
	// RFC 9110 15.6.6: only HTTP/1.x is served here.
	errVersion = refusal(http.StatusHTTPVersionNotSupported, "HTTP version not supported")
	// RFC 9112 2.2: lines end in CRLF; this parser accepts no bare LF.
	errBareLF = refusal(http.StatusBadRequest, "line not terminated by CRLF")
	// RFC 9112 5.2: obs-fold outside message/http is rejected with 400.
	errObsFold = refusal(http.StatusBadRequest, "obsolete line folding")
	// RFC 9112 5: field-line = field-name ":" OWS field-value OWS.
	errFieldLine = refusal(http.StatusBadRequest, "malformed header field")
	// RFC 9110 5.1: field-name = token.
	errFieldName = refusal(http.StatusBadRequest, "malformed header field name")
	// RFC 9112 5.1: whitespace between field name and colon MUST be answered with 400.
	errSpaceBeforeColon = refusal(http.StatusBadRequest, "whitespace before colon in header field")
	// RFC 9110 5.5: field values hold no CR, LF, NUL or other controls except HTAB.
	errFieldValue = refusal(http.StatusBadRequest, "malformed header field value")
	// RFC 9112 3.2: an HTTP/1.1 request carries exactly one, valid, Host field.
	errMissingHost   = refusal(http.StatusBadRequest, "missing Host header")
	errDuplicateHost = refusal(http.StatusBadRequest, "more than one Host header")
	errHost          = refusal(http.StatusBadRequest, "malformed Host header")
	// The authority of an absolute-form or authority-form target must agree with Host; a
	// disagreement is a classic way to make two hops route one request differently.
	errHostMismatch = refusal(http.StatusBadRequest, "Host header differs from request target")
	// RFC 9110 8.6 and RFC 9112 6.3: Content-Length = 1*DIGIT, several values only if identical.
	errContentLength = refusal(http.StatusBadRequest, "invalid Content-Length")
	// RFC 9112 6.3: both framings at once is a smuggling shape; refused rather than repaired.
	errLengthAndChunked = refusal(http.StatusBadRequest, "both Content-Length and Transfer-Encoding")
	// RFC 9112 6.1: only a single final "chunked" is decoded here; none in HTTP/1.0.
	errTransferEncoding = refusal(http.StatusBadRequest, "unsupported Transfer-Encoding")
	// RFC 9110 9.3.6: a 2xx answer to CONNECT turns the connection into a tunnel, which this
	// server cannot make (its ResponseWriter has no Hijack); RFC 9110 15.6.2: 501 for a method it
	// does not support. The close keeps tunnel bytes sent after the head from being read as a
	// request.
	errConnect = refusal(http.StatusNotImplemented, "CONNECT not supported")
	// RFC 9110 10.1.1: an expectation other than 100-continue may be refused with 417.
	errExpectation = refusal(http.StatusExpectationFailed, "unsupported expectation")
	// RFC 6585 5.
	errHeaderTooLarge = refusal(http.StatusRequestHeaderFieldsTooLarge, "request header too large")
	errTooManyFields  = refusal(http.StatusRequestHeaderFieldsTooLarge, "too many header fields")
	// RFC 9110 15.5.15.
	errURITooLong = refusal(http.StatusRequestURITooLong, "request target too long")
	// RFC 9110 15.5.9: the head did not complete within HeaderTimeout.
	errRequestTimeout = refusal(http.StatusRequestTimeout, "request head timeout")
	// The connection ended in the middle of a request head.
	errIncompleteHead = refusal(http.StatusBadRequest, "incomplete request head")
	// The handler read a request body whose framing is broken and answered nothing.
	errBadBody = refusal(http.StatusBadRequest, "malformed request body")
	// The client sent no content for BodyReadTimeout and the handler answered nothing.
	errBodyTimeoutReply = refusal(http.StatusRequestTimeout, "request body timeout")
	// RFC 9110 15.5.14: the content is larger than MaxBodyBytes, by its Content-Length or as
	// a chunked body the handler read and answered nothing to.
	errBodyTooLarge = refusal(http.StatusRequestEntityTooLarge, "request body too large")
	// RFC 9110 15.6.4: the client's address has MaxConnsPerIP connections open already.
	errTooManyConns = refusal(http.StatusServiceUnavailable, "too many connections from this address")
	// RFC 6585 4: the client's address sent more than RequestRatePerIP allows.
	errTooManyRequests = refusal(http.StatusTooManyRequests, "too many requests from this address")
	// The handler panicked before any byte of its response reached the client.
	errHandlerPanic = refusal(http.StatusInternalServerError, "internal server error")
)

// bodyError is a broken request body; it matches ErrMalformedBody.
type bodyError struct{ reason string }

func (e *bodyError) Error() string        { return "h1: malformed request body: " + e.reason }
func (e *bodyError) Is(target error) bool { return target == ErrMalformedBody }

func isMalformed(err error) bool { return errors.Is(err, ErrMalformedBody) }

var (
	// RFC 9112 7.1: chunk-size = 1*HEXDIG, fitting in an int64 here.
	errChunkSize = &bodyError{"invalid chunk size"}
	// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
	errChunkExt = &bodyError{"invalid chunk extension"}
	// A chunk line must fit in the read buffer and end in CRLF.
	errChunkLine = &bodyError{"malformed chunk line"}
	// RFC 9112 7.1: chunk-data is followed by CRLF.
	errChunkEnd = &bodyError{"chunk data not followed by CRLF"}
	// Framing bytes (sizes, extensions) that far outweigh the data they carry.
	errChunkOverhead = &bodyError{"chunk framing exceeds data"}
	// RFC 9112 7.1.2: trailer-section = *( field-line CRLF ), bounded like the header section.
	errTrailer = &bodyError{"malformed trailer section"}
)

// errors of the connection itself, never sent to the client.
var (
	// errIdleClose ends a connection that is idle (no byte of a request received) because its
	// timeout passed, the client closed it, or the server is shutting down: closed silently.
	errIdleClose = errors.New("h1: idle connection closed")
	// errHandlerDone is the cause of a request context cancelled because its handler returned.
	errHandlerDone = errors.New("h1: handler returned")
	// errPeerGone is the cause of a request context cancelled because the client went away.
	errPeerGone = errors.New("h1: client closed the connection")
	// errAfterHandler is returned by a ResponseWriter used after its handler returned.
	errAfterHandler = errors.New("h1: response used after the handler returned")
	// errPipelineClosed is returned by the writer of a dispatched response that will not be
	// sent (see ErrPipelineClosed), and is the cause of its request's cancelled context.
	errPipelineClosed = ErrPipelineClosed
	// errShed says a connection's idle wait moves to a fresh goroutine; never returned outside
	// the package.
	errShed = errors.New("h1: idle wait moves to a fresh goroutine")
	// errDrained says the pipeline wrote every dispatched response while the serve goroutine
	// waited for the next request; never returned outside the package.
	errDrained = errors.New("h1: pipeline drained")
	// errWriteTimeout is the error of a write to the client that made no progress within
	// WriteTimeout, and the cause of the cancelled request contexts.
	errWriteTimeout = errors.New("h1: write to the client timed out")
)
