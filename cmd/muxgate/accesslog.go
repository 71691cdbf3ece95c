package main

import (
	"io"
	"sync"
	"time"
)

// accessLogBuffer is the size of a bufferedLog's buffer: at 300 bytes a line, about 200 lines
// per write system call.
const accessLogBuffer = 64 << 10

// bufferedLog gathers access-log lines and writes them out together: when its buffer is full,
// and at the latest delay after the first line that the buffer took. Without it, each request
// costs a write system call. A line is never split across two writes. Safe for concurrent use.
type bufferedLog struct {
	w       io.Writer
	delay   time.Duration
	onError func(error) // told of a failed write, whose lines are dropped; called with mu held

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // flushes delay after the first line the buffer took; nil until then
	armed  bool        // timer runs
	closed bool        // Close ran: lines from here on are written at once
}

func newBufferedLog(w io.Writer, delay time.Duration, onError func(error)) *bufferedLog {
	return &bufferedLog{w: w, delay: delay, onError: onError, buf: make([]byte, 0, accessLogBuffer)}
}

// Write takes one line (zerolog writes each event in one call). It reports success even when an
// earlier flush failed: that failure went to onError.
func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flushLocked()
	}
	if b.closed || len(p) > cap(b.buf) {
		b.writeLocked(p)
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	if !b.armed {
		b.armed = true
		if b.timer == nil {
			b.timer = time.AfterFunc(b.delay, b.flushTimed)
		} else {
			b.timer.Reset(b.delay)
		}
	}
	return len(p), nil
}

func (b *bufferedLog) flushTimed() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	b.flushLocked()
}

// flushLocked writes out what the buffer holds.
func (b *bufferedLog) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.writeLocked(b.buf)
	b.buf = b.buf[:0]
}

func (b *bufferedLog) writeLocked(p []byte) {
	if _, err := b.w.Write(p); err != nil && b.onError != nil {
		b.onError(err)
	}
}

// Close writes out what the buffer holds and stops its timer. Lines that come later are written
// at once. It does not close the writer.
func (b *bufferedLog) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.armed = false
	b.closed = true
	b.flushLocked()
	return nil
}
