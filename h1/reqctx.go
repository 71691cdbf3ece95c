package h1

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// reqContext is a request's context: its connection's base context (values only; never done),
// ended by the Server when the handler returns, the connection fails or the pipeline closes
// (cancel), as net/http's request contexts are. A listed head's response rides in it
// (RequestFields).
//
// It is one allocation where context.WithCancelCause took two and a wrapper for the listed
// response a third, on every request: a session of muxgate's own only polls Err, and nothing on
// the path asks for Done. The standard library's cancelable context is made only once one is
// asked for (Done, and so a context derived from this one or context.AfterFunc), and then it is
// what ends: it keeps children, AfterFunc and Cause as they are. A cancel with a cause other
// than errHandlerDone makes one too, already cancelled, for context.Cause to find; for an
// exchange that simply ended, Cause says context.Canceled (errHandlerDone once Done was asked).
type reqContext struct {
	base context.Context // the connection's: values only, never done, no cancelable context in it
	w    *response       // a listed head's response (RequestFields), else nil

	ended atomic.Bool // cancel ran; Err's answer
	made  atomic.Bool // inner is made: set after it is written, which it is once

	inner       context.Context // the standard library's cancelable context, once made; it ends with this one
	mu          sync.Mutex      // guards innerCancel, cause and the making of inner
	innerCancel context.CancelCauseFunc
	cause       error
}

func (c *reqContext) Deadline() (deadline time.Time, ok bool) { return c.base.Deadline() }

// Done makes the cancelable context, if none is made yet, and returns its channel.
func (c *reqContext) Done() <-chan struct{} {
	if c.made.Load() {
		return c.inner.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.makeInnerLocked().Done()
}

// makeInnerLocked returns the cancelable context, first making it (already cancelled, with the
// cause, if cancel ran).
func (c *reqContext) makeInnerLocked() context.Context {
	if c.made.Load() {
		return c.inner
	}
	in, cancel := context.WithCancelCause(c.base)
	if c.ended.Load() {
		cancel(c.cause)
	}
	c.inner, c.innerCancel = in, cancel
	c.made.Store(true)
	return in
}

func (c *reqContext) Err() error {
	if c.made.Load() {
		return c.inner.Err()
	}
	if c.ended.Load() {
		return context.Canceled
	}
	return nil
}

func (c *reqContext) Value(key any) any {
	if key == listedKey {
		if c.w == nil {
			return nil // not a nil *response, which RequestFields would take
		}
		return c.w
	}
	if c.made.Load() {
		return c.inner.Value(key) // context.Cause asks the cancelable context for itself so
	}
	return c.base.Value(key)
}

// cancel ends the context with cause, unless it ended already: the first cause stands.
func (c *reqContext) cancel(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended.Load() {
		return
	}
	c.cause = cause
	if !c.made.Load() && cause != errHandlerDone {
		c.makeInnerLocked() // for context.Cause
	}
	c.ended.Store(true)
	if c.innerCancel != nil {
		c.innerCancel(cause)
	}
}
