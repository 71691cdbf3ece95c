package gateway

import (
	"io"
	"strings"
	"testing"
)

// waitingBody is a body that can wait for its next bytes (as a WebSocket's can).
type waitingBody struct {
	io.Reader
	waits int
}

func (b *waitingBody) Close() error   { return nil }
func (b *waitingBody) WaitRead() bool { b.waits++; return true }

// TestHeldBodyWaitRead: a lent body keeps the wait of the body it lends, so that a WebSocket
// tried on one upstream before another costs no buffer while idle; one that cannot wait says so.
func TestHeldBodyWaitRead(t *testing.T) {
	inner := &waitingBody{Reader: strings.NewReader("x")}
	if held := (&heldBody{rc: inner}); !held.WaitRead() || inner.waits != 1 {
		t.Errorf("WaitRead of a held waiting body: waits %d, want it passed on once", inner.waits)
	}
	if held := (&heldBody{rc: io.NopCloser(strings.NewReader("x"))}); held.WaitRead() {
		t.Errorf("WaitRead of a held body that cannot wait: true, want false")
	}
}
