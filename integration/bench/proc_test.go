//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestTailBuffer: the buffer keeps the last max bytes and the first tailBufferHead, so that a
// crash's cause survives the stacks after it.
func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 16}
	b.Write([]byte("SIGILL: cause\n"))
	for range 1000 {
		b.Write([]byte("stack line\n"))
	}
	b.Write([]byte("end"))
	if got := b.String(); len(got) != 16 || !strings.HasSuffix(got, "end") {
		t.Errorf("String() = %q, want the last 16 bytes", got)
	}
	if got := b.head(6); got != "SIGILL" {
		t.Errorf("head(6) = %q, want SIGILL", got)
	}
	if got := b.head(tailBufferHead); len(got) != tailBufferHead || !strings.HasPrefix(got, "SIGILL: cause\nstack line") {
		t.Errorf("head(%d) holds %d bytes from %q, want the first %d", tailBufferHead, len(got), got[:20], tailBufferHead)
	}
}
