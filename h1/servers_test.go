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
	ids := make(chan string, 4)
	s := startHooked(t, Config{IdleTimeout: time.Minute}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids <- goroutineID()
		io.WriteString(w, "ok")
	}), nil, nil)

	a := dial(t, s.addr)
	a.roundTrip(getRoot)
	first := <-ids
	await(t, s.parked, "parked")
	await(t, s.waiting, "waiting for another")
	awaitSelect(t, first)

	b := dial(t, s.addr)
	b.roundTrip(getRoot)
	if id := <-ids; id != first {
		t.Errorf("new connection served on goroutine %s, want %s, which waits for one", id, first)
	}
	await(t, s.parked, "parked")
	await(t, s.waiting, "waiting for another")
	awaitSelect(t, first)
	a.roundTrip(getRoot)
	if id := <-ids; id != first {
		t.Errorf("woken connection served on goroutine %s, want %s, which waits for one", id, first)
	}
}

// awaitSelect waits until goroutine id blocks in a select: the "waiting" hook runs just before
// serveConns's select, and a connection that comes between the two gets a fresh goroutine.
func awaitSelect(t *testing.T, id string) {
	t.Helper()
	want := "goroutine " + id + " [select"
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(safetyNet); time.Now().Before(deadline); runtime.Gosched() {
		if strings.Contains(string(buf[:runtime.Stack(buf, true)]), want) {
			return
		}
	}
	t.Fatalf("goroutine %s never blocked waiting for a connection", id)
}
