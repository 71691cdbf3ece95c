package h2

import (
	"bytes"
	"net"
	"testing"

	"golang.org/x/net/http2"
)

// The watchConn exists only under EngineXNet: x/net exports neither the
// stream IDs nor the peer's settings that EngineOwn reports itself.

// frames returns the bytes of frames written by fn with a Framer.
func frames(fn func(fr *http2.Framer)) []byte {
	var b bytes.Buffer
	fn(http2.NewFramer(&b, nil))
	return b.Bytes()
}

func TestWatchConnReadSide(t *testing.T) {
	stream := frames(func(fr *http2.Framer) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20},
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7})
		fr.WriteData(1, false, bytes.Repeat([]byte{0x7}, 100)) // bytes that look like frame types
		fr.WriteSettingsAck()
		fr.WriteGoAway(9, http2.ErrCodeNo, []byte("bye"))
		fr.WriteGoAway(5, http2.ErrCodeNo, nil)
		fr.WriteGoAway(7, http2.ErrCodeNo, nil) // a GOAWAY cannot raise the last stream ID
	})
	for size := 1; size <= len(stream); size++ {
		w, _ := newWatchConn(nil)
		for b := stream; len(b) > 0; {
			k := min(size, len(b))
			w.in.scan(b[:k], nil, w.readPayload, w.readFrame)
			b = b[k:]
		}
		if got := w.maxStreams.Load(); got != 7 {
			t.Fatalf("pieces of %d bytes: max streams %d, want 7", size, got)
		}
		if got := w.goAway.Load(); got != 5 {
			t.Fatalf("pieces of %d bytes: GOAWAY last stream %d, want 5", size, got)
		}
	}
}

func TestWatchConnUnannouncedMaxStreams(t *testing.T) {
	w, _ := newWatchConn(nil)
	if got := w.maxStreams.Load(); got != 0 {
		t.Errorf("before SETTINGS: %d, want 0", got)
	}
	b := frames(func(fr *http2.Framer) { fr.WriteSettings() })
	w.in.scan(b, nil, w.readPayload, w.readFrame)
	if got := w.maxStreams.Load(); got != unannouncedMaxStreams {
		t.Errorf("after SETTINGS without a limit: %d, want %d", got, unannouncedMaxStreams)
	}
}

// sinkConn is a net.Conn whose Write keeps what it is given.
type sinkConn struct {
	net.Conn
	got bytes.Buffer
}

func (c *sinkConn) Write(p []byte) (int, error) { return c.got.Write(p) }

func TestWatchConnWriteSide(t *testing.T) {
	headers := func(stream uint32, end bool) []byte {
		return frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: []byte("0123456789"), EndHeaders: true, EndStream: end})
		})
	}
	c := &sinkConn{}
	w, _ := newWatchConn(c)
	w.Write([]byte(http2.ClientPreface))
	w.Write(frames(func(fr *http2.Framer) { fr.WriteSettings() }))

	// A request's HEADERS frame, written in two pieces.
	a := &streamTrace{conn: w}
	a.wroteHeaderField(":method", nil)
	a.wroteHeaderField(":path", nil)
	h := headers(1, false)
	w.Write(h[:12])
	if a.id.Load() != 1 || a.wrote.Load() {
		t.Fatalf("after part of the frame: id %d wrote %v, want 1 and false", a.id.Load(), a.wrote.Load())
	}
	w.Write(h[12:])
	if !a.wrote.Load() {
		t.Fatalf("whole HEADERS frame written but not marked")
	}

	// Trailers on stream 1 open no stream and are nobody's claim.
	b := &streamTrace{conn: w}
	b.wroteHeaderField(":method", nil)
	w.Write(headers(1, true))
	if b.id.Load() != 0 {
		t.Fatalf("trailers gave stream %d to the next request", b.id.Load())
	}
	w.Write(headers(3, true))
	if b.id.Load() != 3 || !b.wrote.Load() {
		t.Errorf("second request: id %d wrote %v, want 3 and true", b.id.Load(), b.wrote.Load())
	}
	if c.got.Len() == 0 || !bytes.HasPrefix(c.got.Bytes(), []byte(http2.ClientPreface)) {
		t.Errorf("bytes not passed through unchanged")
	}
}
