package pool

import (
	"errors"
	"io"
	"sync"
)

var (
	errStaleBody = errors.New("pool: request body read by an abandoned attempt")
	errBodyLost  = errors.New("pool: request body bytes lost before a retry")
	errBodyClose = errors.New("pool: read on a closed request body")
)

// replay shares one request body among the attempts of a request. Each
// attempt reads through its own view; only the latest view may read. Bytes
// read from the body are kept, up to limit, so that a later view can read
// them again. The body is closed once the request is over: at the last
// failure, or when the successful attempt's view is closed.
//
// A nil *replay stands for a request without a body: it is always
// replayable and its methods do nothing.
type replay struct {
	body  io.ReadCloser
	limit int

	// readMu is held across each Read of body, so that a view of an
	// abandoned attempt and the current one never read it at once. Lock
	// readMu before mu; mu is never held across a Read or Close of body.
	readMu sync.Mutex

	mu     sync.Mutex
	buf    []byte // guarded by mu; every byte read from body, while !lost
	total  int64  // guarded by mu; bytes read from body
	lost   bool   // guarded by mu; buf no longer holds every byte read
	err    error  // guarded by mu; body's sticky read error (io.EOF too)
	cur    *view  // guarded by mu; the view that may read; nil once aborted
	final  bool   // guarded by mu; no other attempt will follow
	closed bool   // guarded by mu; body was closed

	// open, for a gated replay only (newGatedReplay), is closed once the request has an
	// attempt that succeeded, or none will; opened says it is. Guarded by mu.
	open   chan struct{}
	opened bool
}

// view is one attempt's request body.
type view struct {
	r      *replay
	off    int64         // guarded by r.mu; bytes this view returned
	closed bool          // guarded by r.mu
	gone   chan struct{} // a gated replay's only: closed by Close
}

func newReplay(body io.ReadCloser, limit int) *replay {
	r := &replay{body: body, limit: limit}
	r.cur = r.newView()
	return r
}

// view returns the body for the current attempt.
func (r *replay) view() io.ReadCloser {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open != nil {
		return gatedView{r.cur}
	}
	return r.cur
}

// rewind starts a new view from the first byte. It reports false when the
// body cannot be replayed: bytes were read past limit, or the body failed or
// was closed. A Read of the body still in progress, an abandoned attempt's
// that waits for a slow client's bytes, does not prevent it: the bytes it
// returns are kept for the new view, which waits for that Read (readMu)
// before it reads the body itself.
func (r *replay) rewind() bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost || r.closed || (r.err != nil && r.err != io.EOF) {
		return false
	}
	r.cur = r.newView()
	return true
}

// finish records that the current attempt succeeded: the body is closed when
// its view is, or now if it was already.
func (r *replay) finish() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.final = true
	r.openLocked()
	closeNow := r.cur.closed && !r.closed
	r.closed = r.closed || closeNow
	r.mu.Unlock()
	if closeNow {
		r.body.Close()
	}
}

// abort closes the body after the last attempt failed.
func (r *replay) abort() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.final = true
	r.cur = nil
	r.openLocked()
	closeNow := !r.closed
	r.closed = true
	r.mu.Unlock()
	if closeNow {
		r.body.Close()
	}
}

// Read reads v's attempt's body: first the bytes earlier attempts read and replay kept, then
// from the body itself, one Read of it at a time. It fails with errStaleBody once a later
// attempt has its own view, errBodyClose after v is closed, errBodyLost when bytes v has not
// returned yet were not kept, and with the body's error, io.EOF too, once v has returned every
// byte before it.
func (v *view) Read(p []byte) (int, error) {
	r := v.r
	if !v.awaitOpen() {
		return 0, errStaleBody
	}
	for {
		r.mu.Lock()
		n, done, err := v.readKeptLocked(p)
		r.mu.Unlock()
		if done {
			return n, err
		}

		r.readMu.Lock()
		r.mu.Lock()
		if v != r.cur || v.off != r.total || r.err != nil {
			// Things changed while waiting for readMu: look again.
			r.mu.Unlock()
			r.readMu.Unlock()
			continue
		}
		r.mu.Unlock()

		n, err = r.body.Read(p)

		r.mu.Lock()
		v.keepLocked(p, n, err)
		r.mu.Unlock()
		r.readMu.Unlock()
		return n, err
	}
}

// readKeptLocked is Read without reading the body; v.r.mu must be held. It reports done, with
// Read's results, when v may not read, or when Read can be answered from what was already
// read: bytes kept in buf (copied into p) or the body's error. Otherwise v has returned every
// byte read so far, the body has not failed, and the caller must read the body itself.
func (v *view) readKeptLocked(p []byte) (n int, done bool, err error) {
	r := v.r
	switch {
	case v != r.cur:
		return 0, true, errStaleBody
	case v.closed:
		return 0, true, errBodyClose
	case v.off < r.total && r.lost:
		return 0, true, errBodyLost
	case v.off < r.total:
		n = copy(p, r.buf[v.off:])
		v.off += int64(n)
		return n, true, nil
	case r.err != nil:
		return 0, true, r.err
	}
	return 0, false, nil
}

// keepLocked records the result of a Read of the body, n bytes into p and err, that v made; v.r.mu
// must be held. It keeps the bytes in buf while they fit within limit and another attempt may
// follow or v is not the current view (and drops buf for good when they do not), makes err
// sticky, and counts the bytes as returned by v if v is still the current view. It does not
// retain p.
func (v *view) keepLocked(p []byte, n int, err error) {
	r := v.r
	r.total += int64(n)
	if r.final && v == r.cur {
		// No attempt follows, and v, the one that reads the body now, has every byte before
		// these: nothing is kept any longer, as for a WebSocket's tunnel, which the upstream
		// answered before its first byte and which may carry bytes for hours. (The Read of an
		// abandoned view that was still in progress at the rewind keeps its bytes, within
		// limit, for the current view.)
		r.lost, r.buf = true, nil
	}
	if !r.lost {
		if len(r.buf)+n <= r.limit {
			r.buf = append(r.buf, p[:n]...)
		} else {
			r.lost, r.buf = true, nil
		}
	}
	if err != nil {
		r.err = err
	}
	if v == r.cur {
		v.off += int64(n)
	}
}

// Close closes the body only when the request is over and v is the
// attempt that carried it; earlier attempts' closes are ignored, so that a
// transport closing the body of a failed attempt does not prevent a retry.
func (v *view) Close() error {
	r := v.r
	r.mu.Lock()
	if v.gone != nil && !v.closed {
		close(v.gone)
	}
	v.closed = true
	closeNow := r.final && v == r.cur && !r.closed
	r.closed = r.closed || closeNow
	r.mu.Unlock()
	if closeNow {
		return r.body.Close()
	}
	return nil
}
