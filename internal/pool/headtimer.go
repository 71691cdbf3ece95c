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
type HeadTimer struct {
	cancel context.CancelCauseFunc
	timer  *time.Timer
	ctx    context.Context
}

// StartHeadTimer returns req on a context that ends d from now unless Headed is called first,
// and the timer; with d <= 0, req itself and a nil timer.
func StartHeadTimer(req *http.Request, d time.Duration) (*http.Request, *HeadTimer) {
	if d <= 0 {
		return req, nil
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	t := &HeadTimer{cancel: cancel, ctx: ctx}
	t.timer = time.AfterFunc(d, func() { cancel(ErrResponseTimeout) })
	return req.WithContext(ctx), t
}

// Headed stops the timer: the round trip returned. With err, the round trip failed, and the
// context is released; the result is err, wrapping ErrResponseTimeout if the timer ended it.
// Without, res's Body releases the context when it is closed, and res is returned.
func (t *HeadTimer) Headed(res *http.Response, err error) (*http.Response, error) {
	if t == nil {
		return res, err
	}
	t.timer.Stop()
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
	res.Body = &timedBody{ReadCloser: res.Body, cancel: t.cancel}
	return res, nil
}

// timedBody releases a HeadTimer's context when it is closed.
type timedBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
