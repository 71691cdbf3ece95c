package gateway

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Bodies read through Read (HTTP/3's, x/net's) come a piece at a time: from quic-go, what one
// batch of QUIC packets carried, about 4.5 KiB on loopback; written each at once, a 64 KiB body
// took 14 writes to the client and as many reads of it. Held for up to Config.BodyHold while
// more is awaited, the pieces leave together.

// headHold is how long a response's head may wait for its body's first bytes, given the body's
// hold: ten times as long. A head alone is often followed within microseconds by the body's
// first bytes (Go's HTTP/2 server sends a response's HEADERS and DATA in writes of their own),
// and leaves with them, in one write to the client rather than two. Under load the gap passed
// 2 ms often enough (for about 4% of 100,000 pipelined requests in the demo; 20 ms, 2 of them)
// that the head waits longer than a piece of body does. A head that waits past it is flushed
// alone, so that a client still learns soon that its response has begun.
func headHold(hold time.Duration) time.Duration { return 10 * hold }

// heldCopy is the state of copyBody's read path with a hold (copyHeld). The reads are
// copyHeld's; the writes are its or, once a read has waited hold with bytes held or w
// unflushed, the timer's.
type heldCopy struct {
	w        http.ResponseWriter
	flusher  http.Flusher // w's; nil if w has none
	hold     time.Duration
	headHold time.Duration // headHold(hold): the wait of a read with only the head unflushed
	timer    *time.Timer   // runs expire; armed while a read waits with bytes held or w unflushed

	mu         sync.Mutex
	buf        []byte
	start, end int   // guarded by mu: buf[start:end] was read and not yet written
	total      int64 // guarded by mu: bytes written to w
	unflushed  bool  // guarded by mu: w holds what was not flushed (the head, at first)
	err        error // guarded by mu: w's failure, which ends the copy
	done       bool  // guarded by mu: copyHeld returned, and w is the handler's again
}

// copyHeld is copyBody's read path with a hold, w holding the response's head: each read's
// bytes join the ones held, which are written (and flushed) once buf is full, or once a read
// has waited hold for more; and, without a flush, once the body ends or is complete by length,
// as copyBody does. A first read that waits headHold flushes the head alone; one that waits for
// the end of a body complete by length (an empty one too) flushes what w holds once it waited
// hold. It returns what copyBody returns.
func copyHeld(w http.ResponseWriter, body io.Reader, buf []byte, length int64, hold time.Duration) (int64, error) {
	h := &heldCopy{w: w, hold: hold, headHold: headHold(hold), buf: buf, unflushed: true}
	h.flusher, _ = w.(http.Flusher)
	defer h.stop()
	for {
		space, waiting, short := h.next(length)
		if waiting {
			h.arm(short)
		}
		n, rerr := body.Read(space)
		if waiting {
			h.timer.Stop()
		}
		total, werr := h.took(n, rerr != nil, length)
		switch {
		case werr != nil:
			return total, &clientWriteError{werr}
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, rerr
		}
	}
}

// next returns the part of the buffer the next read fills, whether anything waits on that read
// (bytes held, or w unflushed), and whether that wait is short (hold, not headHold): bytes are
// held, or the body is complete by its length. Bytes held past the buffer's start (the timer
// wrote the ones before them) move to it.
func (h *heldCopy) next(length int64) (space []byte, waiting, short bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start > 0 {
		h.end = copy(h.buf, h.buf[h.start:h.end])
		h.start = 0
	}
	return h.buf[h.end:], h.end > 0 || h.unflushed, h.end > 0 || h.total == length
}

// took adds n bytes read to the ones held and writes them where copyHeld says; ended: the read
// ended the body (or failed). It returns the bytes written so far and w's failure.
func (h *heldCopy) took(n int, ended bool, length int64) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.end += n
	switch {
	case h.err != nil:
	case ended || h.total+int64(h.end-h.start) == length:
		h.writeLocked(false)
	case h.end == len(h.buf):
		h.writeLocked(true)
	}
	return h.total, h.err
}

// arm starts the timer for a read that waits: hold if the wait is short (see next), else
// headHold.
func (h *heldCopy) arm(short bool) {
	d := h.headHold
	if short {
		d = h.hold
	}
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.expire)
		return
	}
	h.timer.Reset(d)
}

// expire writes the bytes held and flushes w, for a read that waited hold.
func (h *heldCopy) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done && h.err == nil {
		h.writeLocked(true)
	}
}

// writeLocked writes the bytes held to w, and flushes w if asked.
func (h *heldCopy) writeLocked(flush bool) {
	if h.end > h.start {
		n, err := h.w.Write(h.buf[h.start:h.end])
		h.total += int64(n)
		h.start = h.end
		h.unflushed = true
		if err != nil {
			h.err = err
			return
		}
	}
	if flush {
		h.unflushed = false
		if h.flusher != nil {
			h.flusher.Flush()
		}
	}
}

// stop ends the timer's use of w: once it returns, expire writes nothing.
func (h *heldCopy) stop() {
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
	if h.timer != nil {
		h.timer.Stop()
	}
}

// holdHead lets the head wait up to pw.headHold for the body's first bytes, which it then
// leaves with; past it the timer flushes the head alone (see headHold).
func (pw *pieceWriter) holdHead() {
	pw.mu.Lock()
	pw.headHeld = true
	pw.mu.Unlock()
	if pw.timer == nil {
		pw.timer = time.AfterFunc(pw.headHold, pw.flushHead)
		return
	}
	pw.timer.Reset(pw.headHold)
}

// flushHead flushes the head that waited headHold.
func (pw *pieceWriter) flushHead() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.headHeld {
		pw.headHeld = false
		if pw.flusher != nil {
			pw.flusher.Flush()
		}
	}
}

// releaseHead ends the head's wait, before the body's first bytes are written with it or the
// response ends: once it returns the timer flushes nothing, and w is the caller's alone.
func (pw *pieceWriter) releaseHead() {
	if pw.timer == nil {
		return
	}
	pw.mu.Lock()
	pw.headHeld = false
	pw.mu.Unlock()
	pw.timer.Stop()
}
