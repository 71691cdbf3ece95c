package h2conn

import (
	"errors"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"muxgate/internal/fieldlist"
)

// errResHeaderListSize fails a stream whose response head or trailers
// exceed Config.MaxHeaderListSize.
var errResHeaderListSize = errors.New("h2conn: response header list too large")

// streamReset is returned by a frame handler that found a stream error
// (RFC 9113 5.4.2): the reader resets the stream and goes on.
type streamReset struct {
	s    *stream
	code http2.ErrCode
	err  error // what the stream's users get; nil: a StreamError with code
}

func (e *streamReset) Error() string { return "h2conn: stream error " + e.code.String() }

// connError is a connection error we detected (RFC 9113 5.4.1).
func connError(code http2.ErrCode, reason string) *ConnError {
	return &ConnError{Code: code, Reason: reason}
}

// readLoop is the reader goroutine. When it ends, the connection fails.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	err := c.readFrames()
	c.wakeDelivered()
	c.mu.Lock()
	if !c.closed.Load() {
		c.log.Debug().Err(err).Msg("h2conn: connection lost")
	}
	c.failLocked(err)
	c.mu.Unlock()
}

func (c *Conn) readFrames() error {
	for {
		if err := c.readNext(); err != nil {
			if err = c.onFrameError(err); err != nil {
				return err
			}
		}
	}
}

// readNext reads and handles the next frame. DATA frames go to readData
// (see data.go), most HEADERS frames to readHeaders (headersframe.go), all
// others through the framer to onFrame.
func (c *Conn) readNext() error {
	fh, err := c.rfr.ReadFrameHeader()
	if err != nil {
		return c.frameError(fh, err)
	}
	if c.readsHeaders(fh) {
		return c.readHeaders(fh)
	}
	if fh.Type == http2.FrameData {
		pad, direct, err := c.dataPad(fh)
		if err != nil {
			return c.frameError(fh, err)
		}
		if direct {
			return c.readData(fh, pad)
		}
	}
	f, err := c.rfr.ReadFrameForHeader(fh)
	if err != nil {
		return c.frameError(fh, err)
	}
	return c.onFrame(f)
}

// readFrame reads the next frame through the framer. It returns a nil
// frame and error for a frame to skip (see frameError).
func (c *Conn) readFrame() (http2.Frame, error) {
	fh, err := c.rfr.ReadFrameHeader()
	if err == nil {
		var f http2.Frame
		if f, err = c.rfr.ReadFrameForHeader(fh); err == nil {
			return f, nil
		}
	}
	return nil, c.frameError(fh, err)
}

// frameError sorts an error from reading the frame with header fh into
// stream errors, our connection errors and I/O errors. It returns nil for
// a stream error on a stream that is gone: the frame is skipped.
func (c *Conn) frameError(fh http2.FrameHeader, err error) error {
	var own *ConnError
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &own):
		return own
	case errors.As(err, &se):
		if fh.Type == http2.FrameWindowUpdate {
			c.mu.Lock()
			s := c.streams.get(se.StreamID)
			c.mu.Unlock()
			if s != nil {
				return &streamReset{s: s, code: se.Code}
			}
			return nil
		}
		// Any other stream error loses a header block or data the
		// connection's state depends on.
		return connError(se.Code, "malformed "+fh.Type.String()+" frame")
	case errors.As(err, &ce):
		reason := ""
		if d := c.rfr.ErrorDetail(); d != nil {
			reason = d.Error()
		}
		return connError(http2.ErrCode(ce), reason)
	case errors.Is(err, http2.ErrFrameTooLarge):
		return connError(http2.ErrCodeFrameSize, "frame too large")
	}
	return &opError{"read", err}
}

// onFrameError handles an error from reading or handling a frame: a
// stream error resets the stream, anything else ends the connection (with
// a GOAWAY when the peer broke the protocol).
func (c *Conn) onFrameError(err error) error {
	var sr *streamReset
	if errors.As(err, &sr) {
		serr := sr.err
		if serr == nil {
			serr = &StreamError{StreamID: sr.s.id, Code: sr.code}
		}
		c.abort(sr.s, serr, sr.code)
		return nil
	}
	var ce *ConnError
	if errors.As(err, &ce) && !ce.Remote {
		c.log.Warn().Str("code", ce.Code.String()).Str("reason", ce.Reason).Msg("h2conn: protocol error")
		c.queueGoAway(ce.Code, ce.Reason)
		c.linger.Store(true)
	}
	return err
}

func (c *Conn) onFrame(f http2.Frame) error {
	if f == nil {
		return nil
	}
	if !c.gotSettings {
		// RFC 9113 3.4: the server's preface is a SETTINGS frame.
		if _, ok := f.(*http2.SettingsFrame); !ok {
			return connError(http2.ErrCodeProtocol, "first frame is not SETTINGS")
		}
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onDataFrame(f)
	case *http2.HeadersFrame:
		return c.onHeaders(f.FrameHeader, f.HeaderBlockFragment())
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onRSTStream(f)
	case *http2.PingFrame:
		return c.onPing(f)
	case *http2.GoAwayFrame:
		return c.onGoAway(f)
	case *http2.PushPromiseFrame:
		return connError(http2.ErrCodeProtocol, "PUSH_PROMISE with push disabled")
	}
	return nil // PRIORITY and unknown frame types are ignored (RFC 9113 5.5)
}

// lookupLocked finds an open stream. It returns nil for a stream that was
// open once, and a connection error for an idle stream (RFC 9113 5.1),
// which a server-initiated (even) ID always is here: push is disabled.
func (c *Conn) lookupLocked(id uint32) (*stream, error) {
	if s := c.streams.get(id); s != nil {
		return s, nil
	}
	if id%2 == 0 || id > c.lastID {
		return nil, connError(http2.ErrCodeProtocol, "frame on idle stream "+strconv.FormatUint(uint64(id), 10))
	}
	return nil, nil
}

func (c *Conn) onRSTStream(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.lookupLocked(f.StreamID)
	if s == nil {
		return err
	}
	serr := error(&StreamError{StreamID: s.id, Code: f.ErrCode, Remote: true})
	switch {
	case f.ErrCode == http2.ErrCodeRefusedStream:
		// RFC 9113 8.7: the peer did no processing of the request.
		serr = unprocessed(serr)
	case f.ErrCode == http2.ErrCodeNo && s.remoteDone:
		// RFC 9113 8.1: the response is complete and the peer wants no
		// more of the request body.
		s.localDone = true
		c.closeStreamLocked(s)
		return nil
	}
	c.resetLocked(s, serr)
	return nil
}

func (c *Conn) onPing(f *http2.PingFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		if ack := c.pings[f.Data]; ack != nil {
			delete(c.pings, f.Data)
			close(ack)
		}
		c.mu.Unlock()
		return nil
	}
	data := f.Data
	return c.queueControl(func(fr *http2.Framer) { _ = fr.WritePing(true, data) })
}

func (c *Conn) onGoAway(f *http2.GoAwayFrame) error {
	debug := f.DebugData()
	if len(debug) > 256 {
		debug = debug[:256]
	}
	ga := &ConnError{Code: f.ErrCode, Remote: true, LastStreamID: f.LastStreamID, Reason: string(debug)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goAway != nil && c.goAway.LastStreamID < ga.LastStreamID {
		ga.LastStreamID = c.goAway.LastStreamID // it may only decrease (RFC 9113 6.8)
	}
	c.goAway = ga
	c.draining.Store(true)
	c.log.Info().Str("code", ga.Code.String()).Uint32("last_stream", ga.LastStreamID).
		Str("debug", ga.Reason).Msg("h2conn: GOAWAY from peer")
	for s := range c.streams.all() {
		if s.id > ga.LastStreamID {
			c.resetLocked(s, unprocessed(ga))
		}
	}
	c.maybeIdleLocked()
	return nil
}

// onHeaders decodes the header block that the HEADERS frame fh starts with
// frag, reading its CONTINUATION frames, and handles it. Every block is
// decoded, even for a stream that is gone, to keep the hpack decoder in
// step with the peer's encoder.
func (c *Conn) onHeaders(fh http2.FrameHeader, frag []byte) error {
	id, endStream := fh.StreamID, fh.Flags.Has(http2.FlagHeadersEndStream)
	if err := c.decodeHeaderBlock(frag, fh.Flags.Has(http2.FlagHeadersEndHeaders)); err != nil {
		return err
	}

	c.mu.Lock()
	s, err := c.lookupLocked(id)
	closed := s != nil && s.remoteDone
	c.mu.Unlock()
	switch {
	case s == nil:
		return err
	case closed:
		return &streamReset{s: s, code: http2.ErrCodeStreamClosed}
	case c.hsize > c.cfg.MaxHeaderListSize:
		return &streamReset{s: s, code: http2.ErrCodeCancel, err: errResHeaderListSize}
	case !s.gotHead:
		return c.onResponseHead(s, endStream)
	}
	return c.onTrailers(s, endStream)
}

// decodeHeaderBlock decodes the header block that frag starts into
// c.fields and c.hsize (see decoder.decode), reading its CONTINUATION
// frames unless ended. Any error is a connection error or a read error: a
// block cut short leaves the decoder out of step with the peer's encoder.
// A field longer than the list may hold fails its stream (onHeaders), as a
// long list does; only a block past maxBlock fails the connection.
func (c *Conn) decodeHeaderBlock(frag []byte, ended bool) error {
	block, err := c.gatherBlock(frag, ended)
	if err != nil {
		return err
	}
	c.fields, c.hsize, err = c.dec.decode(block, c.fields[:0], c.cfg.MaxHeaderListSize)
	if err != nil {
		return connError(http2.ErrCodeCompression, err.Error())
	}
	return nil
}

// gatherBlock returns the header block that frag starts: frag itself if it
// ended the block, else frag and its CONTINUATION frames' fragments, in
// c.block. A block past maxBlock fails the connection as soon as it is.
func (c *Conn) gatherBlock(frag []byte, ended bool) ([]byte, error) {
	limit, block := c.maxBlock(), frag
	if !ended {
		if cap(c.block) > maxKeptBlock {
			c.block = nil // a rare large block should not stay with the connection
		}
		c.block = append(c.block[:0], frag...)
		for !ended && len(c.block) <= limit {
			var err error
			if frag, ended, err = c.readContinuation(); err != nil {
				return nil, err
			}
			c.block = append(c.block, frag...)
		}
		block = c.block
	}
	if len(block) > limit {
		return nil, connError(http2.ErrCodeEnhanceYourCalm, "header block too large")
	}
	return block, nil
}

// maxKeptBlock is the largest buffer of a gathered block that the reader
// keeps for the next one.
const maxKeptBlock = 16 << 10

// readContinuation reads the next frame of a header block, which must be
// a CONTINUATION, and returns its fragment and whether it ends the block.
// Any error is a connection error or a read error: a stream error there
// is one for the whole connection.
func (c *Conn) readContinuation() (frag []byte, ended bool, _ error) {
	nf, err := c.readFrame()
	if err != nil {
		var sr *streamReset
		if errors.As(err, &sr) {
			err = connError(http2.ErrCodeProtocol, "bad frame in header block")
		}
		return nil, false, err
	}
	cf, ok := nf.(*http2.ContinuationFrame)
	if !ok { // the framer lets nothing else through
		return nil, false, connError(http2.ErrCodeProtocol, "expected CONTINUATION")
	}
	return cf.HeaderBlockFragment(), cf.HeadersEnded(), nil
}

func malformed(s *stream) error { return &streamReset{s: s, code: http2.ErrCodeProtocol} }

// onResponseHead handles a response head (or a 1xx head) for s.
func (c *Conn) onResponseHead(s *stream, endStream bool) error {
	code, status, fields, ok := splitStatus(c.fields)
	if !ok {
		return malformed(s)
	}
	if code < 200 {
		h, _, ok := buildHeader(fields, true, nil, &c.known) // a trace hook may keep it: not in s.hvals
		if !ok {
			return malformed(s)
		}
		return c.onInformational(s, code, h, endStream)
	}
	if !s.takeHeadFields(fields) {
		return malformed(s)
	}
	s.gotHead = true
	bad := c.fillResponse(s, code, status, endStream)
	return c.deliverResponse(s, endStream, bad)
}

// splitStatus reads the pseudo-fields at the front of a response head's
// fields: there must be one, :status, a three-digit code of 100 or more
// other than 101. It returns the status code, the field's value as sent
// and the regular fields that follow; ok is false if the head is
// malformed.
func splitStatus(fields []hpack.HeaderField) (code int, status string, rest []hpack.HeaderField, ok bool) {
	for len(fields) > 0 && fields[0].IsPseudo() {
		if fields[0].Name != ":status" || status != "" {
			return 0, "", nil, false
		}
		status = fields[0].Value
		fields = fields[1:]
	}
	code, ok = parseStatus(status)
	if !ok || code == http.StatusSwitchingProtocols { // RFC 9113 8.6: no 101
		return 0, "", nil, false
	}
	return code, status, fields, true
}

// takeHeadFields stores the regular fields of s's final response head:
// as s.list when s is listed, else as s.res.Header, its values backed by
// s.hvals. It sets s.res.Trailer to the keys the head declares and
// s.res.ContentLength (-1: unknown). It reports false if a field makes the
// head malformed. Called by the reader, which owns s.res until the head is
// delivered.
func (s *stream) takeHeadFields(fields []hpack.HeaderField) bool {
	res := &s.res
	if s.listed {
		list, declared, ok := listFields(fields, &s.c.known, s.listv[:])
		if !ok {
			return false
		}
		s.list, res.ContentLength = listContentLength(list)
		res.Trailer = declared
		return true
	}
	h, declared, ok := buildHeader(fields, true, s.hvals[:], &s.c.known)
	if !ok {
		return false
	}
	res.Header, res.Trailer = h, declared
	res.ContentLength = contentLength(h)
	return true
}

// fillResponse completes s.res, whose header takeHeadFields stored, for a
// final head with status code, sent as status, and gives it its Body. It
// sets s.clen, the length the DATA must add up to (-1: unchecked), and
// s.discard. It reports bad: the head ends the stream but announces
// content, so the response is malformed once delivered. Called by the
// reader, which owns s.res until the head is delivered.
func (c *Conn) fillResponse(s *stream, code int, status string, endStream bool) (bad bool) {
	res := &s.res
	res.Status = statusLine(code, status)
	res.StatusCode = code
	res.Proto, res.ProtoMajor, res.ProtoMinor = "HTTP/2.0", 2, 0
	res.Request = s.req
	res.TLS = c.tlsState
	s.tunnel = code/100 == 2 && connectProtocol(s.req) != ""
	if res.ContentLength < 0 && endStream && !s.head {
		res.ContentLength = 0
	}
	// A HEAD, 204 or 304 response has no content whatever its
	// content-length says (RFC 9110 6.4.1); other lengths are checked
	// against the DATA received (RFC 9113 8.1.1).
	if !s.head && code != http.StatusNoContent && code != http.StatusNotModified {
		s.clen = res.ContentLength
	}
	bad = endStream && s.clen > 0
	if s.head || endStream && !bad {
		res.Body = http.NoBody
		s.discard = true
	} else {
		res.Body = (*body)(s)
	}
	return bad
}

// deliverResponse hands s.res to s's RoundTrip (see deliverHeadLocked),
// unless s was reset meanwhile. Then, if bad (see fillResponse), it
// returns the stream error that resets s; else it ends the peer's side of
// s if endStream. It takes and releases c.mu.
func (c *Conn) deliverResponse(s *stream, endStream, bad bool) error {
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return nil // reset meanwhile; RoundTrip has its error
	}
	c.deliverHeadLocked(s)
	if bad {
		c.mu.Unlock()
		return malformed(s)
	}
	c.endLocked(s, endStream)
	return nil
}

// endLocked ends the peer's side of s if endStream, then releases c.mu.
func (c *Conn) endLocked(s *stream, endStream bool) {
	rst := endStream && c.endRemoteLocked(s)
	c.mu.Unlock()
	if rst {
		c.queueRST(s, http2.ErrCodeCancel)
	}
}

// onInformational handles a 1xx response: it goes to the stream's Interim
// and the request's httptrace hooks, if any, and is otherwise skipped.
func (c *Conn) onInformational(s *stream, code int, h http.Header, endStream bool) error {
	if endStream {
		return malformed(s)
	}
	if s.n1xx++; s.n1xx > max1xx {
		return malformed(s)
	}
	if s.interim != nil {
		s.interim.Got1xx(code, h)
	}
	if t := s.trace; t != nil {
		if code == http.StatusContinue && t.Got100Continue != nil {
			t.Got100Continue()
		}
		if t.Got1xxResponse != nil {
			if err := t.Got1xxResponse(code, textproto.MIMEHeader(h)); err != nil {
				return &streamReset{s: s, code: http2.ErrCodeCancel, err: err}
			}
		}
	}
	return nil
}

// onTrailers handles the trailer block that ends s.
func (c *Conn) onTrailers(s *stream, endStream bool) error {
	if !endStream || len(c.fields) > 0 && c.fields[0].IsPseudo() {
		return malformed(s)
	}
	t, _, ok := buildHeader(c.fields, false, nil, &c.known)
	if !ok {
		return malformed(s)
	}
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return nil
	}
	if s.clen >= 0 && s.got != s.clen {
		c.mu.Unlock()
		return malformed(s)
	}
	s.trailer = t
	c.endLocked(s, true)
	return nil
}

// buildHeader turns decoded regular fields into an http.Header. The values
// share one backing array, as net/textproto's do: vals when it is long
// enough, else a new one. In a response head, "trailer" declares
// Response.Trailer keys instead. Fields known to k pass unchecked (nil: none).
func buildHeader(fields []hpack.HeaderField, resHead bool, vals []string, k *knownFields) (h, declared http.Header, ok bool) {
	if len(vals) < len(fields) {
		vals = make([]string, len(fields))
	}
	h = make(http.Header, len(fields))
	for i, f := range fields {
		if !k.regular(i, f) {
			return nil, nil, false
		}
		if resHead && f.Name == "trailer" {
			declared = declareTrailers(declared, f.Value)
			continue
		}
		key := canonicalKey(f.Name)
		if vv, dup := h[key]; dup {
			h[key] = append(vv, f.Value)
			continue
		}
		vals[i] = f.Value
		h[key] = vals[i : i+1 : i+1]
	}
	return h, declared, true
}

// listSpare is the room a response head's list leaves for fields that a
// proxy adds (Via, Content-Length, Connection) without growing.
const listSpare = 3

// listFields is buildHeader for a response head kept as a list: the same
// checks, with "trailer" declaring Response.Trailer keys. The list is
// made in buf where it fits with listSpare more.
func listFields(fields []hpack.HeaderField, k *knownFields, buf []fieldlist.Field) (list []fieldlist.Field, declared http.Header, ok bool) {
	if list = buf[:0]; cap(buf) < len(fields)+listSpare {
		list = make([]fieldlist.Field, 0, len(fields)+listSpare)
	}
	for i, f := range fields {
		if !k.regular(i, f) {
			return nil, nil, false
		}
		if f.Name == "trailer" {
			declared = declareTrailers(declared, f.Value)
			continue
		}
		list = append(list, fieldlist.Field{Name: f.Name, Value: f.Value})
	}
	return list, declared, true
}

// regularField checks a decoded regular field: it is false if the field makes the head
// malformed (RFC 9113 8.2.1, 8.3), a connection-specific field included (RFC 9113 8.2.2),
// which an intermediary must not forward (8.1.1). Dropping one instead, as net/http's HTTP/2
// client does, also drops what it means: "connection: x-secret" would let x-secret through.
func regularField(f hpack.HeaderField) bool {
	return !f.IsPseudo() && validFieldName(f.Name) && fieldlist.ValidValue(f.Value) && !connectionField(f.Name)
}

// declareTrailers adds the names a Trailer field's value lists to declared,
// making it if nil.
func declareTrailers(declared http.Header, v string) http.Header {
	if declared == nil {
		declared = make(http.Header)
	}
	for _, k := range strings.Split(v, ",") {
		if k = textproto.TrimString(k); k != "" {
			declared[http.CanonicalHeaderKey(k)] = nil
		}
	}
	return declared
}

// contentLength reads Content-Length as net/http's HTTP/2 client does:
// repeated identical values collapse to one; a conflicting or invalid
// value is dropped and the length is unknown (-1).
func contentLength(h http.Header) int64 {
	vv, ok := h["Content-Length"]
	if !ok {
		return -1
	}
	for _, v := range vv[1:] {
		if v != vv[0] {
			delete(h, "Content-Length")
			return -1
		}
	}
	n, ok := fieldlist.ParseLength(vv[0])
	if !ok {
		delete(h, "Content-Length")
		return -1
	}
	if len(vv) > 1 {
		h["Content-Length"] = vv[:1]
	}
	return n
}

// listContentLength is contentLength for a list: it returns the list
// without the content-length fields that contentLength would delete or
// collapse, and the length (-1 if unknown).
func listContentLength(list []fieldlist.Field) ([]fieldlist.Field, int64) {
	first, agree := -1, true
	for i, f := range list {
		if f.Name != "content-length" {
			continue
		}
		if first < 0 {
			first = i
		} else if f.Value != list[first].Value {
			agree = false
		}
	}
	if first < 0 {
		return list, -1
	}
	n, ok := fieldlist.ParseLength(list[first].Value)
	keep, length := first, n // the one content-length field kept, or -1 for none
	if !agree || !ok {
		keep, length = -1, -1
	}
	kept := list[:first]
	for i := first; i < len(list); i++ {
		if list[i].Name != "content-length" || i == keep {
			kept = append(kept, list[i])
		}
	}
	return kept, length
}
