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

	mu      sync.Mutex
	buf     []byte // guarded by mu; every byte read from body, while !lost
	total   int64  // guarded by mu; bytes read from body
	lost    bool   // guarded by mu; buf no longer holds every byte read
	reading bool   // guarded by mu; a Read of body is in progress
	err     error  // guarded by mu; body's sticky read error (io.EOF too)
	cur     *view  // guarded by mu; the view that may read; nil once aborted
	final   bool   // guarded by mu; no other attempt will follow
	closed  bool   // guarded by mu; body was closed
}

// view is one attempt's request body.
type view struct {
	r      *replay
	off    int64 // guarded by r.mu; bytes this view returned
	closed bool  // guarded by r.mu
}

func newReplay(body io.ReadCloser, limit int) *replay {
	r := &replay{body: body, limit: limit}
	r.cur = &view{r: r}
	return r
}

// view returns the body for the current attempt.
func (r *replay) view() io.ReadCloser {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// rewind starts a new view from the first byte. It reports false when the
// body cannot be replayed: bytes were read past limit, a read is still in
// progress, or the body failed or was closed.
func (r *replay) rewind() bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost || r.reading || r.closed || (r.err != nil && r.err != io.EOF) {
		return false
	}
	r.cur = &view{r: r}
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
	closeNow := !r.closed
	r.closed = true
	r.mu.Unlock()
	if closeNow {
		r.body.Close()
	}
}

func (v *view) Read(p []byte) (int, error) {
	r := v.r
	for {
		r.mu.Lock()
		switch {
		case v != r.cur:
			r.mu.Unlock()
			return 0, errStaleBody
		case v.closed:
			r.mu.Unlock()
			return 0, errBodyClose
		case v.off < r.total && r.lost:
			r.mu.Unlock()
			return 0, errBodyLost
		case v.off < r.total:
			n := copy(p, r.buf[v.off:])
			v.off += int64(n)
			r.mu.Unlock()
			return n, nil
		case r.err != nil:
			r.mu.Unlock()
			return 0, r.err
		}
		r.mu.Unlock()

		r.readMu.Lock()
		r.mu.Lock()
		if v != r.cur || v.off != r.total || r.err != nil {
			// Things changed while waiting for readMu: look again.
			r.mu.Unlock()
			r.readMu.Unlock()
			continue
		}
		r.reading = true
		r.mu.Unlock()

		n, err := r.body.Read(p)

		r.mu.Lock()
		r.reading = false
		r.total += int64(n)
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
		r.mu.Unlock()
		r.readMu.Unlock()
		return n, err
	}
}

// Close closes the body only when the request is over and v is the
// attempt that carried it; earlier attempts' closes are ignored, so that a
// transport closing the body of a failed attempt does not prevent a retry.
func (v *view) Close() error {
	r := v.r
	r.mu.Lock()
	v.closed = true
	closeNow := r.final && v == r.cur && !r.closed
	r.closed = r.closed || closeNow
	r.mu.Unlock()
	if closeNow {
		return r.body.Close()
	}
	return nil
}
