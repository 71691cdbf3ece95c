//go:build linux

package h1

import (
	"io"
	"net/http"
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

	b := dial(t, s.addr)
	b.roundTrip(getRoot)
	if id := <-ids; id != first {
		t.Errorf("new connection served on goroutine %s, want %s, which waits for one", id, first)
	}
	await(t, s.parked, "parked")
	await(t, s.waiting, "waiting for another")
	a.roundTrip(getRoot)
	if id := <-ids; id != first {
		t.Errorf("woken connection served on goroutine %s, want %s, which waits for one", id, first)
	}
}
