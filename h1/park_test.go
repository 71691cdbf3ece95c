//go:build linux

package h1

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// parkServer starts a Server on loopback TCP whose parked and dropped connections are reported
// on the channels it returns; parking, if not nil, runs as a connection is about to park.
func parkServer(t *testing.T, cfg Config, parking func()) (s *Server, addr string, parked, dropped chan struct{}) {
	t.Helper()
	parked, dropped = make(chan struct{}, 16), make(chan struct{}, 16)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = testLogger(t)
	s = New(cfg, text)
	s.hook = func(event string) {
		switch event {
		case "parking":
			if parking != nil {
				parking()
			}
		case "parked":
			parked <- struct{}{}
		case "dropped":
			dropped <- struct{}{}
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-served
		if st := s.State(); st.Conns != 0 {
			t.Errorf("after Close: %d connections, want none", st.Conns)
		}
		checkNoServerGoroutines(t)
	})
	return s, ln.Addr().String(), parked, dropped
}

// await waits for an event on ch, for at most safetyNet.
func await(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(safetyNet):
		t.Fatalf("no connection %s", what)
	}
}

// TestParkedConnection: a clear-text connection idle for idleShed parks, its goroutine gone, and
// its next request wakes it and is served; it parks again after it. Close ends it.
func TestParkedConnection(t *testing.T) {
	s, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Minute}, nil)
	c := dial(t, addr)
	c.roundTrip(getRoot)
	await(t, parked, "parked")
	if n := s.lot.parked(); n != 1 {
		t.Fatalf("%d connections parked, want 1", n)
	}
	for _, g := range serverGoroutines() {
		if strings.Contains(g, "(*conn).serve") {
			t.Errorf("a serve goroutine runs while the only connection is parked:\n%s", g)
		}
	}
	for range 2 {
		if r := c.roundTrip(getRoot); r.StatusCode != http.StatusOK {
			t.Fatalf("request after the park: status %d", r.StatusCode)
		}
		await(t, parked, "parked again")
	}
	if n := s.lot.parked(); n != 1 {
		t.Errorf("%d connections parked, want 1", n)
	}
}

// TestParkedIdleTimeout: a parked connection is closed silently at its idle deadline.
func TestParkedIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	_, addr, parked, dropped := parkServer(t, Config{IdleTimeout: idle}, nil)
	c := dial(t, addr)
	c.roundTrip(getRoot)
	start := time.Now()
	await(t, parked, "parked")
	c.expectClosed()
	if d := time.Since(start); d < idle-idleShed || d > idle+time.Second {
		t.Errorf("closed %v after the response, want about %v", d, idle)
	}
	await(t, dropped, "dropped")
}

// TestParkedClientCloses: a parked connection whose client closes is dropped at once, long
// before its idle deadline.
func TestParkedClientCloses(t *testing.T) {
	s, addr, parked, dropped := parkServer(t, Config{IdleTimeout: time.Hour}, nil)
	c := dial(t, addr)
	c.roundTrip(getRoot)
	await(t, parked, "parked")
	c.conn.Close()
	await(t, dropped, "dropped")
	if st := s.State(); st.Conns != 0 {
		t.Errorf("%d connections open, want none", st.Conns)
	}
	if n := s.lot.parked(); n != 0 {
		t.Errorf("%d connections parked, want none", n)
	}
}

// TestParkedShutdown: Shutdown closes parked connections at once and returns.
func TestParkedShutdown(t *testing.T) {
	s, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Hour}, nil)
	var cs []*client
	for range 3 {
		c := dial(t, addr)
		c.roundTrip(getRoot)
		cs = append(cs, c)
	}
	for range cs {
		await(t, parked, "parked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range cs {
		if b, err := io.ReadAll(c.br); len(b) != 0 || err != nil {
			t.Errorf("after Shutdown: got %q, %v; want a silent close", b, err)
		}
	}
}

// TestParkedBytesBefore: a request that arrives as the connection parks, before its socket is
// added to the epoll instance, wakes it at once.
func TestParkedBytesBefore(t *testing.T) {
	send := make(chan func(), 1)
	_, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Minute}, func() {
		select {
		case f := <-send:
			f()
		default:
		}
	})
	c := dial(t, addr)
	send <- func() { c.send(getRoot) }
	c.roundTrip(getRoot)
	await(t, parked, "parked")
	if r := c.read("GET"); r.StatusCode != http.StatusOK {
		t.Fatalf("request sent as the connection parked: status %d", r.StatusCode)
	}
}
