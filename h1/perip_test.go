package h1

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address from (Linux routes all of 127/8 to lo).
func dialFrom(t *testing.T, from, addr string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s (needs the 127/8 loopback range): %v", from, err)
	}
	conn.SetDeadline(time.Now().Add(safetyNet))
	return newClient(t, conn)
}

func TestMaxConnsPerIP(t *testing.T) {
	s, addr := startServer(t, Config{MaxConnsPerIP: 2}, text)
	a := dialFrom(t, "127.0.0.1", addr)
	a.roundTrip(getRoot)
	b := dialFrom(t, "127.0.0.1", addr)
	b.roundTrip(getRoot)

	// The third from the same address is refused with 503 and closed, before its request.
	c := dialFrom(t, "127.0.0.1", addr)
	r := c.read("GET")
	if r.StatusCode != http.StatusServiceUnavailable || !r.Close {
		t.Errorf("over the limit: got %d close %v, want 503 with Connection: close", r.StatusCode, r.Close)
	}
	c.expectClosed()

	// Another address is not affected.
	other := dialFrom(t, "127.0.0.2", addr)
	if r := other.roundTrip(getRoot); r.StatusCode != 200 {
		t.Errorf("other address: got %d, want 200", r.StatusCode)
	}
	if st := s.State(); st.Requests != 3 {
		t.Errorf("got %d requests handled, want 3 (the refused connection's is not read)", st.Requests)
	}

	// Once one of the two closes, the address gets a connection again. The server notices the
	// close asynchronously: try a bounded number of times, each answered at once.
	a.conn.Close()
	for i := range 100 {
		d := dialFrom(t, "127.0.0.1", addr)
		d.send(getRoot)
		if r := d.read("GET"); r.StatusCode == 200 {
			return
		}
		d.conn.Close()
		if i == 99 {
			t.Errorf("after a close: still refused 100 times, want a connection")
		}
	}
}

func TestMaxConnsPerIPOverTLS(t *testing.T) {
	refusals := make(chan Refusal, 1)
	report := func(r Refusal) { refusals <- r }
	_, addr, pool := startTLSServer(t, Config{MaxConnsPerIP: 1, OnRefusal: report}, text, false)
	cfg := &tls.Config{RootCAs: pool}
	first, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if r := newClient(t, first).roundTrip(getRoot); r.StatusCode != 200 {
		t.Fatalf("first: got %d, want 200", r.StatusCode)
	}
	// The second is closed before the handshake.
	second, err := tls.DialWithDialer(&net.Dialer{Timeout: safetyNet}, "tcp", addr, cfg)
	if err == nil {
		second.Close()
		t.Fatalf("second TLS connection from the same address: handshake succeeded, want it refused")
	}
	if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("second TLS connection: got %v, want the connection closed before the handshake", err)
	}
	// Reported as the clear-text refusal is, for the access log, though nothing was sent.
	select {
	case r := <-refusals:
		if r.Status != http.StatusServiceUnavailable || r.Reason != "too_many_connections_from_this_address" {
			t.Errorf("refusal %+v, want 503 too_many_connections_from_this_address", r)
		}
	case <-time.After(safetyNet):
		t.Error("no refusal reported for the second TLS connection")
	}
}
