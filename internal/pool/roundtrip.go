package pool

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// RoundTrip sends req on a stream of the least-loaded session, opening or
// waiting for one as Config says. When the upstream provably did not process
// req and its body can be replayed, RoundTrip retries at once on another
// session, up to 3 streams in all. An idempotent request whose session died
// after it was sent (ErrMaybeProcessed) is sent again as well, but once at
// most (see retryable).
//
// The response body must be closed (or read to its end): until then the
// stream counts against its session. RoundTrip closes req.Body, also on
// error, possibly after it returns.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.roundTrip(req, nil, nil, false)
}

// roundTrip is RoundTrip, whose first attempt uses e, a stream already acquired, when e is not
// nil, and which counts tried, the sessions that failed req before, as attempts made and avoids
// them; resent says that one of them may have processed req.
func (p *Pool) roundTrip(req *http.Request, e *entry, tried []*entry, resent bool) (*http.Response, error) {
	ctx := req.Context()
	info := InfoFrom(ctx)
	var body *replay
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case ConnectProtocol(req) != "":
		body = newGatedReplay(req.Body)
	default:
		body = newReplay(req.Body, p.cfg.ReplayBuffer)
	}
	var made [maxAttempts]*entry
	for attempt := copy(made[:], tried) + 1; ; attempt++ {
		if e == nil {
			var err error
			if e, err = p.acquire(ctx, made[:attempt-1]); err != nil {
				if info != nil && attempt > 1 {
					// A retry that got no stream is an attempt made all the same: the
					// access log says the request was retried, and why that failed.
					info.Attempts, info.Resent = attempt, resent
				}
				body.abort()
				return nil, settled(err, resent)
			}
		}
		made[attempt-1] = e
		if info != nil {
			info.begin(e.id, p.cfg.Protocol, attempt)
			info.Resent = resent
		}
		r := req
		if body != nil {
			r = new(http.Request)
			*r = *req
			r.Body = body.view()
		}
		res, err := e.s.RoundTrip(forSession(e.s, r, info))
		if err == nil {
			body.finish()
			return p.answer(req, res, e), nil
		}
		e.carried(err)
		p.release(e)
		again, maybe := retryable(err, resent)
		if attempt == maxAttempts || !again || ctx.Err() != nil || !body.rewind() {
			body.abort()
			return nil, settled(err, resent)
		}
		resent = resent || maybe
		p.log.Debug().Err(err).Uint64("session", e.id).Int("attempt", attempt).Msg("retrying request")
		e = nil
	}
}

// retryable reports whether a request whose attempt failed with err may be sent again, and
// whether that attempt may have been processed. The upstream provably did not process it
// (ErrNotProcessed), or it may have and the request is idempotent (ErrMaybeProcessed, RFC 9110
// 9.2.2), which allows one such retry per request, so resent (one was made) rules it out: a lost
// race with an idle connection's close is won by the second try, and an upstream that drops the
// connection for this very request runs it twice, not maxAttempts times. An extended CONNECT the
// upstream does not take (ErrNoExtendedConnect) was not sent, but no other session of the same
// upstream would take it either.
func retryable(err error, resent bool) (again, maybe bool) {
	if errors.Is(err, ErrNoExtendedConnect) {
		return false, false
	}
	if errors.Is(err, ErrMaybeProcessed) {
		return !resent, true
	}
	return errors.Is(err, ErrNotProcessed), false
}

// settled returns err, the last failure of a request, wrapping ErrMaybeProcessed when an
// earlier attempt may have been processed (resent): whatever the last attempt met, the request
// as a whole must not be sent elsewhere as not processed.
func settled(err error, resent bool) error {
	if resent && !errors.Is(err, ErrMaybeProcessed) {
		return MaybeProcessed(err)
	}
	return err
}

// answer ties res, req's response on e's stream, to the stream: it is released when the body
// ends, or now if there is none.
func (p *Pool) answer(req *http.Request, res *http.Response, e *entry) *http.Response {
	res.Request = req
	e.carried(nil)
	if res.Body == nil || res.Body == http.NoBody {
		p.release(e)
	} else {
		res.Body = wrapBody(res.Body, p, e)
	}
	return res
}

// responseBody releases its stream when the body ends or is closed.
type responseBody struct {
	rc       io.ReadCloser
	p        *Pool
	e        *entry
	released atomic.Bool
}

// writerToBody is a responseBody whose session's body writes itself out: h2's passes the bytes
// it holds to the writer without copying them out, which a copy loop through Read would undo.
type writerToBody struct {
	responseBody
}

// wrapBody returns rc, the body of a response on e's stream, as a responseBody, with rc's
// WriteTo if it has one.
func wrapBody(rc io.ReadCloser, p *Pool, e *entry) io.ReadCloser {
	if _, ok := rc.(io.WriterTo); ok {
		return &writerToBody{responseBody{rc: rc, p: p, e: e}}
	}
	return &responseBody{rc: rc, p: p, e: e}
}

// WriteTo writes the body to w with the session's body's WriteTo. The body has ended when it
// returns nil, and the stream is released then; after an error (w's, perhaps, with the stream
// still open) Close releases it, as the caller must close a body it did not read to its end.
func (b *writerToBody) WriteTo(w io.Writer) (int64, error) {
	n, err := b.rc.(io.WriterTo).WriteTo(w)
	if err == nil {
		b.release()
	}
	return n, b.failed(err)
}

func (b *responseBody) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	if err != nil {
		b.release()
	}
	return n, b.failed(err)
}

// failed returns err, the body's failure, wrapping ErrSessionFailed when the session has died
// (its connection failed, or it was closed) rather than the stream alone: the caller may then
// send an idempotent request again, where nothing of the answer has gone on yet.
func (b *responseBody) failed(err error) error {
	if err == nil || err == io.EOF || errors.Is(err, ErrSessionFailed) || !b.e.s.State().Closed {
		return err
	}
	return SessionFailed(err)
}

// Close closes the session's body first: for HTTP/2 that waits for the
// stream to end, so the stream is free when the pool counts it free.
func (b *responseBody) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

func (b *responseBody) release() {
	if b.released.CompareAndSwap(false, true) {
		b.p.release(b.e)
	}
}
