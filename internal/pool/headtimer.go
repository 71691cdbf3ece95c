package pool

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// HeadTimer bounds the wait for a response head of a session whose round trips are driven by
// the request's context (x/net's ClientConn, quic-go's http3): the context ends, with the cause
// ErrResponseTimeout, if the head is not there in time. A session of our own polls its streams
// instead, which costs no timer per request. A nil *HeadTimer is valid and bounds nothing.
//
// It bounds the silence within the response body too, where asked (idle): a Read of the body
// that waits that long ends the context, with the cause ErrBodyIdle.
type HeadTimer struct {
	cancel context.CancelCauseFunc
	timer  *time.Timer
	ctx    context.Context
	idle   time.Duration
}

// StartHeadTimer returns req on a context that ends d from now unless Headed is called first,
// and the timer; with d <= 0 and idle <= 0, req itself and a nil timer. idle bounds each wait of
// a Read of the response body (see HeadTimer); <= 0: none.
func StartHeadTimer(req *http.Request, d, idle time.Duration) (*http.Request, *HeadTimer) {
	if d <= 0 && idle <= 0 {
		return req, nil
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	t := &HeadTimer{cancel: cancel, ctx: ctx, idle: idle}
	if d > 0 {
		t.timer = time.AfterFunc(d, func() { cancel(ErrResponseTimeout) })
	}
	return req.WithContext(ctx), t
}

// Headed stops the timer: the round trip returned. With err, the round trip failed, and the
// context is released; the result is err, wrapping ErrResponseTimeout if the timer ended it.
// Without, res's Body releases the context when it is closed, and res is returned.
func (t *HeadTimer) Headed(res *http.Response, err error) (*http.Response, error) {
	if t == nil {
		return res, err
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	if err != nil {
		if errors.Is(context.Cause(t.ctx), ErrResponseTimeout) {
			err = errors.Join(ErrResponseTimeout, err)
		}
		t.cancel(nil)
		return nil, err
	}
	if res.Body == nil || res.Body == http.NoBody {
		t.cancel(nil)
		return res, nil
	}
	b := &timedBody{ReadCloser: res.Body, cancel: t.cancel, ctx: t.ctx, idle: t.idle}
	if t.idle > 0 {
		b.timer = time.AfterFunc(t.idle, func() { t.cancel(ErrBodyIdle) })
		b.timer.Stop() // armed by each Read
	}
	res.Body = b
	return res, nil
}

// timedBody releases a HeadTimer's context when it is closed, and bounds each Read's wait by
// idle, where it is not 0.
type timedBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
	ctx    context.Context
	idle   time.Duration
	timer  *time.Timer // nil without idle
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.timer == nil {
		return b.ReadCloser.Read(p)
	}
	b.timer.Reset(b.idle)
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), ErrBodyIdle) {
		err = errors.Join(ErrBodyIdle, err)
	}
	return n, err
}

func (b *timedBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
