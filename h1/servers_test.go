//go:build linux

package h1

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServerGoroutineReused: the goroutine that served a connection until it parked serves the
// next connection, a new one and then a parked one that woke, rather than a fresh goroutine.
func TestServerGoroutineReused(t *testing.T) {
	s, ids := startIDServer(t)
	a := dial(t, s.addr)
	first := serveUntilParked(t, s, a, ids)
	if id := serveUntilParked(t, s, dial(t, s.addr), ids); id != first {
		t.Errorf("new connection served on goroutine %s, want %s, which waits for one", id, first)
	}
	if id := serveUntilParked(t, s, a, ids); id != first {
		t.Errorf("woken connection served on goroutine %s, want %s, which waits for one", id, first)
	}
}

// TestServerGoroutineRetired: a goroutine that waits serverIdle for a connection to serve ends,
// and so does one that waits when shutdown begins.
func TestServerGoroutineRetired(t *testing.T) {
	s, ids := startIDServer(t)
	first := serveUntilParked(t, s, dial(t, s.addr), ids)
	awaitGone(t, first, serverIdle+safetyNet)
	second := serveUntilParked(t, s, dial(t, s.addr), ids)
	s.StopAccepting()
	awaitGone(t, second, safetyNet)
}

// startIDServer starts a hooked server whose handler sends the ID of the goroutine it runs on.
func startIDServer(t *testing.T) (*hookedServer, chan string) {
	ids := make(chan string, 4)
	s := startHooked(t, Config{IdleTimeout: time.Minute}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids <- goroutineID()
		io.WriteString(w, "ok")
	}), nil, nil)
	return s, ids
}

// serveUntilParked sends a request over c, waits until c has parked and the goroutine that served
// it waits for another connection, and returns that goroutine's ID.
func serveUntilParked(t *testing.T, s *hookedServer, c *client, ids chan string) string {
	t.Helper()
	c.roundTrip(getRoot)
	id := <-ids
	await(t, s.parked, "parked")
	await(t, s.waiting, "waiting for another")
	return id
}

// awaitGone waits up to d for goroutine id to end.
func awaitGone(t *testing.T, id string, d time.Duration) {
	t.Helper()
	want := "goroutine " + id + " ["
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); runtime.Gosched() {
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), want) {
			return
		}
	}
	t.Fatalf("goroutine %s still waits for a connection after %v", id, d)
}

// TestIdleServers: the stack hands out the goroutine that began to wait last, holds at most
// maxIdleServers, retires those that began to wait before a tick from the bottom, and once closed
// ends all and lists none.
func TestIdleServers(t *testing.T) {
	var p idleServers
	ws := make([]*idleServer, maxIdleServers+1)
	for i := range ws {
		ws[i] = &idleServer{next: make(chan *conn, 1)}
	}
	for i, w := range ws[:maxIdleServers] {
		if !p.push(w, uint64(i)) {
			t.Fatalf("push %d refused below the cap", i)
		}
	}
	if p.push(ws[maxIdleServers], 0) {
		t.Fatal("push above maxIdleServers listed")
	}
	if w := p.pop(); w != ws[maxIdleServers-1] {
		t.Fatal("pop did not take the last one pushed")
	}
	p.retire(3)
	for i, w := range ws[:maxIdleServers-1] {
		if got, want := len(w.next), b2i(i < 3); got != want {
			t.Fatalf("after retire(3): waiter %d has %d sends, want %d", i, got, want)
		}
	}
	if w := p.pop(); w != ws[maxIdleServers-2] {
		t.Fatal("retire took from the top")
	}
	p.close()
	for i, w := range ws[3 : maxIdleServers-2] {
		if c, ok := <-w.next; c != nil || !ok {
			t.Fatalf("after close: waiter %d got %v, %v; want nil", i+3, c, ok)
		}
	}
	if p.push(ws[0], 0) || p.pop() != nil {
		t.Fatal("a closed stack listed a waiter")
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
