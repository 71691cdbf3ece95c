package h3

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// TestH3DialsNextAddress: a dial whose first address of the upstream's name does not answer goes
// on to the next within the dial timeout, rather than fail on the first.
func TestH3DialsNextAddress(t *testing.T) {
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	_, port, _ := net.SplitHostPort(u.addr)
	// A UDP socket on 127.0.0.3 takes the QUIC handshake's packets and answers none. The pool's
	// first session, its turns set to none, starts at the name's second address.
	silent, err := net.ListenPacket("udp", "127.0.0.3:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	reached := make(chan struct{})
	go func() {
		if _, _, err := silent.ReadFrom(make([]byte, 2048)); err == nil {
			close(reached)
		}
	}()
	ips := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")}
	named := &upstream{addr: "upstream.test:" + port, tls: u.tls.Clone()}
	named.tls.ServerName = "127.0.0.1" // the certificate's
	p := newTestPool(t, named, Config{DialTimeout: 2 * time.Second,
		Lookup: func(context.Context, string) ([]netip.Addr, error) { return ips, nil }})
	p.turns = 0
	req, _ := http.NewRequest("GET", "https://upstream.test:"+port+"/", nil)
	res, err := p.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	res.Body.Close()
	select {
	case <-reached:
	default:
		t.Error("no handshake packet reached the first address tried, 127.0.0.3")
	}
	if n := u.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections, want 1", n)
	}
}
