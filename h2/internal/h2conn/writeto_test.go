package h2conn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

// buffersRecorder is a buffersWriter that keeps what it is given, and the calls: a test can
// hold a call (hold) or fail it (err).
type buffersRecorder struct {
	got   bytes.Buffer
	calls [][]int // the buffer lengths of each call
	hold  func(bufs [][]byte)
	err   error
}

func (w *buffersRecorder) Write(p []byte) (int, error) {
	panic("Write called on a buffersWriter")
}

func (w *buffersRecorder) WriteBuffers(bufs [][]byte) (int64, error) {
	var lens []int
	for _, b := range bufs {
		lens = append(lens, len(b))
	}
	w.calls = append(w.calls, lens)
	if w.hold != nil {
		w.hold(bufs)
	}
	if w.err != nil {
		return 0, w.err
	}
	var n int64
	for _, b := range bufs {
		k, _ := w.got.Write(b)
		n += int64(k)
	}
	return n, nil
}

// patterned returns n bytes that differ from those of another seed.
func patterned(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%253)
	}
	return b
}

func writeTo(body io.Reader, w io.Writer) (int64, error) {
	return body.(io.WriterTo).WriteTo(w)
}

// TestBodyWriteTo: the chunks buffered at the time go to WriteBuffers in one call, in order,
// and the trailers are there at EOF; a writer without WriteBuffers gets the same bytes.
func TestBodyWriteTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		want := patterned(40<<10+5, 1)
		r, id := p.open("trailer", "x-t")
		p.data(id, false, want)
		p.headers(id, true, "x-t", "tv")
		synctest.Wait()
		var w buffersRecorder
		n, err := writeTo(r.res.Body, &w)
		if err != nil || n != int64(len(want)) || !bytes.Equal(w.got.Bytes(), want) {
			t.Fatalf("WriteTo: got %d bytes (%d written), %v; want %d, nil", n, w.got.Len(), err, len(want))
		}
		if len(w.calls) != 1 || len(w.calls[0]) < 3 {
			t.Errorf("WriteBuffers calls %v, want one with the 3 or more chunks buffered", w.calls)
		}
		if got := r.res.Trailer.Get("X-T"); got != "tv" {
			t.Errorf("trailer X-T = %q, want tv", got)
		}
		if n, err := r.res.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("Read after WriteTo: %d, %v; want 0, EOF", n, err)
		}
		r.res.Body.Close()

		// Without WriteBuffers: one Write per chunk, the same bytes, after a Read took some.
		r, id = p.open()
		p.data(id, true, want)
		synctest.Wait()
		head := make([]byte, 10)
		if _, err := io.ReadFull(r.res.Body, head); err != nil {
			t.Fatal(err)
		}
		var plain bytes.Buffer
		n, err = writeTo(r.res.Body, &plain)
		if got := append(head, plain.Bytes()...); err != nil || n != int64(len(want)-10) || !bytes.Equal(got, want) {
			t.Errorf("Read then WriteTo: got %d bytes, %v; want %d, nil", len(got), err, len(want))
		}
		r.res.Body.Close()
		if st := p.c.State(); st.Active != 0 {
			t.Errorf("Active = %d after both bodies ended, want 0", st.Active)
		}
	})
}

// TestBodyWriteToFlowControl: a body many stream windows long completes through WriteTo, which
// credits what it wrote as Read does: in stream WINDOW_UPDATEs of half a window or more.
func TestBodyWriteToFlowControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			streamWin = 32 << 10
			connWin   = 64 << 10
			n         = 1 << 20
		)
		p := newPeer(t, Config{StreamWindow: streamWin, ConnWindow: connWin})
		r, id := p.open()
		sent := make(chan []*frame)
		go func() { sent <- p.sendWithinWindows(id, n, streamWin, connWin) }()
		var w buffersRecorder
		k, err := writeTo(r.res.Body, &w)
		if err != nil || k != n || w.got.Len() != n {
			t.Fatalf("WriteTo: got %d bytes (%d written), %v; want %d", k, w.got.Len(), err, n)
		}
		streamUpdates := 0
		for _, f := range <-sent {
			if f.StreamID == id {
				streamUpdates++
				if f.inc < streamWin/2 {
					t.Errorf("stream WINDOW_UPDATE of %d, below half a window", f.inc)
				}
			}
		}
		if streamUpdates == 0 {
			t.Error("no stream WINDOW_UPDATE")
		}
		r.res.Body.Close()
	})
}

// TestBodyWriteToErrors: a reset in the middle of the body ends WriteTo with Read's error,
// after the bytes before it; a writer's error ends it with that error, and Close resets the
// stream.
func TestBodyWriteToErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		first := patterned(20<<10, 2)
		r, id := p.open()
		p.data(id, false, first)
		synctest.Wait()
		var w buffersRecorder
		w.hold = func([][]byte) {
			if len(w.calls) == 1 {
				p.must(p.fr.WriteRSTStream(id, http2.ErrCodeInternal))
				synctest.Wait()
			}
		}
		n, err := writeTo(r.res.Body, &w)
		var se *StreamError
		if n != int64(len(first)) || !bytes.Equal(w.got.Bytes(), first) || !errors.As(err, &se) ||
			se.Code != http2.ErrCodeInternal || !se.Remote {
			t.Errorf("reset: got %d bytes, %v; want %d, the peer's INTERNAL_ERROR", n, err, len(first))
		}
		r.res.Body.Close()

		gone := errors.New("client gone")
		r, id = p.open()
		p.data(id, false, first)
		synctest.Wait()
		w = buffersRecorder{err: gone}
		if n, err := writeTo(r.res.Body, &w); n != 0 || err != gone {
			t.Errorf("writer failing: got %d, %v; want 0, %v", n, err, gone)
		}
		r.res.Body.Close()
		if f := p.expectSkipping(http2.FrameRSTStream, http2.FrameWindowUpdate); f.StreamID != id || f.code != http2.ErrCodeCancel {
			t.Errorf("after Close: RST_STREAM %v on stream %d, want CANCEL on %d", f.code, f.StreamID, id)
		}
		if st := p.c.State(); st.Active != 0 {
			t.Errorf("Active = %d, want 0", st.Active)
		}
	})
}

// TestBodyWriteToLentChunks: chunks being written are the writer's: a reset of the stream
// meanwhile, and the bytes other streams receive, leave them as they were.
func TestBodyWriteToLentChunks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		first := patterned(48<<10, 3)
		r, id := p.open()
		p.data(id, false, first)
		synctest.Wait()
		var w buffersRecorder
		w.hold = func(bufs [][]byte) {
			p.must(p.fr.WriteRSTStream(id, http2.ErrCodeInternal))
			r2, id2 := p.open()
			p.data(id2, false, patterned(64<<10, 7))
			synctest.Wait()
			var got []byte
			for _, b := range bufs {
				got = append(got, b...)
			}
			if !bytes.Equal(got, first) {
				t.Error("lent chunks changed while being written")
			}
			r2.res.Body.Close()
		}
		if n, err := writeTo(r.res.Body, &w); n != int64(len(first)) || err == nil {
			t.Errorf("got %d, %v; want %d and the reset", n, err, len(first))
		}
		r.res.Body.Close()
	})
}

// TestBodyWakesOncePerRead: the DATA frames of a body that come in one read reach the writer in
// one WriteBuffers call. The body's reader is woken once the frames at hand are handled
// (readableLocked); woken at the first frame, it would write that one alone.
func TestBodyWakesOncePerRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const frames, size = 60, 1000 // with their headers, within one read of the buffer
		body := patterned(frames*size, 3)
		p, r, _ := openFramed(t, Config{StreamWindow: 1 << 20, ConnWindow: 1 << 20}, body, 0)
		var w buffersRecorder
		done := make(chan error, 1)
		go func() {
			_, err := writeTo(r.res.Body, &w)
			done <- err
		}()
		synctest.Wait() // WriteTo waits for the body

		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		for i := 0; i < frames; i++ {
			if err := fr.WriteData(r.id, i == frames-1, body[i*size:(i+1)*size]); err != nil {
				t.Fatal(err)
			}
		}
		p.nc.Write(b.Bytes())
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.got.Bytes(), body) {
			t.Fatalf("wrote %d bytes, want the %d of the body", w.got.Len(), len(body))
		}
		if len(w.calls) != 1 {
			t.Errorf("WriteBuffers calls %v, want one for the %d frames of one read", w.calls, frames)
		}
	})
}

// flushRecorder is a buffersRecorder with a Flush method, which it logs among the writes.
type flushRecorder struct {
	buffersRecorder
	log []string
}

func (w *flushRecorder) WriteBuffers(bufs [][]byte) (int64, error) {
	n, err := w.buffersRecorder.WriteBuffers(bufs)
	w.log = append(w.log, fmt.Sprintf("w%d", n))
	return n, err
}

func (w *flushRecorder) Flush() { w.log = append(w.log, "f") }

// TestBodyWriteToFlushesBeforeWaiting: WriteTo flushes what it wrote before it waits for more
// of the body, and not otherwise: a body complete by its length whose END_STREAM is late is
// passed on before it, and a body that came whole is not flushed at all (the response's end
// writes it); one that has not begun is awaited after a flush (of the head the writer holds).
func TestBodyWriteToFlushesBeforeWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		r, id := p.open("content-length", "10")
		p.data(id, false, []byte("hello"))
		synctest.Wait()
		var w flushRecorder
		done := make(chan error, 1)
		go func() {
			_, err := writeTo(r.res.Body, &w)
			done <- err
		}()
		synctest.Wait() // WriteTo waits for the rest
		if got := strings.Join(w.log, " "); got != "w5 f" {
			t.Errorf("before the rest came: %q, want the 5 bytes written and flushed", got)
		}
		p.data(id, false, []byte("world"))
		synctest.Wait() // the body is complete by its length; END_STREAM is late
		if got := strings.Join(w.log, " "); got != "w5 f w5 f" {
			t.Errorf("complete but not ended: %q, want the last 5 bytes flushed too", got)
		}
		p.data(id, true, nil)
		if err := <-done; err != nil || w.got.String() != "helloworld" {
			t.Fatalf("WriteTo: %q, %v", w.got.String(), err)
		}
		if got := strings.Join(w.log, " "); got != "w5 f w5 f" {
			t.Errorf("after the end: %q, want no more flushes", got)
		}

		r, id = p.open()
		p.data(id, true, []byte("whole"))
		synctest.Wait()
		w = flushRecorder{}
		if _, err := writeTo(r.res.Body, &w); err != nil || strings.Join(w.log, " ") != "w5" {
			t.Errorf("a body that came whole: %q, %v; want one write and no flush", w.log, err)
		}

		r, id = p.open()
		w = flushRecorder{}
		go func() {
			_, err := writeTo(r.res.Body, &w)
			done <- err
		}()
		synctest.Wait() // WriteTo waits for the first bytes
		if got := strings.Join(w.log, " "); got != "f" {
			t.Errorf("before the body's first bytes: %q, want a flush, for the head", got)
		}
		p.data(id, true, []byte("late"))
		if err := <-done; err != nil || strings.Join(w.log, " ") != "f w4" {
			t.Errorf("a body that came late: %q, %v; want the flush, then one write", w.log, err)
		}
	})
}
