package h3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"muxgate/internal/pool"
	"muxgate/internal/sendbuf"
)

// An extended CONNECT (RFC 9220) does not go through quic-go's ClientConn.RoundTrip, whose body
// sender holds an 8 KiB buffer for the request's whole life: a tunnel's request body is its
// client's side, silent for most of its life. roundTripTunnel drives the exchange through quic-go's
// RequestStream instead, with a sender of its own that holds a buffer only while there are bytes
// to send, as the HTTP/2 session's does (internal/sendbuf).

const (
	// requestCancelled resets a stream whose request ended early (RFC 9114 8.1,
	// H3_REQUEST_CANCELLED): its context ended, or its body failed.
	requestCancelled = quic.StreamErrorCode(http3.ErrCodeRequestCanceled)
	// excessiveLoad resets a stream whose upstream sent too many interim responses (RFC 9114 8.1,
	// H3_EXCESSIVE_LOAD), as quic-go's RoundTrip does.
	excessiveLoad = quic.StreamErrorCode(http3.ErrCodeExcessiveLoad)
)

// max1xx bounds the interim responses of one extended CONNECT, as quic-go's RoundTrip bounds
// those of any request (its max1xxResponses).
const max1xx = 5

// errTooMany1xx fails a request whose upstream sent more than max1xx interim responses.
var errTooMany1xx = errors.New("h3: too many 1xx informational responses")

// roundTripTunnel is RoundTrip for an extended CONNECT (pool.ConnectProtocol) whose upstream
// enabled it (checkConnect): the same contract, the same errors. The request body, if any, is
// sent by sendTunnel, which closes it once it has ended or failed; the caller ends that goroutine
// by ending the body (EOF, a read error, or Close, as for any request body).
func (s *session) roundTripTunnel(req *http.Request) (*http.Response, error) {
	sent, timer := pool.StartHeadTimer(req, s.timeout, 0)
	ctx := sent.Context()
	str, err := s.cc.OpenRequestStream(ctx)
	if err != nil {
		closeBody(req)
		return nil, s.tunnelFailed(ctx, req, timer, err, attempt{})
	}
	// quic-go's RoundTrip resets both directions of a request whose context ends before its
	// response body does (RFC 9114 4.1.1); so does this, until body.end stops it.
	stop := context.AfterFunc(ctx, func() {
		str.CancelWrite(requestCancelled)
		str.CancelRead(requestCancelled)
	})
	// SendRequestHeader takes no body: sendTunnel sends it. Without one, quic-go sends no
	// Content-Length for a CONNECT, which has no content but the tunnel (RFC 9110 9.3.6).
	head := *sent
	head.Body, head.GetBody = nil, nil
	if err := str.SendRequestHeader(&head); err != nil {
		stop()
		closeBody(req)
		str.CancelWrite(requestCancelled)
		str.CancelRead(requestCancelled)
		return nil, s.tunnelFailed(ctx, req, timer, err, attempt{opened: true})
	}
	if req.Body == nil || req.Body == http.NoBody {
		// A CONNECT's stream carries the tunnel until its sender closes it (RFC 9114 4.4):
		// without a body, that is at once.
		str.Close()
	} else {
		go sendTunnel(str, req.Body)
	}
	res, err := readHead(str, pool.Got1xxResponse(req.Context()))
	if err != nil {
		stop()
		return nil, s.tunnelFailed(ctx, req, timer, err, attempt{opened: true, wrote: true})
	}
	// ReadResponse leaves these to its caller, which quic-go's RoundTrip is.
	state := s.conn.ConnectionState().TLS
	res.TLS = &state
	res.Request = sent
	res, _ = timer.Headed(res, nil)
	if res.Body == nil || res.Body == http.NoBody {
		stop()
		s.streamDone()
		return res, nil
	}
	res.Body = &body{rc: res.Body, s: s, ctx: req.Context(), stop: stop}
	return res, nil
}

// tunnelFailed ends req, a failed extended CONNECT sent on ctx, its head timer's context, as
// RoundTrip ends any failed request: it ends the stream's count, drains the session where a live
// connection would open no stream (a GOAWAY came), and classifies err by a.
func (s *session) tunnelFailed(ctx context.Context, req *http.Request, timer *pool.HeadTimer, err error, a attempt) error {
	if ctx.Err() != nil {
		// quic-go's RoundTrip fails a request whose context ended with the context's error,
		// whatever the stream's was; Headed and cancelled read that.
		err = ctx.Err()
	}
	_, err = timer.Headed(nil, err)
	s.streamDone()
	if !a.opened && req.Context().Err() == nil && !s.closed() {
		// See RoundTrip: quic-go opens no stream after a GOAWAY (RFC 9114 5.2).
		s.draining.Store(true)
	}
	a.closed = s.endedBy(err)
	a.idempotent = idempotent(req)
	err = classify(err, a)
	return fmt.Errorf("h3: session %d: %w", s.id, cancelled(req.Context(), err))
}

// readHead reads the final response head from str, passing interim ones to got1xx (which may be
// nil, and fails the request with an error), at most max1xx of them. A 101 is final (Go issue
// 26161), as in quic-go's RoundTrip; an upstream must not send one to a CONNECT anyway (RFC 9114
// 4.5).
func readHead(str *http3.RequestStream, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	for n := 0; ; n++ {
		// quic-go's RoundTrip calls ReadResponse once per HEADERS frame, interim ones included.
		res, err := str.ReadResponse()
		if err != nil {
			return nil, err
		}
		if res.StatusCode < 100 || res.StatusCode > 199 || res.StatusCode == http.StatusSwitchingProtocols {
			return res, nil
		}
		if n == max1xx {
			str.CancelRead(excessiveLoad)
			str.CancelWrite(excessiveLoad)
			return nil, errTooMany1xx
		}
		if got1xx == nil {
			continue
		}
		if err := got1xx(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
			str.CancelRead(requestCancelled)
			str.CancelWrite(requestCancelled)
			return nil, err
		}
	}
}

// closeBody closes the body of req, which no sender took.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// sendTunnel is the body sender of an extended CONNECT: it copies body into str's DATA frames
// until the body ends, then closes str's sending side, the orderly end of the client's side of the
// tunnel (a FIN, RFC 9220 3), or resets it with H3_REQUEST_CANCELLED if the body failed (what RFC
// 9220 3 makes of a TCP RST). It stops at a write that fails (the upstream stopped reading with
// STOP_SENDING, the stream was reset, the connection ended). It closes body before it returns,
// and runs until then: a Read that blocks keeps it.
func sendTunnel(str *http3.RequestStream, body io.ReadCloser) {
	defer body.Close()
	var bufs sendbuf.Buffers
	rerr, werr := bufs.Copy(str, body)
	switch {
	case werr != nil:
		// The sending side has ended already.
	case rerr != nil:
		str.CancelWrite(requestCancelled)
	default:
		str.Close()
	}
}
