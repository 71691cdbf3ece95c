package pool

import "io"

// An extended CONNECT's body (RFC 8441 4, RFC 9220) is a tunnel's: the upstream takes none of it
// before its 2xx (RFC 8441 5), and once an attempt has that, no other follows. So a gated replay
// holds every view's reads back until an attempt has succeeded (finish), and then lets only that
// attempt's go on: a failed attempt's reads end with errStaleBody, at once when its session closes
// its view. Nothing is kept for a replay, since nothing is read before the last attempt.

// newGatedReplay is newReplay for an extended CONNECT's body.
func newGatedReplay(body io.ReadCloser) *replay {
	r := &replay{body: body, open: make(chan struct{})}
	r.cur = r.newView()
	return r
}

// newView is a view for a new attempt; r.mu must be held, or r not yet shared.
func (r *replay) newView() *view {
	v := &view{r: r}
	if r.open != nil {
		v.gone = make(chan struct{})
	}
	return v
}

// openLocked opens a gated replay's reads, once; r.mu must be held.
func (r *replay) openLocked() {
	if r.open != nil && !r.opened {
		r.opened = true
		close(r.open)
	}
}

// awaitOpen waits, for a view of a gated replay, until the request has an attempt that succeeded
// or none will, or until v is closed; it reports whether v may read then: v is that attempt's and
// open. Other views never wait.
func (v *view) awaitOpen() bool {
	r := v.r
	if r.open == nil {
		return true
	}
	select {
	case <-r.open:
	case <-v.gone:
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return v == r.cur && !v.closed
}

// gatedView is a gated replay's view: it can also wait for something to read without a buffer,
// where the body can (h2conn's readWaiter), so that a tunnel's sender holds none while the client
// is silent.
type gatedView struct{ *view }

// WaitRead returns once a Read of g would not block, and reports true; false where the body
// cannot tell without reading.
func (g gatedView) WaitRead() bool {
	if !g.awaitOpen() {
		return true // Read fails at once
	}
	w, ok := g.r.body.(interface{ WaitRead() bool })
	return ok && w.WaitRead()
}
