package h2conn

import (
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
)

// TestBodyIdleTimeout: a body reader that waits BodyIdleTimeout for bytes that do not come is
// failed with ErrBodyIdle and the stream reset, no sooner than the timeout and within two ticks
// of it; bytes that keep coming, however slowly, and a reader that takes its time do not count.
func TestBodyIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{BodyIdleTimeout: idle})
		r := p.start(get("/"))
		f := p.expect(http2.FrameHeaders)
		p.headers(f.StreamID, false, ":status", "200")
		r.wait()
		// Bytes every 1.5 s keep the stream, though the reader waits all the while.
		got := make(chan error, 1)
		go func() {
			for range 4 {
				if n, err := r.res.Body.Read(make([]byte, 16)); n != 4 || err != nil {
					got <- err
					return
				}
			}
			got <- nil
		}()
		for range 4 {
			time.Sleep(idle * 3 / 4)
			p.data(f.StreamID, false, []byte("tick"))
		}
		if err := <-got; err != nil {
			t.Fatalf("a body that keeps coming: %v", err)
		}
		// A reader that does not read for long, with bytes waiting, is not the peer's silence.
		p.data(f.StreamID, false, []byte("held"))
		time.Sleep(5 * idle)
		if n, err := r.res.Body.Read(make([]byte, 16)); n != 4 || err != nil {
			t.Fatalf("Read after a pause = %d, %v", n, err)
		}
		start := time.Now()
		_, err := r.res.Body.Read(make([]byte, 16))
		if !errors.Is(err, ErrBodyIdle) {
			t.Fatalf("Read of a silent body = %v, want ErrBodyIdle", err)
		}
		if took := time.Since(start); took < idle || took > idle+2*watchTick {
			t.Errorf("failed after %v of waiting, want %v to %v", took, idle, idle+2*watchTick)
		}
		if rst := p.expectSkipping(http2.FrameRSTStream, http2.FrameWindowUpdate); rst.StreamID != f.StreamID || rst.code != http2.ErrCodeCancel {
			t.Errorf("RST_STREAM stream %d code %v, want %d CANCEL", rst.StreamID, rst.code, f.StreamID)
		}
		r.res.Body.Close()

		// Without the timeout, a silent body is waited for.
		q := newPeer(t, Config{})
		r = q.start(get("/"))
		f = q.expect(http2.FrameHeaders)
		q.headers(f.StreamID, false, ":status", "200")
		r.wait()
		go func() {
			time.Sleep(10 * idle)
			q.data(f.StreamID, true, []byte("late"))
		}()
		if b, err := io.ReadAll(r.res.Body); err != nil || string(b) != "late" {
			t.Errorf("body without a timeout = %q, %v", b, err)
		}
	})
}
