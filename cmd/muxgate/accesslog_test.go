package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// writes records each Write call it gets; fail makes the next one fail.
type writes struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail; err != nil {
		w.fail = nil
		return 0, err
	}
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func (w *writes) got() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

func line(i, size int) string {
	s := fmt.Sprintf("line %d ", i)
	return s + strings.Repeat("x", size-len(s)-1) + "\n"
}

// TestBufferedLogDelay: lines wait for the delay after the first of them, then go out in one
// write, in order; the next line starts a new delay.
func TestBufferedLogDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &writes{}
		b := newBufferedLog(w, 100*time.Millisecond, nil)
		b.Write([]byte(line(1, 100)))
		time.Sleep(60 * time.Millisecond)
		b.Write([]byte(line(2, 100)))
		synctest.Wait()
		if got := w.got(); len(got) != 0 {
			t.Fatalf("written before the delay: %q", got)
		}
		time.Sleep(40 * time.Millisecond)
		synctest.Wait()
		if got, want := w.got(), []string{line(1, 100) + line(2, 100)}; !equal(got, want) {
			t.Fatalf("after the delay: writes %q, want %q", got, want)
		}
		b.Write([]byte(line(3, 100)))
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if n := len(w.got()); n != 1 {
			t.Fatalf("line 3 written %d writes in, before its own delay passed", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := w.got(); len(got) != 2 || got[1] != line(3, 100) {
			t.Fatalf("line 3 not written alone after its delay: %q", got)
		}
	})
}

// TestBufferedLogFull: a full buffer is written at once, never splitting a line, and a line
// larger than the buffer goes out by itself after what came before it.
func TestBufferedLogFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &writes{}
		b := newBufferedLog(w, time.Hour, nil)
		var all strings.Builder
		for i := range 700 { // 700 lines of 300 bytes: over three buffers
			l := line(i, 300)
			all.WriteString(l)
			b.Write([]byte(l))
		}
		big := line(700, accessLogBuffer+1)
		all.WriteString(big)
		b.Write([]byte(big))
		got := w.got()
		// 218 lines fill a buffer: three full ones, then the rest ahead of the big line, then it.
		if len(got) != 5 {
			t.Fatalf("%d writes before the delay, want 5", len(got))
		}
		for i, g := range got {
			if len(g) > accessLogBuffer && g != big {
				t.Errorf("write %d has %d bytes, more than the buffer", i, len(g))
			}
			if !strings.HasSuffix(g, "\n") {
				t.Errorf("write %d ends inside a line", i)
			}
		}
		if strings.Join(got, "") != all.String() {
			t.Error("the writes do not hold the lines in order")
		}
	})
}

// TestBufferedLogClose: Close writes out what is buffered, and lines after it go out at once.
func TestBufferedLogClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &writes{}
		b := newBufferedLog(w, time.Hour, nil)
		b.Write([]byte(line(1, 50)))
		b.Close()
		if got, want := w.got(), []string{line(1, 50)}; !equal(got, want) {
			t.Fatalf("after Close: writes %q, want %q", got, want)
		}
		b.Write([]byte(line(2, 50)))
		if got := w.got(); len(got) != 2 || got[1] != line(2, 50) {
			t.Fatalf("a line after Close is not written at once: %q", got)
		}
	})
}

// TestBufferedLogError: a failed write is reported and its lines dropped; the buffer then works
// as before.
func TestBufferedLogError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &writes{fail: errors.New("disk full")}
		var reported []error
		b := newBufferedLog(w, 100*time.Millisecond, func(err error) { reported = append(reported, err) })
		b.Write([]byte(line(1, 50)))
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		b.Write([]byte(line(2, 50)))
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if len(reported) != 1 || reported[0].Error() != "disk full" {
			t.Errorf("reported %v, want the one failed write", reported)
		}
		if got, want := w.got(), []string{line(2, 50)}; !equal(got, want) {
			t.Errorf("writes %q, want only the line after the failure", got)
		}
	})
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
