package h2

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
)

// HTTP/2 frame types and settings the watchConn looks at (RFC 9113 6).
const (
	frameHeaders  = 0x1
	frameSettings = 0x4
	frameGoAway   = 0x7

	flagAck = 0x1

	settingMaxConcurrentStreams  = 0x3
	settingEnableConnectProtocol = 0x8 // RFC 8441 3

	frameHeaderLen = 9
	prefaceLen     = len(http2.ClientPreface)

	// x/net's limit when the peer's first SETTINGS has no
	// SETTINGS_MAX_CONCURRENT_STREAMS (defaultMaxConcurrentStreams).
	unannouncedMaxStreams = 1000
)

// watchConn is the net.Conn under an x/net ClientConn. It follows the frame
// boundaries of both directions, without copying or changing a byte, to learn
// what x/net does not export: the stream ID a request's HEADERS opened and
// whether that frame was written in full, the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS, whether its first SETTINGS enabled
// extended CONNECT, the last stream ID of a GOAWAY, and whether the
// connection is gone. The pool reads them without waiting on
// x/net's locks.
type watchConn struct {
	net.Conn

	closed     atomic.Bool           // Close was called, or a Read or Write failed
	readErr    atomic.Pointer[error] // the first failed Read's error
	maxStreams atomic.Int64          // the peer's stream limit; 0 (full) until its first SETTINGS
	goAway     atomic.Int64          // the lowest GOAWAY last stream ID; -1: none received
	extConnect atomic.Bool           // the peer's first SETTINGS had ENABLE_CONNECT_PROTOCOL = 1, which is all x/net looks at

	// Write side. x/net writes with its own write lock held; wmu makes this
	// side safe without relying on that. Held across the Write.
	wmu        sync.Mutex
	out        frameScanner // guarded by wmu
	written    int64        // guarded by wmu; bytes written
	maxOpened  uint32       // guarded by wmu; the highest stream a HEADERS opened
	claim      *streamTrace // guarded by wmu; the request whose headers x/net is encoding
	pending    *streamTrace // guarded by wmu; the request whose HEADERS frame is being written
	pendingEnd int64        // guarded by wmu; where that frame ends in the byte stream

	// Read side, owned by x/net's read loop (the only reader).
	in          frameScanner
	settings    [6]byte // a SETTINGS entry, or a GOAWAY's last stream ID, being gathered
	nsettings   int
	sawSettings bool
	sawMax      bool // the current SETTINGS frame had MAX_CONCURRENT_STREAMS
}

// tlsWatchConn keeps ConnectionState visible, so that x/net fills
// Response.TLS.
type tlsWatchConn struct {
	*watchConn
	tc *tls.Conn
}

func (c tlsWatchConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// newWatchConn wraps c. It returns the watchConn and the net.Conn to hand
// to x/net.
func newWatchConn(c net.Conn) (*watchConn, net.Conn) {
	w := &watchConn{Conn: c, out: frameScanner{skip: prefaceLen}}
	w.goAway.Store(-1)
	if tc, ok := c.(*tls.Conn); ok {
		return w, tlsWatchConn{w, tc}
	}
	return w, w
}

// claimNext makes t the owner of the next HEADERS frame that opens a
// stream. x/net encodes a request's header fields and writes its HEADERS
// frame under one hold of its write lock, so nothing else opens a stream in
// between.
func (w *watchConn) claimNext(t *streamTrace) {
	w.wmu.Lock()
	w.claim = t
	w.wmu.Unlock()
}

// Write hands the stream ID to the claiming request before the bytes leave,
// so that it is known before any response to it can arrive, and marks the
// request's HEADERS written once the whole frame was.
func (w *watchConn) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.out.scan(p, w.writingFrame, nil, nil)
	n, err := w.Conn.Write(p)
	w.written += int64(n)
	if w.pending != nil && w.written >= w.pendingEnd {
		w.pending.wrote.Store(true)
		w.pending = nil
	}
	if err != nil {
		w.closed.Store(true)
	}
	return n, err
}

// writingFrame sees the header of each frame about to be written. A HEADERS
// frame above every stream before it opens a stream; others are trailers.
func (w *watchConn) writingFrame(s *frameScanner) {
	if s.typ != frameHeaders || s.stream <= w.maxOpened {
		return
	}
	w.maxOpened = s.stream
	if t := w.claim; t != nil {
		w.claim = nil
		t.id.Store(s.stream)
		w.pending, w.pendingEnd = t, s.pos+int64(s.left)
	}
}

func (w *watchConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.in.scan(p[:n], nil, w.readPayload, w.readFrame)
	if err != nil {
		w.readErr.CompareAndSwap(nil, &err)
		w.closed.Store(true)
	}
	return n, err
}

// endedBy returns err, x/net's failure on the connection, joined with the peer's end where err
// does not show it: x/net closes the connection once its reader meets the peer's end, or a
// GOAWAY that leaves it nothing to do, and what it writes after that fails on a closed
// connection (see endedInHandshake).
func (w *watchConn) endedBy(err error) error {
	if last := w.goAway.Load(); last >= 0 {
		return fmt.Errorf("%w (%w)", err, http2.GoAwayError{LastStreamID: uint32(last)})
	}
	if p := w.readErr.Load(); p != nil && !errors.Is(err, *p) {
		return fmt.Errorf("%w (read: %w)", err, *p)
	}
	return err
}

func (w *watchConn) Close() error {
	w.closed.Store(true)
	return w.Conn.Close()
}

// readPayload gathers SETTINGS entries and a GOAWAY's last stream ID.
func (w *watchConn) readPayload(s *frameScanner, b []byte) {
	switch {
	case s.typ == frameSettings && s.flags&flagAck == 0 && s.stream == 0:
		for len(b) > 0 {
			k := copy(w.settings[w.nsettings:], b)
			b = b[k:]
			if w.nsettings += k; w.nsettings < len(w.settings) {
				return
			}
			w.nsettings = 0
			id, val := binary.BigEndian.Uint16(w.settings[:2]), binary.BigEndian.Uint32(w.settings[2:])
			switch {
			case id == settingMaxConcurrentStreams:
				w.maxStreams.Store(int64(val))
				w.sawMax = true
			case id == settingEnableConnectProtocol && !w.sawSettings:
				w.extConnect.Store(val == 1)
			}
		}
	case s.typ == frameGoAway && s.stream == 0:
		k := copy(w.settings[w.nsettings:4], b)
		if w.nsettings += k; w.nsettings == 4 && k > 0 {
			last := int64(binary.BigEndian.Uint32(w.settings[:4]) & (1<<31 - 1))
			if old := w.goAway.Load(); old < 0 || last < old {
				w.goAway.Store(last)
			}
		}
	}
}

// readFrame ends a frame read from the peer.
func (w *watchConn) readFrame(s *frameScanner) {
	if s.typ == frameSettings && s.flags&flagAck == 0 && !w.sawSettings {
		w.sawSettings = true
		if !w.sawMax {
			w.maxStreams.Store(unannouncedMaxStreams)
		}
	}
	w.nsettings = 0
	w.sawMax = false
}

// frameScanner follows frame boundaries in a byte stream fed in pieces of
// any size.
type frameScanner struct {
	skip   int   // bytes to pass before the first frame: the client preface
	pos    int64 // bytes fed so far
	hdr    [frameHeaderLen]byte
	nhdr   int
	left   int // payload bytes of the current frame still to come
	typ    uint8
	flags  uint8
	stream uint32
}

// scan feeds p. For each frame it calls header, if non-nil, once the
// frame's header is complete (s.pos is then where the payload starts and
// s.left its length); payload, if non-nil, with each piece of the payload;
// and end, if non-nil, once the frame's last byte has passed.
func (s *frameScanner) scan(p []byte, header func(*frameScanner), payload func(*frameScanner, []byte), end func(*frameScanner)) {
	if s.skip > 0 {
		k := min(s.skip, len(p))
		s.skip -= k
		s.pos += int64(k)
		p = p[k:]
	}
	for len(p) > 0 {
		if s.nhdr < frameHeaderLen {
			k := copy(s.hdr[s.nhdr:], p)
			s.nhdr += k
			s.pos += int64(k)
			p = p[k:]
			if s.nhdr < frameHeaderLen {
				return
			}
			s.left = int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
			s.typ, s.flags = s.hdr[3], s.hdr[4]
			s.stream = binary.BigEndian.Uint32(s.hdr[5:]) & (1<<31 - 1)
			if header != nil {
				header(s)
			}
		}
		k := min(s.left, len(p))
		if payload != nil && k > 0 {
			payload(s, p[:k])
		}
		s.left -= k
		s.pos += int64(k)
		p = p[k:]
		if s.left == 0 {
			if end != nil {
				end(s)
			}
			s.nhdr = 0
		}
	}
}
