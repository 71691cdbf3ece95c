package h1

import (
	"testing"
	"time"
)

// TestShedAfter: the first idle wait after a request sheds after idleShed; a goroutine started by
// a shed waits on unless it got more than the smallest stack, and then checks after restackWait,
// then twice that, and so on; a connection that parks sheds after idleShed every time.
func TestShedAfter(t *testing.T) {
	c := &conn{s: &Server{cfg: Config{}.withDefaults()}, restack: restackWait}
	if got := c.shedAfter(false); got != idleShed {
		t.Errorf("first wait: shed after %v, want %v", got, idleShed)
	}
	c.stack = minStack
	if got := c.shedAfter(true); got != 0 {
		t.Errorf("resumed with the smallest stack: shed after %v, want never (0)", got)
	}
	c.stack = 2 * minStack
	if got := c.shedAfter(true); got != restackWait {
		t.Errorf("resumed with a larger stack: shed after %v, want %v", got, restackWait)
	}
	c.restack *= 2
	if got := c.shedAfter(true); got != 2*restackWait {
		t.Errorf("checked once: shed after %v, want %v", got, 2*restackWait)
	}
	c.parks = true
	if got := c.shedAfter(true); got != idleShed {
		t.Errorf("resumed, on a connection that parks: shed after %v, want %v", got, idleShed)
	}
	c.s.cfg.ParkAfter = 3 * time.Second
	if got := c.shedAfter(false); got != 3*time.Second {
		t.Errorf("with ParkAfter 3s: shed after %v, want 3s", got)
	}
}

// TestStartingStack: the runtime reports the stack size a new goroutine gets, at least minStack.
func TestStartingStack(t *testing.T) {
	if got := startingStack(); got < minStack || got&(got-1) != 0 {
		t.Errorf("starting stack %d bytes, want a power of two of at least %d", got, minStack)
	}
}
