package gateway

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Copy buffers come in two sizes. A body of up to smallCopy bytes (most API answers) takes a
// small one; anything larger or of unknown length a large one, so that what the session holds of
// a 64 KiB body leaves in one or two writes rather than one per 16 KiB DATA frame. Buffers are
// pooled: only responses being copied hold one, which matters when many pipelined responses are
// in flight on one connection.
const (
	smallCopy = 4 << 10
	largeCopy = 64 << 10
)

var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, smallCopy); return &b }}
	largeBufs = sync.Pool{New: func() any { b := make([]byte, largeCopy); return &b }}
)

// copyBody streams resp's body to w. It flushes after each piece unless the piece completes a
// body of known length: then h1 writes it with the rest of the response when the handler
// returns, which saves a write system call for small responses. A slow client stalls only this
// stream: the copy blocks on w, stops reading, and the upstream's flow-control window closes.
// It returns the bytes written to w, and nil once the body ended, else the body's error or w's,
// the latter as a *clientWriteError.
//
// A body that writes itself out (h2's, through io.WriterTo) to a ResponseWriter that takes
// several buffers at once (h1's) is not copied: it hands the chunks its session holds to h1,
// which writes them in place. Such a body flushes its writer itself, before it waits for more
// (h2conn's WriteTo): the rule above then costs no flush either, and a body complete by its
// length whose stream ends late is not held back until it ends.
//
// Through Read, with hold above 0, a piece that neither fills the buffer nor ends the body is
// held for what follows it, up to hold while the next read waits (copyHeld); with hold 0 each
// piece goes at once, as an event stream's must.
//
// Either way the response's head, which w holds unflushed, does not wait for the body without
// end: a client learns of the response (an event stream that it is open) about when the
// upstream sent the head, not when the body begins. It waits for the body's first bytes up to
// headHold(hold) (with hold 0, not at all), and leaves with them if they come (see holdHead).
// Nor does a response complete by its length wait long for its stream's end: through WriteTo
// not at all, through Read up to hold.
//
// pw is scratch for that path, kept by the caller in per-request state it allocates anyway.
func copyBody(w http.ResponseWriter, resp *http.Response, pw *pieceWriter, hold time.Duration) (int64, error) {
	length := resp.ContentLength
	if len(resp.Trailer) > 0 {
		// The trailers come after the body's last byte: that byte does not end the response.
		length = -1
	}
	if wt, ok := resp.Body.(io.WriterTo); ok {
		if bw, ok := w.(buffersWriter); ok {
			return writeBody(pw, w, bw, wt, length, hold)
		}
	}
	bufs := &largeBufs
	if resp.ContentLength >= 0 && resp.ContentLength <= smallCopy {
		bufs = &smallBufs
	}
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	if hold > 0 {
		return copyHeld(w, resp.Body, buf, length, hold)
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // the head
	}
	var total int64
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, &clientWriteError{werr}
			}
			if flusher != nil && total != length && rerr == nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// buffersWriter is what copyBody needs of a ResponseWriter to pass a body's buffers on in one
// call (h1's: one writev on a clear-text connection). It must neither keep bufs nor change it.
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// writeBody is copyBody for a body that writes itself out, to a ResponseWriter that is a
// buffersWriter (bw): body writes to pw, which passes each piece on. pw is new.
func writeBody(pw *pieceWriter, w http.ResponseWriter, bw buffersWriter, body io.WriterTo, length int64, hold time.Duration) (int64, error) {
	pw.w, pw.bw, pw.headHold = w, bw, headHold(hold)
	if length == 0 {
		pw.headHold = 0 // the head announces an empty body: it is complete, with nothing to wait for
	}
	pw.flusher, _ = w.(http.Flusher)
	_, err := body.WriteTo(pw)
	pw.releaseHead()
	return pw.total, err
}

// pieceWriter passes the pieces of a body to the client's ResponseWriter and counts them; the
// body calls its Flush before it waits for more (see copyBody). A piece h1 wrote straight to
// the socket leaves nothing to flush: that flush costs no system call.
//
// The body's first flush, before any of it came, is for the head alone, which waits up to
// headHold for the body's first bytes (see holdHead).
type pieceWriter struct {
	w        http.ResponseWriter
	bw       buffersWriter // w's
	flusher  http.Flusher  // w's; nil if w has none
	total    int64         // bytes written
	headHold time.Duration // how long the head may wait for the body (see holdHead)
	timer    *time.Timer   // runs flushHead; nil until a head waited

	mu       sync.Mutex
	headHeld bool // guarded by mu: the head waits, and the timer is to flush it
}

// Flush flushes the ResponseWriter, but holds the head (see holdHead) if no bytes of the body
// were written yet.
func (pw *pieceWriter) Flush() {
	if pw.total == 0 && pw.headHold > 0 {
		pw.holdHead()
		return
	}
	if pw.flusher != nil {
		pw.flusher.Flush()
	}
}

func (pw *pieceWriter) Write(p []byte) (int, error) {
	pw.releaseHead()
	n, err := pw.w.Write(p)
	return n, pw.wrote(int64(n), err)
}

// WriteBuffers makes pw a buffersWriter for bodies that write their chunks in one call.
func (pw *pieceWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	pw.releaseHead()
	n, err := pw.bw.WriteBuffers(bufs)
	return n, pw.wrote(n, err)
}

// wrote counts a piece; it returns err, marked as the client's.
func (pw *pieceWriter) wrote(n int64, err error) error {
	pw.total += n
	if err != nil {
		return &clientWriteError{err}
	}
	return nil
}

// clientWriteError is a failed write of a response body to the client, which copyBody tells
// from a failure of the upstream's body.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "gateway: writing to the client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }
