package h1

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"muxgate/internal/fieldlist"
)

// response is one exchange: the request handed to the handler and the http.ResponseWriter and
// http.Flusher it answers with. The serve goroutine makes one per request; the handler owns it
// until it returns, and must not use it afterwards.
//
// The response writes into bw; nothing reaches the socket before the buffer fills, the handler
// flushes, or the handler returns. For an exchange run by the serve goroutine bw is the
// connection's writer; a dispatched one (pipelined, see pipeline.go) has a writer of its own,
// whose sink (out) holds the bytes back until the exchange's turn.
type response struct {
	c    *conn
	req  *http.Request // &reqv
	reqv http.Request
	head head
	body body              // the request's Body when hasBody
	rctx *reqContext       // the request's context, which the Server cancels
	seq  int               // the request's index on its connection, from 0
	bw   *bufio.Writer     // set before the handler runs
	out  pipedWriter       // the sink of bw for a dispatched exchange (out.p is set), unused otherwise
	fin  PipelinedExchange // a started pipelined exchange (batch.go): bw is the finisher's, which finish does not flush

	hasBody bool        // the request has content; set before the handler runs
	header  http.Header // the handler's header map

	// wroteHeader and sentContinue are written under mu (by the handler, or by the body's reader
	// sending 100 Continue, which may run on another goroutine); the handler goroutine, the only
	// writer of wroteHeader, reads it without mu.
	mu           sync.Mutex
	wroteHeader  bool
	sentContinue bool

	// Owned by the handler goroutine until the handler returns, then by the serve goroutine.
	status     int
	mode       bodyMode
	length     int64    // the Content-Length of a length-framed response
	written    int64    // body bytes accepted
	closeAfter bool     // the connection closes after this response (said in its header)
	trailers   []string // trailer names declared in the Trailer header (chunked only)
	headerMark int64    // the bytes of the connection (or of a dispatched exchange) sent or buffered when the final header was started
	done       bool     // the handler has returned
	tunnel     *Tunnel  // what Upgrade made of the connection, if it did
}

// bodyMode is how a response's body is delimited (RFC 9112 6.3).
type bodyMode uint8

const (
	bodyNone       bodyMode = iota // no body: HEAD, 1xx, 204, 304
	bodyLength                     // Content-Length
	bodyChunked                    // chunked transfer coding, for HTTP/1.1
	bodyUntilClose                 // ends when the connection closes, for HTTP/1.0 without length
)

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
)

// Header returns the header map the response will be sent with. Changes after WriteHeader (or
// the first Write) only matter for trailers: keys declared in the Trailer header, and keys
// prefixed with http.TrailerPrefix.
//
// The map is made at the first call: a handler that adopts one (AdoptHeader) or sends no field
// costs none.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// AdoptHeader makes h the header map that w, a ResponseWriter of this package's, will send,
// where w's own map is still empty and nothing of the response was written; it reports whether
// it did. A handler that has a map to send anyway, as a proxy has the upstream's, saves building
// one field by field; h is then w's, and the handler changes it only through w.Header().
func AdoptHeader(w http.ResponseWriter, h http.Header) bool {
	r, ok := w.(*response)
	if !ok || h == nil || len(r.header) > 0 || r.wroteHeader || r.done {
		return false
	}
	r.header = h
	return true
}

// CloseAfter has the connection of w, a ResponseWriter of this package's, close once the response
// is complete, although its head, sent already, did not say so (a server may close between
// messages: RFC 9112 9.6), so that the client's next request goes over a new connection. It
// reports false, changing nothing, for another ResponseWriter, after the handler returned, and
// where requests pipelined after this one were read, which closing would leave unanswered.
func CloseAfter(rw http.ResponseWriter) bool {
	w, ok := rw.(*response)
	if !ok || w.done || w.c.reqs.Load() != int64(w.seq)+1 {
		return false
	}
	w.closeAfter = true
	return true
}

// Discard drops the response that w, a ResponseWriter of this package's, holds, where nothing of
// its final head has reached the client: the head and body bytes buffered so far are gone (with
// an informational response still held back with them), and the handler may answer anew, as if
// it had written nothing. A proxy whose upstream failed after the response head, before any of
// it was sent, can so answer with a status instead of a cut connection. It reports false,
// changing nothing, once a byte of the final head was sent, for another ResponseWriter, after
// the handler returned, and for a pipelined response written with others (PipelineStarter),
// whose bytes share a buffer.
func Discard(rw http.ResponseWriter) bool {
	w, ok := rw.(*response)
	if !ok || w.done || w.fin != nil {
		return false
	}
	if !w.wroteHeader {
		w.header = nil
		return true
	}
	if o := &w.out; o.p != nil {
		// A dispatched exchange: its bytes are held until its turn, and sent by whoever writes
		// the pipeline (see afterDispatchedPanic).
		o.p.mu.Lock()
		unsent := o.sent <= w.headerMark
		if unsent {
			o.p.held -= len(o.held)
			o.held = o.held[:0]
			o.p.cond.Broadcast() // room for held-back responses
		}
		o.p.mu.Unlock()
		if !unsent {
			return false
		}
		w.bw.Reset(o)
	} else {
		if w.c.wired > w.headerMark {
			return false
		}
		w.bw.Reset(w.c)
	}
	w.mu.Lock()
	w.wroteHeader = false
	w.mu.Unlock()
	w.header, w.status, w.mode, w.length, w.written, w.trailers = nil, 0, bodyNone, 0, 0, nil
	return true
}

// WriteHeader sends the status line and header. A 1xx code (other than 101) sends an
// informational response with the current header map at once, and may be repeated; a final code
// counts only the first time. Codes outside 100-999 panic, as with net/http.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("h1: invalid WriteHeader code %d", code))
	}
	if w.done || w.wroteHeader {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.writeHeader(code, false)
}

// Write sends body bytes: as one chunk for a chunked response, as they are otherwise. Errors:
// http.ErrContentLength for bytes past a declared Content-Length, http.ErrBodyNotAllowed for a
// status without a body (bytes written for a HEAD request are dropped silently), the connection's
// error after it failed.
func (w *response) Write(p []byte) (int, error) { return w.write(p, "") }

// WriteString is Write for a string, without a copy.
func (w *response) WriteString(s string) (int, error) { return w.write(nil, s) }

// Flush sends what is buffered to the client at once.
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush that reports the connection's error (used by http.ResponseController).
func (w *response) FlushError() error {
	if w.done {
		return errAfterHandler
	}
	if !w.wroteHeader {
		w.writeHeader(http.StatusOK, false)
	}
	if w.fin != nil && w.mode == bodyLength && w.written == w.length {
		// A pipelined response complete by its Content-Length, in the finisher's buffer: the
		// finisher writes it with the responses that follow, or before it waits for the next,
		// and a flush now would send it in a write of its own.
		return nil
	}
	return w.bw.Flush()
}

// WriteBuffers sends the bytes of bufs, in order, as one body write: one chunk for a chunked
// response. Where Write would pass a large write straight to the socket (a clear-text
// connection, an exchange run by the serve goroutine), what the writer buffers and bufs leave in
// one writev, and nothing is copied; elsewhere the buffers go through the writer one after
// another. Its checks and errors are Write's, for the total. It neither keeps bufs nor changes
// it: the caller may reuse the buffers once it returns. It serves a handler that holds a body in
// pieces, as the gateway holds what its upstream session buffered.
func (w *response) WriteBuffers(bufs [][]byte) (int64, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if ok, m, err := w.admit(n); !ok {
		return int64(m), err
	}
	bw := w.bw
	var tail []byte
	if w.mode == bodyChunked {
		tail = crlf // in the writev, so that the chunk's end does not wait in bw
	}
	if through, err := w.c.writeVectored(bw, bufs, tail, n+len(tail)); err != nil {
		w.closeAfter = true
		return 0, err
	} else if through {
		w.written += int64(n)
		return int64(n), nil
	}
	for _, b := range bufs {
		bw.Write(b)
	}
	m, err := w.wrote(n)
	return int64(m), err
}

var crlf = []byte("\r\n")

func (w *response) write(p []byte, s string) (int, error) {
	n := len(p) + len(s)
	if ok, m, err := w.admit(n); !ok {
		return m, err
	}
	bw := w.bw
	if p == nil {
		bw.WriteString(s)
	} else if through, err := w.c.writeThrough(bw, p); !through {
		bw.Write(p)
	} else if err != nil {
		w.closeAfter = true
		return 0, err
	}
	return w.wrote(n)
}

// admit starts a body write of n bytes: it sends the header if it is not yet sent, checks the
// write against the framing, and writes a chunk's header. It reports whether the n bytes are to
// be written now; if not, the write returns m and err.
func (w *response) admit(n int) (ok bool, m int, err error) {
	if w.done {
		return false, 0, errAfterHandler
	}
	if !w.wroteHeader {
		w.writeHeader(http.StatusOK, false)
	}
	if n == 0 {
		return false, 0, nil
	}
	bw := w.bw
	switch w.mode {
	case bodyNone:
		if w.head.method == http.MethodHead && bodyAllowed(w.status) {
			return false, n, nil
		}
		return false, 0, http.ErrBodyNotAllowed
	case bodyLength:
		if w.written+int64(n) > w.length {
			return false, 0, http.ErrContentLength
		}
	case bodyChunked:
		bw.Write(appendChunkHeader(bw.AvailableBuffer(), n))
	}
	return true, 0, nil
}

// wrote ends a body write of n bytes that went into bw: it ends the chunk, and reports the
// writer's error, if any, with the connection to be closed after the response.
func (w *response) wrote(n int) (int, error) {
	bw := w.bw
	if w.mode == bodyChunked {
		bw.Write(crlf)
	}
	// bufio.Writer errors are sticky: one check covers the writes before.
	if _, err := bw.Write(nil); err != nil {
		w.closeAfter = true
		return 0, err
	}
	w.written += int64(n)
	return n, nil
}

// writeHeader commits the final status and header to the connection's writer. finished says the
// handler returned without writing a body, so an empty body can be framed by length.
func (w *response) writeHeader(code int, finished bool) {
	h := w.header
	var f headFacts
	f.length, f.hasLength = handlerLength(h["Content-Length"])
	if t, ok := h["Trailer"]; ok && w.head.http11() {
		f.declared = declaredTrailers(t)
	}
	_, f.hasDate = h["Date"]
	f.close = hasToken(h["Connection"], "close")
	w.startHead(code, finished, &f)
	bw := w.bw
	for k, vv := range h {
		if !w.sendField(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	w.endHead(code, &f)
}

// headFacts is what the server reads in the handler's fields to frame the response and to
// decide whether the connection closes after it.
type headFacts struct {
	length    int64    // the Content-Length, if hasLength
	hasLength bool     // one valid Content-Length (see handlerLength)
	declared  []string // the trailer names declared (see declaredTrailers); HTTP/1.1 only
	hasDate   bool     // the handler set a Date
	close     bool     // the handler set Connection: close
}

// startHead commits the final status code: it chooses the body's framing from f and writes the
// status line. The fields follow, then endHead.
func (w *response) startHead(code int, finished bool, f *headFacts) {
	w.mu.Lock()
	w.wroteHeader = true
	continueOwed := w.head.expectContinue && !w.sentContinue
	w.headerMark = w.produced() + int64(w.bw.Buffered())
	w.mu.Unlock()

	w.status = code
	switch {
	case !bodyAllowed(code) || w.head.method == http.MethodHead:
		w.mode = bodyNone
	case len(f.declared) > 0:
		// Declared trailers need the chunked coding, the only framing with room for them
		// (RFC 9112 7.1.2); a Content-Length set as well is dropped.
		w.mode, w.trailers, f.hasLength = bodyChunked, f.declared, false
	case f.hasLength:
		w.mode, w.length = bodyLength, f.length
	case finished:
		w.mode, w.length, f.hasLength, f.length = bodyLength, 0, true, 0
	case w.head.http11():
		w.mode = bodyChunked
	default:
		w.mode = bodyUntilClose
	}
	w.closeAfter = w.closeAfter || f.close || w.mustClose(code, continueOwed)
	writeStatusLine(w.bw, code)
}

// endHead writes the server's own fields (Date unless the handler set one, the framing, the
// connection's fate) and ends the header section.
func (w *response) endHead(code int, f *headFacts) {
	bw := w.bw
	if !f.hasDate {
		bw.Write(w.c.s.clock.dateLine())
	}
	// RFC 9110 8.6: no Content-Length in 1xx and 204 responses; a HEAD or 304 response keeps the
	// one the handler set, which describes the body a GET would have got.
	if f.hasLength && code != http.StatusNoContent && code >= 200 {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), f.length, 10))
		bw.WriteString("\r\n")
	}
	if w.mode == bodyChunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(w.trailers) > 0 {
			// Only the names a trailer may carry: a recipient may refuse a response that
			// announces others (RFC 9110 6.6.2).
			bw.WriteString("Trailer: ")
			for i, k := range w.trailers {
				if i > 0 {
					bw.WriteString(", ")
				}
				bw.WriteString(k)
			}
			bw.WriteString("\r\n")
		}
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.head.keepAlive:
		// RFC 9112 9.3: an HTTP/1.0 client keeps the connection only if told so.
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// mustClose decides, when the header is written, whether the connection closes after this
// response for a reason of the server's or the client's (the handler's Connection: close is
// headFacts.close). continueOwed says the client is waiting for 100 Continue that was never sent, so it
// may or may not send its content now (RFC 9110 10.1.1): the connection cannot be reused.
func (w *response) mustClose(code int, continueOwed bool) bool {
	s := w.c.s
	switch {
	case w.head.close, w.mode == bodyUntilClose, code == http.StatusSwitchingProtocols:
		return true
	case continueOwed, w.body.unread.Load() > maxDiscard, w.body.failed.Load():
		return true
	case s.closing.Load() && w.c.reqs.Load() == int64(w.seq)+1:
		// A drain: the last request read closes the connection, not one that pipelined
		// requests read after it follow, which would then go unanswered; no request is read
		// after a drain has begun (conn.run).
		return true
	}
	return w.c.lastRequest(w)
}

// sendField reports whether the handler's header field k goes into the header section. Framing
// and connection fields are the server's own; trailers wait for the end of the body.
func (w *response) sendField(k string) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Date":
		return k == "Date"
	case "Trailer":
		return false // rewritten from w.trailers
	}
	if strings.HasPrefix(k, http.TrailerPrefix) || !isToken(k) {
		return false
	}
	for _, t := range w.trailers {
		if t == k {
			return false
		}
	}
	return true
}

// writeInformational sends a 1xx response (e.g. 103 Early Hints) with the current header map and
// flushes it. RFC 9110 15.2: none is sent to an HTTP/1.0 client.
func (w *response) writeInformational(code int) {
	if !w.head.http11() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if code == http.StatusContinue {
		if w.sentContinue {
			return
		}
		w.sentContinue = true
	}
	bw := w.bw
	writeStatusLine(bw, code)
	for k, vv := range w.header {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Trailer":
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !isToken(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	bw.Flush()
}

// writeContinue sends 100 Continue unless it was sent or a final response has begun. It is called
// by the request body's first Read, which may run on another goroutine than the handler.
func (w *response) writeContinue() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sentContinue || w.wroteHeader {
		return nil
	}
	w.sentContinue = true
	bw := w.bw
	bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return bw.Flush()
}

// finish completes the response after the handler returned normally: the implied header, the
// last chunk and trailers, the check of a declared length, and the flush. bodyErr is the error
// the handler met reading the request body. It returns the server's own answer if, instead,
// the server must answer (a malformed or timed-out body the handler did not answer), else nil.
func (w *response) finish(bodyErr error) *statusError {
	w.done = true
	if bodyErr != nil {
		// The request's framing is lost: the connection cannot carry another request.
		w.closeAfter = true
	}
	if !w.wroteHeader {
		switch {
		case isMalformed(bodyErr):
			return errBadBody
		case bodyErr == ErrBodyTimeout:
			return errBodyTimeoutReply
		case bodyErr == ErrBodyTooLarge:
			return errBodyTooLarge
		}
		w.writeHeader(http.StatusOK, true)
	}
	bw := w.bw
	switch w.mode {
	case bodyChunked:
		writeTrailerSection(bw, w.header, w.trailers)
	case bodyLength:
		if w.written < w.length {
			// The body is short of its declared length: only closing tells the client.
			w.closeAfter = true
			w.c.s.log.Warn().Str("remote", w.c.remoteAddr).Int64("declared", w.length).
				Int64("written", w.written).Msg("h1: handler wrote less than its Content-Length")
		}
	}
	if w.fin != nil {
		// The finisher flushes for the answers it gathered; an earlier failed write shows as
		// the writer's sticky error.
		if _, err := bw.Write(nil); err != nil {
			w.closeAfter = true
		}
		return nil
	}
	if bw.Flush() != nil {
		w.closeAfter = true
	}
	return nil
}

// produced is what bw has passed on: for an exchange run by the serve goroutine the bytes of the
// connection written so far, for a dispatched one the bytes of the response.
func (w *response) produced() int64 {
	if w.out.p != nil {
		return w.out.flushed
	}
	return w.c.wired
}

// afterDispatchedPanic is afterPanic for a dispatched exchange: a 500 in place of the response
// if nothing of its final header has been sent, else the connection closes after what was sent.
func (w *response) afterDispatchedPanic() {
	w.done = true
	o := &w.out
	p := o.p
	p.mu.Lock()
	replace := !w.wroteHeader || o.sent <= w.headerMark
	if replace {
		p.held -= len(o.held)
		o.held = o.held[:0]
	} else {
		o.cut = true
	}
	p.mu.Unlock()
	if replace {
		w.bw.Reset(o)
		w.closeAfter = true
		writeErrorReply(w.bw, errHandlerPanic, w.c.s.clock.dateLine())
		w.bw.Flush()
	}
}

// bodyAllowed reports whether a response with the status may have a body (RFC 9110 6.4.1).
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// handlerLength returns the Content-Length a handler set, if it is one valid value (or the same
// value repeated); anything else is ignored and the response framed otherwise.
func handlerLength(values []string) (int64, bool) {
	if len(values) == 0 {
		return 0, false
	}
	return parseContentLength(values)
}

// declaredTrailers returns the canonical names listed in the handler's Trailer header, without
// those a trailer may not carry, each once, sorted.
func declaredTrailers(values []string) []string {
	var names []string
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			if elem = trimOWS(elem); isToken(elem) {
				if k := http.CanonicalHeaderKey(elem); !forbiddenTrailer(k) {
					names = append(names, k)
				}
			}
		}
	}
	// A name listed twice, in any case, is declared once: writeTrailerSection writes the
	// fields of each declared name, and would send their values twice, which a recipient
	// reads as a list of both (RFC 9110 5.3).
	slices.Sort(names)
	return slices.Compact(names)
}

// hasToken reports whether the comma-separated values hold token, ASCII case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			if fieldlist.SameName(trimOWS(elem), token) {
				return true
			}
		}
	}
	return false
}

// writeStatusLine writes "HTTP/1.1 code reason CRLF", always with a reason phrase: some clients
// (h2load among them) count a status line without one as a failure.
func writeStatusLine(bw *bufio.Writer, code int) {
	if code < len(statusLines) && statusLines[code] != "" {
		bw.WriteString(statusLines[code])
		return
	}
	bw.Write(appendStatusLine(bw.AvailableBuffer(), code))
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reasonPhrase(code)...)
	return append(b, '\r', '\n')
}

// statusLines holds the status line of each code that has a standard reason phrase.
var statusLines = func() (t [600]string) {
	for code := range t {
		if http.StatusText(code) != "" {
			t[code] = string(appendStatusLine(nil, code))
		}
	}
	return t
}()

// reasonPhrase is the standard reason phrase of code, or "Status" for a code without one.
func reasonPhrase(code int) string {
	// RFC 9110 renamed these; net/http keeps the names of RFC 7231 and WebDAV.
	switch code {
	case http.StatusRequestEntityTooLarge:
		return "Content Too Large" // RFC 9110 15.5.14
	case http.StatusRequestURITooLong:
		return "URI Too Long" // RFC 9110 15.5.15
	case http.StatusRequestedRangeNotSatisfiable:
		return "Range Not Satisfiable" // RFC 9110 15.5.17
	case http.StatusUnprocessableEntity:
		return "Unprocessable Content" // RFC 9110 15.5.21
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Status"
}

// writeField writes "k: v CRLF". A value with a CR, LF or other control character, which would
// split the header or corrupt it, has each such byte replaced by a space.
func writeField(bw *bufio.Writer, k, v string) {
	if fieldlist.ValidValue(v) {
		writeValid(bw, k, v, false)
		return
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			c = ' '
		}
		bw.WriteByte(c)
	}
	bw.WriteString("\r\n")
}

// writeValid writes "k: v CRLF" for a valid value v (RFC 9110 5.5, fieldlist.ValidValue), the
// name in canonical form (appendCanonical) if canon.
func writeValid(bw *bufio.Writer, k, v string, canon bool) {
	if n := len(k) + len(v) + len(": \r\n"); n <= bw.Available() {
		// The common case, in one copy into the buffer.
		var b []byte
		if canon {
			b = appendCanonical(bw.AvailableBuffer(), k)
		} else {
			b = append(bw.AvailableBuffer(), k...)
		}
		b = append(b, ": "...)
		b = append(b, v...)
		bw.Write(append(b, "\r\n"...))
		return
	}
	if canon {
		upper := true
		for i := range len(k) {
			var c byte
			c, upper = canonicalByte(k[i], upper)
			bw.WriteByte(c)
		}
	} else {
		bw.WriteString(k)
	}
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}
