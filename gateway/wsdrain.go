package gateway

import (
	"encoding/binary"
	"io"
	"sync"
)

// A drain closes each WebSocket with a Close frame of status 1001, going away (RFC 6455 7.4.1),
// at the first frame boundary of what the upstream sends, rather than cutting the connection at
// the drain's deadline: the client knows to connect again, and does so at once, to the process
// that took over or to another. The client answers with a Close of its own (RFC 6455 5.5.1),
// which goes upstream as any frame of its side, and the upstream, closing in turn, ends the
// tunnel. What the upstream sends after the Close that muxgate sent in its name is dropped:
// nothing may follow a Close.

// goingAway is the Close frame muxgate sends a client in the upstream's name: unmasked, as a
// server's frames are, with status 1001.
var goingAway = []byte{0x88, 0x02, 0x03, 0xe9}

// wsFrames follows the frames of one direction of a WebSocket as its bytes pass (RFC 6455 5.2):
// a header of 2 to 14 bytes, then the payload its length field gives.
type wsFrames struct {
	head    [14]byte
	have    int    // header bytes seen of the frame begun; 0 between frames
	need    int    // the header's length, as far as its bytes so far tell
	payload uint64 // payload bytes of the frame still to pass, once its header is whole
}

// between reports whether no frame is begun.
func (f *wsFrames) between() bool { return f.have == 0 }

// consume passes bytes of p up to the end of the frame begun, or to the end of p if the frame
// goes on past it, and returns how many.
func (f *wsFrames) consume(p []byte) int {
	n := 0
	for n < len(p) {
		if f.have == 0 || f.have < f.need {
			if f.have == 0 {
				f.need = 2
			}
			f.head[f.have] = p[n]
			f.have++
			n++
			if f.have == 2 {
				f.need = headerLen(f.head[1])
			}
			if f.have == f.need {
				if f.payload = payloadLen(f.head[:f.have]); f.payload == 0 {
					f.have = 0
					return n
				}
			}
			continue
		}
		k := min(uint64(len(p)-n), f.payload)
		n += int(k)
		if f.payload -= k; f.payload == 0 {
			f.have = 0
			return n
		}
	}
	return n
}

// headerLen is the length of a frame header whose second byte is b: 2, then 2 or 8 bytes of
// extended payload length, then 4 of masking key if the mask bit is set.
func headerLen(b byte) int {
	n := 2
	switch b & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b&0x80 != 0 {
		n += 4
	}
	return n
}

// payloadLen is the payload length a whole frame header gives.
func payloadLen(head []byte) uint64 {
	switch l := head[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(head[2:4]))
	case 127:
		return binary.BigEndian.Uint64(head[2:10])
	default:
		return uint64(l)
	}
}

// drainWriter writes the upstream's side of a WebSocket to the client, following its frames, so
// that goAway can close the WebSocket at a frame boundary.
type drainWriter struct {
	dst io.Writer

	mu     sync.Mutex
	frames wsFrames // guarded by mu
	going  bool     // guarded by mu: goAway was called
	closed bool     // guarded by mu: the Close went to the client; what follows is dropped
}

// Write passes p to the client, and the Close after the frame that goAway found begun, if it
// ends in p. It reports p written whole once the Close went: the rest is dropped.
func (w *drainWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	written := 0
	for len(p) > 0 && !w.closed {
		n := w.frames.consume(p)
		m, err := w.dst.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
		if w.going && w.frames.between() {
			if err := w.sendCloseLocked(); err != nil {
				return written, err
			}
		}
	}
	return written + len(p), nil
}

// goAway sends the client the Close, now if no frame is begun, else once the frame begun ends.
func (w *drainWriter) goAway() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.going = true
	if w.closed || !w.frames.between() {
		return nil
	}
	return w.sendCloseLocked()
}

// wentAway reports whether the Close went to the client.
func (w *drainWriter) wentAway() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

func (w *drainWriter) sendCloseLocked() error {
	w.closed = true
	_, err := w.dst.Write(goingAway)
	return err
}
