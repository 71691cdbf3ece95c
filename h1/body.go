package h1

import (
	"bufio"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// body is the Body of a request that has content. The handler may read it from any goroutine,
// one Read at a time. After the handler returns, the serve goroutine closes it to the handler and
// may read and drop the rest.
//
// Lock order: body.mu before response.mu (a Read may send 100 Continue).
type body struct {
	w       *response // the exchange: 100 Continue, Trailer, background read
	br      *bufio.Reader
	chunked bool

	// unread is the content not yet read of a length-framed body (-1 for chunked), for the
	// response header's decision to close; written under mu, read without it.
	unread atomic.Int64

	// interrupting is set by Close before it interrupts a Read in progress, so that the Read
	// tells that interruption from a client that is too slow.
	interrupting atomic.Bool

	// failed is set, under mu, with err: the content's framing is lost, and the response header,
	// written without mu, says Connection: close.
	failed atomic.Bool

	mu           sync.Mutex
	left         int64         // guarded by mu: length-framed content not yet read
	cr           chunkedReader // guarded by mu
	needContinue bool          // guarded by mu: 100 Continue is owed before the first read
	eof          bool          // guarded by mu: all content (and trailers) read
	err          error         // guarded by mu: the sticky read error
	closed       bool          // guarded by mu: the handler closed it, or returned
	got          int64         // guarded by mu: content bytes read, for MinBodyRate
	waited       time.Duration // guarded by mu: time Reads spent waiting for the client
	limit        int64         // a chunked body's MaxBodyBytes; 0: none
	chunkedRead  int64         // guarded by mu: content bytes of a chunked body read, for limit
}

// init prepares b for a request with the given head, reading from br.
func (b *body) init(w *response, h *head, br *bufio.Reader, lim limits) {
	b.w, b.br = w, br
	b.needContinue = h.expectContinue
	if h.framing == framingChunked {
		b.chunked = true
		b.cr = chunkedReader{br: br, lim: lim}
		b.limit = lim.bodyBytes
		b.unread.Store(-1)
		return
	}
	b.left = h.length
	b.unread.Store(h.length)
}

// Read reads request content. It sends 100 Continue first if the client asked for it and no
// final response has been started (RFC 9110 10.1.1). Errors: io.ErrUnexpectedEOF if the client
// closed early, an error matching ErrMalformedBody for broken chunked framing,
// http.ErrBodyReadAfterClose after Close or after the handler returned.
//
// A Read that waits for the client more than BodyReadTimeout fails with ErrBodyTimeout and
// cancels the request's context; so does a Read that finds the content arriving slower than
// MinBodyRate, after returning what it read.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	c := b.w.c
	timed := b.br.Buffered() == 0 && !b.eof && b.err == nil && len(p) > 0
	var start time.Time
	if timed {
		start = time.Now()
		c.rwc.SetReadDeadline(start.Add(c.s.cfg.BodyReadTimeout))
		if b.interrupting.Load() {
			// Close began while the deadline was set: keep its interruption.
			c.rwc.SetReadDeadline(aLongTimeAgo)
		}
	}
	n, err := b.readLocked(p)
	b.got += int64(n)
	if timed && !b.interrupting.Load() && (err != nil && isTimeout(err) || err == nil && b.tooSlowLocked(start)) {
		// RFC 9110 15.5.9: the client did not send its content in time.
		b.err = ErrBodyTimeout
		b.failed.Store(true)
		err = ErrBodyTimeout
		c.fail(ErrBodyTimeout)
	}
	return n, err
}

// tooSlowLocked adds the wait of a Read that began at start and reports whether, past the grace
// period, the content arrived slower than MinBodyRate on average over the waits. Only Reads that
// wait for the client count, at the cost of one clock read as each returns: reads from the
// buffer cost nothing, and the handler's own pace is not the client's fault.
func (b *body) tooSlowLocked(start time.Time) bool {
	rate := b.w.c.s.cfg.MinBodyRate
	if rate <= 0 {
		return false
	}
	b.waited += time.Since(start)
	return b.waited > minRateGrace && float64(b.got) < float64(rate)*b.waited.Seconds()
}

// Close stops the handler's reading; it may be called while a Read is in progress on another
// goroutine. Such a Read, blocked on a client that sends slowly or not at all, is interrupted at
// once: a proxy's upstream may answer before it took the whole body, and the exchange must not
// wait for content nobody will read. The rest of an interrupted body is not discarded, so the
// connection closes after the response. What is left of a body closed between reads is dealt
// with after the handler returns.
func (b *body) Close() error {
	if !b.mu.TryLock() {
		b.interrupting.Store(true)
		b.w.c.rwc.SetReadDeadline(aLongTimeAgo)
		b.mu.Lock()
	}
	b.closed = true
	b.mu.Unlock()
	return nil
}

func (b *body) readLocked(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.eof:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if b.needContinue {
		b.needContinue = false
		if err := b.w.writeContinue(); err != nil {
			b.err = err
			b.failed.Store(true)
			return 0, err
		}
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunkedLocked(p)
	} else {
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.br.Read(p)
		b.left -= int64(n)
		b.unread.Store(b.left)
		switch {
		case b.left == 0:
			err = io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	}
	switch {
	case err == io.EOF:
		b.eof = true
		b.atEOF()
	case err != nil:
		b.err = err
		b.failed.Store(true)
	}
	return n, err
}

// readChunkedLocked reads chunked content within MaxBodyBytes. It reads at most one byte past the
// limit, to tell a body that ends there from one that goes on, and fails with ErrBodyTooLarge on
// that byte, which it does not return. (A Content-Length beyond the limit is refused with the
// head.)
func (b *body) readChunkedLocked(p []byte) (int, error) {
	if b.limit <= 0 {
		return b.cr.Read(p)
	}
	if room := b.limit - b.chunkedRead + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.cr.Read(p)
	b.chunkedRead += int64(n)
	if over := b.chunkedRead - b.limit; over > 0 {
		return n - int(over), ErrBodyTooLarge
	}
	return n, err
}

// atEOF hands the trailer fields to the request and, while the handler runs and nothing of a
// next request is buffered, starts the background read that notices a client going away.
func (b *body) atEOF() {
	if t := b.cr.trailer; t != nil {
		req := b.w.req
		if req.Trailer == nil {
			req.Trailer = make(http.Header, len(t))
		}
		for k, vv := range t {
			req.Trailer[k] = vv
		}
	}
	if !b.closed && b.br.Buffered() == 0 {
		// The watch's read waits without a deadline; the body's own is over.
		b.w.c.rwc.SetReadDeadline(time.Time{})
		b.w.c.cr.arm()
	}
}

// closeForServer closes the body to the handler, which has returned, and returns the read error
// the handler met, if any.
func (b *body) closeForServer() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.err
}

// readWhole reports whether all the content, trailers included, has been read.
func (b *body) readWhole() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
}

// discard reads and drops what the handler left of the content, up to maxDiscard bytes, and
// reports whether the content ended within that bound, so that the connection is positioned at
// the next request. Content owed a 100 Continue is not read: the client may never send it.
func (b *body) discard() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.eof:
		return true
	case b.err != nil || b.needContinue:
		return false
	case !b.chunked && b.left > maxDiscard:
		return false
	}
	io.CopyN(io.Discard, lockedBody{b}, maxDiscard+1)
	return b.eof
}

// lockedBody reads a body whose lock the caller holds.
type lockedBody struct{ b *body }

func (r lockedBody) Read(p []byte) (int, error) { return r.b.readLocked(p) }
