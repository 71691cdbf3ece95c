//go:build linux

package h1

import (
	"container/heap"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// hookedServer is a Server on loopback TCP whose events (see Server.hook) its channels report.
type hookedServer struct {
	*Server
	addr                     string
	parked, dropped, waiting chan struct{}
}

// startHooked starts a hookedServer with h, over TLS with tlsConf if not nil; parking, if not
// nil, runs as a connection is about to park. Cleanup closes it and checks that nothing of it
// is left.
func startHooked(t *testing.T, cfg Config, h http.Handler, tlsConf *tls.Config, parking func()) *hookedServer {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	cfg.Logger = testLogger(t)
	hs := &hookedServer{Server: New(cfg, h), addr: ln.Addr().String(),
		parked: make(chan struct{}, 16), dropped: make(chan struct{}, 16), waiting: make(chan struct{}, 16)}
	hs.hook = func(event string) {
		switch event {
		case "parking":
			if parking != nil {
				parking()
			}
		case "parked":
			hs.parked <- struct{}{}
		case "dropped":
			hs.dropped <- struct{}{}
		case "waiting":
			select {
			case hs.waiting <- struct{}{}:
			default: // nobody listens: a goroutine may wait many times
			}
		}
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		<-served
		if st := hs.State(); st.Conns != 0 {
			t.Errorf("after Close: %d connections, want none", st.Conns)
		}
		checkNoServerGoroutines(t)
	})
	return hs
}

// parkServer is startHooked with the text handler.
func parkServer(t *testing.T, cfg Config, tlsConf *tls.Config, parking func()) (s *Server, addr string, parked, dropped chan struct{}) {
	t.Helper()
	hs := startHooked(t, cfg, text, tlsConf, parking)
	return hs.Server, hs.addr, hs.parked, hs.dropped
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
	s := startHooked(t, Config{IdleTimeout: time.Minute}, text, nil, nil)
	parked := s.parked
	c := dial(t, s.addr)
	c.roundTrip(getRoot)
	await(t, parked, "parked")
	// "parked" comes from within the park; the goroutine leaves the connection after it.
	await(t, s.waiting, "off its goroutine")
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
	_, addr, parked, dropped := parkServer(t, Config{IdleTimeout: idle}, nil, nil)
	c := dial(t, addr)
	c.roundTrip(getRoot)
	start := time.Now()
	await(t, parked, "parked")
	c.expectClosed()
	// The lot's timer fires at the deadline; the slack above it is for a loaded machine, where
	// under the race detector the close came up to 3.4 s late (two test binaries and a fuzzer on
	// two cores). A close that waited for something else, such as the next request, would not
	// come before the client's safetyNet deadline.
	if d := time.Since(start); d < idle-idleShed || d > idle+5*time.Second {
		t.Errorf("closed %v after the response, want about %v", d, idle)
	}
	await(t, dropped, "dropped")
}

// TestParkedClientCloses: a parked connection whose client closes is dropped at once, long
// before its idle deadline.
func TestParkedClientCloses(t *testing.T) {
	s, addr, parked, dropped := parkServer(t, Config{IdleTimeout: time.Hour}, nil, nil)
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
	s, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Hour}, nil, nil)
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
	_, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Minute}, nil, func() {
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

// TestParkedTLS: a TLS connection parks on its TCP socket and its next request wakes it, also
// when the request's record comes in two pieces, the second after the connection parked: the
// first is then read into crypto/tls, which the socket no longer shows.
func TestParkedTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	_, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Minute}, conf, nil)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(safetyNet))
	split := &splitConn{Conn: raw}
	conn := tls.Client(split, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	c := newClient(t, conn)
	c.roundTrip(getRoot)
	await(t, parked, "parked")
	if r := c.roundTrip(getRoot); r.StatusCode != http.StatusOK {
		t.Fatalf("after the park: status %d", r.StatusCode)
	}
	await(t, parked, "parked again")

	// The next record's first half wakes the connection, whose read then waits for the rest, in
	// vain for idleShed: it parks again with half a record in crypto/tls.
	split.holdHalf = true
	c.send(getRoot)
	await(t, parked, "parked with half a record")
	split.release()
	if r := c.read("GET"); r.StatusCode != http.StatusOK {
		t.Fatalf("record in two pieces: status %d", r.StatusCode)
	}
}

// splitConn writes, once holdHalf is set, only the first half of the next write, and the rest
// at release.
type splitConn struct {
	net.Conn
	holdHalf bool
	rest     []byte
}

func (c *splitConn) Write(p []byte) (int, error) {
	if !c.holdHalf {
		return c.Conn.Write(p)
	}
	c.holdHalf = false
	half := len(p) / 2
	c.rest = append([]byte(nil), p[half:]...)
	if _, err := c.Conn.Write(p[:half]); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *splitConn) release() {
	c.Conn.Write(c.rest)
	c.rest = nil
}

// TestParkDeadlines: the lot's heap gives its connections earliest deadline first, also after
// one leaves from its middle.
func TestParkDeadlines(t *testing.T) {
	base := time.Now()
	var d deadlines
	var cs []*conn
	for _, ms := range []int{50, 10, 40, 20, 30} {
		c := &conn{idleEnd: base.Add(time.Duration(ms) * time.Millisecond)}
		cs = append(cs, c)
		heap.Push(&d, c)
	}
	heap.Remove(&d, int(cs[2].park.index)) // 40
	var got []time.Duration
	for d.Len() > 0 {
		got = append(got, heap.Pop(&d).(*conn).idleEnd.Sub(base))
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Errorf("deadlines in the order %v, want %v", got, want)
	}
}

// TestParkedDeadlinesInOrder: connections parked one after the other are closed each at its own
// idle deadline, the one timer moving from one to the next.
func TestParkedDeadlinesInOrder(t *testing.T) {
	const idle = 400 * time.Millisecond
	_, addr, parked, _ := parkServer(t, Config{IdleTimeout: idle}, nil, nil)
	var cs []*client
	var starts []time.Time
	for range 3 {
		c := dial(t, addr)
		c.roundTrip(getRoot)
		starts = append(starts, time.Now())
		await(t, parked, "parked")
		cs = append(cs, c)
	}
	for i, c := range cs {
		c.expectClosed()
		if d := time.Since(starts[i]); d < idle-idleShed || d > idle+time.Second {
			t.Errorf("connection %d closed %v after its response, want about %v", i, d, idle)
		}
	}
}

// TestParkingLotBroken: should the lot's wait break, its parked connections go on on goroutines
// and are served, and idle connections stop parking.
func TestParkingLotBroken(t *testing.T) {
	s, addr, parked, _ := parkServer(t, Config{IdleTimeout: time.Minute}, nil, nil)
	c := dial(t, addr)
	c.roundTrip(getRoot)
	await(t, parked, "parked")
	s.lot.ep.Close() // what only close does otherwise
	<-s.lot.done
	for range 2 {
		if r := c.roundTrip(getRoot); r.StatusCode != http.StatusOK {
			t.Fatalf("after the lot broke: status %d", r.StatusCode)
		}
	}
	if n := s.lot.parked(); n != 0 {
		t.Errorf("%d connections parked in a broken lot, want none", n)
	}
	d := dial(t, addr)
	d.roundTrip(getRoot)
	select {
	case <-parked:
		t.Errorf("a connection parked in a broken lot")
	case <-time.After(3 * idleShed):
	}
	if r := d.roundTrip(getRoot); r.StatusCode != http.StatusOK {
		t.Fatalf("idle connection after the lot broke: status %d", r.StatusCode)
	}
}
