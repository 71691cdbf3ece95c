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

// heldCopy is the state of copyBody's read path once it holds bytes (copyHeld). The reads are
// copyHeld's; the writes are its or, once a read has waited hold with bytes held, the timer's.
type heldCopy struct {
	w       http.ResponseWriter
	flusher http.Flusher // w's; nil if w has none
	hold    time.Duration
	timer   *time.Timer // runs expire; armed while a read waits with bytes held

	mu         sync.Mutex
	buf        []byte
	start, end int   // guarded by mu: buf[start:end] was read and not yet written
	total      int64 // guarded by mu: bytes written to w
	err        error // guarded by mu: w's failure, which ends the copy
	done       bool  // guarded by mu: copyHeld returned, and w is the handler's again
}

// copyHeld goes on with copyBody's read path, buf[:n] read and held, total bytes written
// before them: each read's bytes join the ones held, which are written (and flushed) once buf is
// full, or once a read has waited hold for more; and, without a flush, once the body ends or is
// complete by length, as copyBody does. It returns what copyBody returns.
func copyHeld(w http.ResponseWriter, body io.Reader, buf []byte, n int, total, length int64, hold time.Duration) (int64, error) {
	h := &heldCopy{w: w, hold: hold, buf: buf, end: n, total: total}
	h.flusher, _ = w.(http.Flusher)
	defer h.stop()
	for {
		space, held := h.next()
		if held {
			h.arm()
		}
		n, rerr := body.Read(space)
		if held {
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

// next returns the part of the buffer the next read fills, and whether bytes are held. Bytes
// held past the buffer's start (the timer wrote the ones before them) move to it.
func (h *heldCopy) next() (space []byte, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start > 0 {
		h.end = copy(h.buf, h.buf[h.start:h.end])
		h.start = 0
	}
	return h.buf[h.end:], h.end > 0
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

// arm starts the timer for a read that waits with bytes held.
func (h *heldCopy) arm() {
	if h.timer == nil {
		h.timer = time.AfterFunc(h.hold, h.expire)
		return
	}
	h.timer.Reset(h.hold)
}

// expire writes the bytes held, for a read that waited hold.
func (h *heldCopy) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done && h.err == nil && h.end > h.start {
		h.writeLocked(true)
	}
}

// writeLocked writes the bytes held to w, and flushes w if asked.
func (h *heldCopy) writeLocked(flush bool) {
	if h.end == h.start {
		return
	}
	n, err := h.w.Write(h.buf[h.start:h.end])
	h.total += int64(n)
	h.start = h.end
	if err != nil {
		h.err = err
		return
	}
	if flush && h.flusher != nil {
		h.flusher.Flush()
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
