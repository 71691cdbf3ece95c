package gateway

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"muxgate/h1"
	"muxgate/internal/fieldlist"
)

// A drain ends each event stream (a text/event-stream response, which HTML's EventSource
// reads) at the first event boundary of what the upstream sends, rather than cutting it at the
// drain's deadline: the response ends as any chunked one does, its connection closes, and the
// client's EventSource connects again by itself, with the Last-Event-ID it got, to the process
// that took over or to another. A stream that was between events when the drain began ends at
// once. The upstream's stream is reset, as for any client that leaves.

// errEventsEnded is what an eventWriter answers a write with once the drain ended its stream.
var errEventsEnded = errors.New("gateway: event stream ended by the drain")

// eventStream reports whether resp, whose fields are in list where the session gave them so, is
// an event stream that a drain may end between two events: 200, text/event-stream, of unknown
// length, without a content coding that hides its lines. Most responses are settled by their
// status and length, without a look at their fields.
func eventStream(resp *http.Response, list []fieldlist.Field) bool {
	if resp.StatusCode != http.StatusOK || resp.ContentLength >= 0 {
		return false
	}
	field := func(name string) string {
		if resp.Header != nil {
			return resp.Header.Get(name)
		}
		for _, f := range list {
			if fieldlist.SameName(f.Name, name) {
				return f.Value
			}
		}
		return ""
	}
	if ce := field("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	mt, _, err := mime.ParseMediaType(field("Content-Type"))
	return err == nil && mt == "text/event-stream"
}

// eventLines follows the lines of an event stream as its bytes pass. A line ends with CR LF, LF or
// CR; an empty line ends an event (HTML, "Server-sent events", 9.2.4 and 9.2.5).
type eventLines struct {
	started bool // a byte passed
	ends    int  // line ends in a row just passed, up to 2
	cr      bool // the last byte was a CR, whose LF, if one follows, ends the same line
}

// between reports whether no event is begun: nothing passed yet, or an event ended and only
// line ends followed.
func (l *eventLines) between() bool { return !l.started || l.ends == 2 }

// consume passes bytes of p up to the first event boundary in it, or all of p if there is none,
// and returns how many, and whether they end at a boundary. A boundary that a CR makes is one:
// the LF after it, if any, is left for the next call.
func (l *eventLines) consume(p []byte) (n int, boundary bool) {
	for i, c := range p {
		l.started = true
		switch {
		case c == '\n' && l.cr:
			l.cr = false // the end of the line that the CR ended
		case c == '\n' || c == '\r':
			l.cr = c == '\r'
			if l.ends < 2 {
				if l.ends++; l.ends == 2 {
					return i + 1, true
				}
			}
		default:
			l.ends, l.cr = 0, false
		}
	}
	return len(p), false
}

// eventWriter writes an event stream to the client, following its events, so that goAway can end
// it at an event boundary. It passes the body's buffers on as they come, as copyBody would
// without it; only its own goroutine writes.
type eventWriter struct {
	http.ResponseWriter
	bw      buffersWriter // the ResponseWriter's; nil if it has none
	flusher http.Flusher  // the ResponseWriter's; nil if it has none
	body    io.Closer     // the upstream's body: closing it ends a read that waits for more
	lines   eventLines    // the writing goroutine's

	mu       sync.Mutex
	boundary bool // guarded by mu: what was written ends at an event boundary
	going    bool // guarded by mu: goAway was called
	ended    bool // guarded by mu: the stream ended at a boundary; nothing more goes out
}

// newEventWriter wraps w for the event stream whose upstream body is body.
func newEventWriter(w http.ResponseWriter, body io.Closer) *eventWriter {
	ew := &eventWriter{ResponseWriter: w, body: body, boundary: true}
	ew.bw, _ = w.(buffersWriter)
	ew.flusher, _ = w.(http.Flusher)
	return ew
}

// Write passes p on, up to the first event boundary once goAway was called; then it ends the
// stream and answers errEventsEnded.
func (w *eventWriter) Write(p []byte) (int, error) {
	n, err := w.writePieces([][]byte{p}, func(bufs [][]byte) (int64, error) {
		n, err := w.ResponseWriter.Write(bufs[0])
		return int64(n), err
	})
	return int(n), err
}

// WriteBuffers is Write for several buffers at once, as h1's.
func (w *eventWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	if w.bw == nil {
		var total int64
		for _, b := range bufs {
			n, err := w.Write(b)
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	return w.writePieces(bufs, w.bw.WriteBuffers)
}

// writePieces writes bufs with write, cut after the first event boundary if the drain began.
func (w *eventWriter) writePieces(bufs [][]byte, write func([][]byte) (int64, error)) (int64, error) {
	w.mu.Lock()
	going, ended := w.going, w.ended
	w.mu.Unlock()
	if ended {
		return 0, errEventsEnded
	}
	cut := bufs
scan:
	for i, b := range bufs {
		for off := 0; off < len(b); {
			n, boundary := w.lines.consume(b[off:])
			off += n
			if going && boundary {
				cut = append(bufs[:i:i], b[:off]) // a copy: the caller's slice is not changed
				break scan
			}
		}
	}
	n, err := write(cut)
	if err != nil {
		return n, err
	}
	w.mu.Lock()
	w.boundary = w.lines.between()
	end := w.going && w.boundary
	w.ended = w.ended || end
	w.mu.Unlock()
	if end {
		return n, errEventsEnded
	}
	return n, nil
}

// Flush flushes the ResponseWriter.
func (w *eventWriter) Flush() {
	if w.flusher != nil {
		w.flusher.Flush()
	}
}

// goAway ends the stream now if what was written ends at an event boundary, by closing the
// upstream's body under the copy that waits for it; else the next boundary written ends it.
func (w *eventWriter) goAway() error {
	w.mu.Lock()
	w.going = true
	end := w.boundary && !w.ended
	w.ended = w.ended || end
	w.mu.Unlock()
	if end {
		return w.body.Close()
	}
	return nil
}

// endedByDrain reports whether the drain ended the stream, so that the copy's error is none.
func (w *eventWriter) endedByDrain() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended
}

// copyResponse is copyBody, but for an event stream, which goes through an eventWriter for the
// drain to end; an end of the drain's making is no error.
func (p *proxy) copyResponse(w http.ResponseWriter, resp *http.Response, ex *exchange) (int64, error) {
	events := eventStream(resp, ex.list.Fields)
	if p.longLived == nil || !events {
		hold := p.hold
		if events {
			hold = 0 // an event goes to the client as it comes
		}
		return copyBody(w, resp, &ex.pw, hold)
	}
	ew := newEventWriter(w, resp.Body)
	p.longLived.add(ew)
	defer p.longLived.remove(ew)
	n, err := copyBody(ew, resp, &ex.pw, 0)
	if ew.endedByDrain() {
		// The client's EventSource connects again: over a new connection, to whoever serves now.
		h1.CloseAfter(w)
		err = nil
	}
	return n, err
}
