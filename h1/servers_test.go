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
	parked, waiting := make(chan struct{}, 4), make(chan struct{}, 4)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Logger: testLogger(t), IdleTimeout: time.Minute}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids <- goroutineID()
		io.WriteString(w, "ok")
	}))
	s.hook = func(event string) {
		switch event {
		case "parked":
			parked <- struct{}{}
		case "waiting":
			waiting <- struct{}{}
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	defer func() {
		s.Close()
		<-served
		checkNoServerGoroutines(t)
	}()

	a := dial(t, ln.Addr().String())
	a.roundTrip(getRoot)
	first := <-ids
	await(t, parked, "parked")
	await(t, waiting, "waiting for another")

	b := dial(t, ln.Addr().String())
	b.roundTrip(getRoot)
	if id := <-ids; id != first {
		t.Errorf("new connection served on goroutine %s, want %s, which waits for one", id, first)
	}
	await(t, parked, "parked")
	await(t, waiting, "waiting for another")
	a.roundTrip(getRoot)
	if id := <-ids; id != first {
		t.Errorf("woken connection served on goroutine %s, want %s, which waits for one", id, first)
	}
}
