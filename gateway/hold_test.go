package gateway

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// testHold is the hold of copyBody's tests.
const testHold = 2 * time.Millisecond

// lockedLog is a piecesWriter safe for the timer's writes: copyHeld's writes come from its
// timer too.
type lockedLog struct {
	mu sync.Mutex
	w  piecesWriter
}

func (l *lockedLog) Header() http.Header { return l.w.h }
func (l *lockedLog) WriteHeader(int)     {}
func (l *lockedLog) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedLog) log() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.w.log, " ")
}

// chanBody is a response body whose Read returns what the test sends, each send one Read, and
// io.EOF once the channel is closed.
type chanBody chan []byte

func (b chanBody) Read(p []byte) (int, error) {
	piece, ok := <-b
	if !ok {
		return 0, io.EOF
	}
	if len(piece) > len(p) {
		panic("piece larger than the read")
	}
	return copy(p, piece), nil
}

func (chanBody) Close() error { return nil }

// newChanBody returns a chanBody and its end, which closes it once; the test defers the end, so
// that a copy still reading after a failure ends with the test.
func newChanBody() (chanBody, func()) {
	b := make(chanBody)
	var once sync.Once
	return b, func() { once.Do(func() { close(b) }) }
}

// copyAsync runs copyBody on resp into w with hold, its outcome on the channel.
func copyAsync(w http.ResponseWriter, resp *http.Response, hold time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := copyBody(w, resp, new(pieceWriter), hold)
		done <- err
	}()
	return done
}

// TestCopyHeld: through Read, pieces that come back to back are written together once a read
// has waited the hold, with a flush; a full buffer goes at once; the last piece goes with the
// body's end, left for the response's end to flush.
func TestCopyHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &lockedLog{w: piecesWriter{h: http.Header{}}}
		body, end := newChanBody()
		defer end()
		done := copyAsync(w, &http.Response{ContentLength: -1, Body: body}, testHold)
		body <- make([]byte, 1000)
		body <- make([]byte, 1000)
		synctest.Wait()
		if got := w.log(); got != "" {
			t.Fatalf("before the hold passed: %q, want nothing written", got)
		}
		time.Sleep(testHold)
		synctest.Wait()
		if got := w.log(); got != "w2000 f" {
			t.Fatalf("once a read waited the hold: %q, want the two pieces in one write and a flush", got)
		}
		for range largeCopy / 4096 {
			body <- make([]byte, 4096)
		}
		synctest.Wait()
		if got := w.log(); got != "w2000 f w65536 f" {
			t.Fatalf("after 64 KiB back to back: %q, want a full buffer written at once", got)
		}
		body <- make([]byte, 10)
		end()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := w.log(); got != "w2000 f w65536 f w10" {
			t.Errorf("after the end: %q, want the last piece written without a flush", got)
		}
	})
}

// TestCopyHeldHead: a head whose body has not begun is flushed once the first read has waited
// headHold, and not before.
func TestCopyHeldHead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &lockedLog{w: piecesWriter{h: http.Header{}}}
		body, end := newChanBody()
		defer end()
		done := copyAsync(w, &http.Response{ContentLength: -1, Body: body}, testHold)
		time.Sleep(headHold(testHold) - time.Nanosecond)
		synctest.Wait()
		if got := w.log(); got != "" {
			t.Fatalf("before the head's hold passed: %q, want nothing", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := w.log(); got != "f" {
			t.Fatalf("once the first read waited the head's hold: %q, want a flush, of the head", got)
		}
		body <- make([]byte, 10)
		end()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := w.log(); got != "f w10" {
			t.Errorf("after the end: %q, want the body written without a second flush", got)
		}
	})
}

// TestCopyHeldByLength: a body of known length is written, unflushed, once its last byte came,
// with no wait for the hold; if the body's end is late, it is flushed once the hold passed,
// not the head's longer one. An empty body's head is complete: it waits the hold too.
func TestCopyHeldByLength(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int64
		want   string // the log once the last byte came
	}{
		{"9000 bytes", 9000, "w9000"},
		{"empty", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := &lockedLog{w: piecesWriter{h: http.Header{}}}
				body, end := newChanBody()
				defer end()
				done := copyAsync(w, &http.Response{ContentLength: tc.length, Body: body}, testHold)
				for sent := int64(0); sent < tc.length; sent += 4500 {
					body <- make([]byte, 4500)
				}
				synctest.Wait()
				if got := w.log(); got != tc.want {
					t.Errorf("body complete by its length: %q, want %q at once", got, tc.want)
				}
				time.Sleep(testHold)
				synctest.Wait()
				if got, want := w.log(), strings.TrimPrefix(tc.want+" f", " "); got != want {
					t.Errorf("its end late by the hold: %q, want %q", got, want)
				}
				end()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestCopyHeldClientFails: a write the timer made failed: the copy ends with the client's error
// once its read returns.
func TestCopyHeldClientFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &lockedLog{w: piecesWriter{h: http.Header{}, failAt: 1}}
		body, end := newChanBody()
		defer end()
		done := copyAsync(w, &http.Response{ContentLength: -1, Body: body}, testHold)
		body <- make([]byte, 100)
		time.Sleep(testHold)
		synctest.Wait()
		body <- make([]byte, 100)
		var cw *clientWriteError
		if err := <-done; !errors.As(err, &cw) || !errors.Is(err, errClientGone) {
			t.Errorf("copy ended with %v, want the client's error", err)
		}
		if got := w.log(); got != "w100" {
			t.Errorf("writes %q, want the one that failed", got)
		}
	})
}

// TestCopyEventsNotHeld: an event stream's head, and then its pieces, go to the client as they
// come, unheld.
func TestCopyEventsNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &lockedLog{w: piecesWriter{h: http.Header{}}}
		body, end := newChanBody()
		defer end()
		resp := &http.Response{StatusCode: 200, ContentLength: -1, Body: body,
			Header: http.Header{"Content-Type": {"text/event-stream"}}}
		done := make(chan error, 1)
		go func() {
			_, err := (&proxy{hold: testHold}).copyResponse(w, resp, new(exchange))
			done <- err
		}()
		body <- []byte("data: 1\n\n")
		synctest.Wait()
		if got := w.log(); got != "f w9 f" {
			t.Errorf("an event: %q, want the head flushed first, then the event written and flushed at once", got)
		}
		end()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// WriteBuffers makes lockedLog a buffersWriter, for the WriteTo path.
func (l *lockedLog) WriteBuffers(bufs [][]byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.WriteBuffers(bufs)
}

// lateBody is a body that writes itself out as h2's does: it flushes before it waits for its
// first piece, which the test sends, and then ends.
type lateBody chan []byte

func (b lateBody) Read([]byte) (int, error) { return 0, io.EOF }
func (lateBody) Close() error               { return nil }

func (b lateBody) WriteTo(w io.Writer) (int64, error) {
	w.(http.Flusher).Flush()
	piece, ok := <-b
	if !ok {
		return 0, nil
	}
	return w.(buffersWriter).WriteBuffers([][]byte{piece})
}

// TestWriteBodyHoldsHead: through WriteTo, the head of a body that has not begun waits for the
// body's first bytes up to headHold and leaves with them; past it the head is flushed alone;
// without a hold it is flushed at once.
func TestWriteBodyHoldsHead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hold  time.Duration
		after time.Duration // when the body's piece comes
		want  string        // the log before it came
	}{
		{"within the hold", testHold, headHold(testHold) - time.Nanosecond, ""},
		{"past the hold", testHold, headHold(testHold), "f"},
		{"no hold", 0, time.Nanosecond, "f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := &lockedLog{w: piecesWriter{h: http.Header{}}}
				body := make(lateBody)
				done := copyAsync(w, &http.Response{ContentLength: -1, Body: body}, tc.hold)
				time.Sleep(tc.after)
				synctest.Wait()
				if got := w.log(); got != tc.want {
					t.Errorf("before the body came: %q, want %q", got, tc.want)
				}
				body <- make([]byte, 10)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * headHold(testHold)) // the timer, if left, would flush w the handler has back
				synctest.Wait()
				if got, want := w.log(), strings.TrimPrefix(tc.want+" w10", " "); got != want {
					t.Errorf("after: %q, want %q", got, want)
				}
			})
		})
	}
}

// TestWriteBodyEmptyNotHeld: through WriteTo, the head of an empty body (Content-Length: 0)
// whose stream ends late is complete, and flushed at once rather than held for bytes that will
// not come.
func TestWriteBodyEmptyNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &lockedLog{w: piecesWriter{h: http.Header{}}}
		body := make(lateBody)
		done := copyAsync(w, &http.Response{ContentLength: 0, Body: body}, testHold)
		synctest.Wait()
		if got := w.log(); got != "f" {
			t.Errorf("before the stream's end: %q, want the head flushed at once", got)
		}
		close(body)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
