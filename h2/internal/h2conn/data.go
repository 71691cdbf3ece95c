package h2conn

import (
	"io"

	"golang.org/x/net/http2"
)

// Response body bytes (DATA frames, RFC 9113 6.1) skip the framer's
// parse. The framer reads every frame header (ReadFrameHeader checks the
// frame size and the CONTINUATION order, and leaves the payload to be
// read through ReadFrameForHeader or straight from the framer's reader),
// but the payload of a DATA frame it would accept is taken by the reader
// from the read buffer (Conn.br) into its stream's dataBuffer: the bytes
// are copied once on their way in, instead of once into the framer's read
// buffer and again into the stream's, and not at all where the stream
// keeps a view of the read buffer (keepData). The framer still parses the
// DATA frames it rejects, so that they fail as before.
//
// The read buffer is filled only when it is empty, so that no bytes are
// moved within it: a payload is taken in pieces, what is buffered when its
// header has been read, then what each later read brings, so a frame may
// be larger than the buffer (Config.MaxFrameSize) and its bytes reach the
// stream as they arrive. Once the buffer is empty, a large rest of a
// stream's data is read from the connection straight into a chunk that
// the stream's buffer then takes over, not copied through the read
// buffer. The checks and the flow control of a frame are applied with its
// first piece; its END_STREAM, its errors and the reset of its stream
// wait until the whole payload, padding included, has been read, as they
// would with the framer.

// dataFrame is a DATA frame on its way from the read buffer.
type dataFrame struct {
	http2.FrameHeader
	size   int     // data bytes: the payload less the pad length and the padding
	s      *stream // the stream the rest of the frame still concerns; nil: none
	buffer bool    // the data goes into s.buf
	end    bool    // END_STREAM ends s once the whole payload is read
}

// dataPad reports whether the reader takes the DATA frame fh itself
// (readData), and with how many bytes of padding. It does not for a frame
// before the peer's SETTINGS, nor for one the framer would reject (RFC
// 9113 6.1): on stream 0, or with padding as long as the payload or
// longer. A PADDED frame without room for its pad length is too small
// for its mandatory data: a connection error FRAME_SIZE_ERROR (RFC 9113
// 4.2), where the framer would report only a short read. It may wait for
// the pad length, which it leaves unread.
func (c *Conn) dataPad(fh http2.FrameHeader) (pad int, direct bool, err error) {
	if !c.gotSettings || fh.StreamID == 0 {
		return 0, false, nil
	}
	if !fh.Flags.Has(http2.FlagDataPadded) {
		return 0, true, nil
	}
	if fh.Length == 0 {
		return 0, false, connError(http2.ErrCodeFrameSize, "PADDED DATA frame without its pad length")
	}
	b, err := c.br.Peek(1)
	if err != nil {
		return 0, false, err
	}
	return int(b[0]), uint32(b[0]) < fh.Length, nil
}

// readData reads and handles the payload of the DATA frame fh, which
// dataPad accepted with pad bytes of padding. It returns a connection
// error, a *streamReset or a read error, as readFrame and onFrame would.
func (c *Conn) readData(fh http2.FrameHeader, pad int) error {
	d := &dataFrame{FrameHeader: fh, size: int(fh.Length) - pad}
	if fh.Flags.Has(http2.FlagDataPadded) {
		d.size--
		_, _ = c.br.Discard(1) // the pad length, buffered by dataPad
	}
	need := d.size + pad
	p, err := c.peekPayload(need)
	if err != nil {
		return &opError{"read", err}
	}
	first := len(p)
	data := p[:min(first, d.size)]
	taken, ferr := c.onData(d, data, first == need)
	if taken {
		_, _ = c.br.Discard(first - len(data)) // the data left with the buffer's chunk
	} else {
		_, _ = c.br.Discard(first) // buffered: cannot fail
	}
	if d.s == nil {
		if _, err := c.br.Discard(need - first); err != nil {
			return &opError{"read", err}
		}
		return ferr
	}
	for off := first; off < need; {
		// The read buffer is empty: a large rest of the data skips it, and
		// otherwise one read fills it without moving bytes.
		if d.buffer && d.size-off >= minDirectRead {
			n := min(d.size-off, bigChunk)
			k, err := c.readDirect(d, n, off+n == need)
			off += k
			if err != nil {
				return &opError{"read", err}
			}
			continue
		}
		if _, err := c.br.Peek(1); err != nil {
			return &opError{"read", err}
		}
		p, _ := c.br.Peek(min(c.br.Buffered(), need-off))
		data := p[:min(max(d.size-off, 0), len(p))]
		off += len(p)
		c.onDataRest(d, data, false, off == need)
		_, _ = c.br.Discard(len(p))
	}
	return ferr
}

// minDirectRead is the least rest of a frame's data that readData reads
// past the read buffer: a smaller one is left to a buffered read, which
// may bring the frames after it too.
const minDirectRead = 16 << 10

// readDirect reads up to n more bytes of d's data from the connection into
// a chunk of their own, which it hands to d's stream (onDataRest). The read
// buffer must be empty. last says that n bytes would end the payload.
func (c *Conn) readDirect(d *dataFrame, n int, last bool) (int, error) {
	ch := getBigChunk()
	k, err := c.src.Read(ch[:n])
	if k == 0 {
		putChunk(ch)
		if err == nil {
			err = io.ErrNoProgress
		}
		return 0, err
	}
	c.onDataRest(d, ch[:k], true, last && k == n)
	return k, err
}

// peekPayload returns, without consuming them, the first of the next need
// bytes: those already buffered or, when none are, what one read brings.
func (c *Conn) peekPayload(need int) ([]byte, error) {
	if need == 0 {
		return nil, nil
	}
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	return c.br.Peek(min(c.br.Buffered(), need))
}

// onData applies the checks and the flow control of the DATA frame d and
// buffers p, its data read so far, if its stream takes it. last says
// that p ends the payload; if it does not, the reader passes the rest of
// the data to onDataRest, and END_STREAM waits for it. onData reports
// whether the stream took p with the read buffer's chunk (see keepData),
// and returns a connection error or a *streamReset.
func (c *Conn) onData(d *dataFrame, p []byte, last bool) (taken bool, _ error) {
	n := int32(d.Length) // padding counts against the windows (RFC 9113 6.9.1)
	c.mu.Lock()
	if n > c.recvWindow {
		c.mu.Unlock()
		return false, connError(http2.ErrCodeFlowControl, "connection window exceeded")
	}
	c.recvWindow -= n
	// The connection gets its bytes back at once, whatever becomes of them
	// (see flow.go).
	wake := c.acceptedLocked(int(n))
	s, err := c.lookupLocked(d.StreamID)
	var reset *streamReset
	rst := false
	switch {
	case err != nil || s == nil:
	case s.remoteDone:
		reset = &streamReset{s: s, code: http2.ErrCodeStreamClosed}
	case !s.gotHead:
		reset = &streamReset{s: s, code: http2.ErrCodeProtocol}
	case n > s.recvWindow:
		reset = &streamReset{s: s, code: http2.ErrCodeFlowControl}
	default:
		var credit bool
		taken, credit, rst, reset = c.acceptDataLocked(s, d, p, last)
		wake = wake || credit
	}
	c.mu.Unlock()
	if wake {
		c.wakeWriter()
	}
	if rst {
		c.queueRST(s, http2.ErrCodeCancel)
	}
	if err != nil {
		return taken, err
	}
	if reset != nil {
		return taken, reset
	}
	return taken, nil
}

// acceptDataLocked is onData for a frame that s may take: d's data, the
// first p of which is read, fits s's window and follows its response
// head. It charges the window, counts the data against s's
// content-length and buffers p unless s drops its body; padding and
// dropped data are credited back at once. It reports whether s took p
// with the read buffer's chunk (see keepData), whether the writer has a
// WINDOW_UPDATE to send, whether an RST_STREAM(CANCEL) is due (see
// endRemoteLocked), and the stream error to reset s with, if any. Called
// with c.mu held.
func (c *Conn) acceptDataLocked(s *stream, d *dataFrame, p []byte, last bool) (taken, wake, rst bool, reset *streamReset) {
	n := int32(d.Length) // with the padding, as in onData (RFC 9113 6.9.1)
	s.recvWindow -= n
	s.got += int64(d.size)
	pad := int(n) - d.size
	if s.clen >= 0 && s.got > s.clen {
		reset = &streamReset{s: s, code: http2.ErrCodeProtocol}
		pad = int(n) // dropped, so credited now
	} else if s.discard {
		pad = int(n) // HEAD: nobody reads, so credit all of it now
	} else if d.size > 0 {
		s.headBy = 0 // the body is coming: its idle time starts anew (watch.go)
		d.s, d.buffer = s, true
		if len(p) > 0 {
			taken = c.keepData(s, p)
			c.readableLocked(s)
		}
	}
	wake = c.consumedLocked(s, pad)
	if reset == nil && d.Flags.Has(http2.FlagDataEndStream) {
		reset, rst = c.endDataLocked(s, d, last)
	}
	return taken, wake, rst, reset
}

// endDataLocked applies the END_STREAM of d, a DATA frame s took: with a
// body shorter than s's content-length it returns the stream error to
// reset s with; else the peer's side of s ends now if last says the whole
// payload is read, or once the rest of it is (d.end, see onDataRest). It
// reports whether an RST_STREAM(CANCEL) is due (see endRemoteLocked).
// Called with c.mu held.
func (c *Conn) endDataLocked(s *stream, d *dataFrame, last bool) (reset *streamReset, rst bool) {
	switch {
	case s.clen >= 0 && s.got != s.clen:
		reset = &streamReset{s: s, code: http2.ErrCodeProtocol}
		d.s = nil
	case last:
		rst = c.endRemoteLocked(s)
	default:
		d.s, d.end = s, true
	}
	return reset, rst
}

// keepData buffers p, data of s, and reports whether it took the read
// buffer's chunk for it rather than copying it: when p is the front of the
// read buffer and at least half its chunk, and s holds nothing else, as
// when a large frame came in one read and its body is written out as it
// comes. A smaller p of minView bytes or more stays where it is, in a view
// of the read buffer (inbuf.share), while s holds fewer than maxViews; the
// rest is copied.
func (c *Conn) keepData(s *stream, p []byte) (taken bool) {
	switch {
	case s.buf.empty() && c.br.canTake(p):
		s.buf.adopt(c.br.take(len(p)))
		return true
	case s.buf.canView(len(p)):
		s.buf.addView(c.br.share(p))
	default:
		s.buf.write(p)
	}
	return false
}

// onDataRest buffers p, more of d's data, and, when last says the whole
// payload is read, applies d's END_STREAM; unless d's stream was reset
// meanwhile (which dropped its buffered bytes). With own, p is a chunk
// from getBigChunk that the stream's buffer takes over (or that returns to
// its pool), instead of copying it.
func (c *Conn) onDataRest(d *dataFrame, p []byte, own, last bool) {
	s := d.s
	c.mu.Lock()
	if s.remoteDone {
		c.mu.Unlock()
		if own {
			putChunk(p)
		}
		return
	}
	switch {
	case own:
		s.buf.add(p)
		c.readableLocked(s)
	case d.buffer && len(p) > 0:
		s.buf.write(p)
		c.readableLocked(s)
	}
	rst := last && d.end && c.endRemoteLocked(s)
	c.mu.Unlock()
	if rst {
		c.queueRST(s, http2.ErrCodeCancel)
	}
}

// onDataFrame handles a DATA frame that the framer parsed. readFrames
// leaves it none it accepts (see dataPad); this keeps onFrame whole.
func (c *Conn) onDataFrame(f *http2.DataFrame) error {
	d := &dataFrame{FrameHeader: f.FrameHeader, size: len(f.Data())}
	_, err := c.onData(d, f.Data(), true) // the framer's bytes: never taken (see keepData)
	return err
}
