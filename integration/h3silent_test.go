//go:build unix

package integration

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// udpRelay passes the datagrams of one client to target and back, until drop is set: then it
// passes nothing either way, as a host switched off or cut off by the network would.
type udpRelay struct {
	addr string
	drop atomic.Bool
}

// startUDPRelay relays a loopback UDP port to target until the test ends.
func startUDPRelay(t *testing.T, target string) *udpRelay {
	t.Helper()
	front, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.Dial("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	r := &udpRelay{addr: front.LocalAddr().String()}
	var client atomic.Pointer[net.Addr]
	var wg sync.WaitGroup
	t.Cleanup(func() { front.Close(); back.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := front.ReadFrom(buf)
			if err != nil {
				return
			}
			client.Store(&from)
			if !r.drop.Load() {
				back.Write(buf[:n])
			}
		}
	})
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			if to := client.Load(); to != nil && !r.drop.Load() {
				front.WriteTo(buf[:n], *to)
			}
		}
	})
	return r
}

// TestH3SilentUpstream: over HTTP/3, a session whose upstream goes silent under a request is
// found dead within -quic-idle-timeout (quic-go PINGs the peer after half of it without a
// packet), and with several upstreams the request goes to another at once, without a dial to
// the silent one; a slow answer within a live connection, longer than that timeout, is waited
// for.
func TestH3SilentUpstream(t *testing.T) {
	const idle = time.Second
	var relay *udpRelay
	a := startH3UpstreamWith(t, "127.0.0.1:0", 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(2 * idle) // an answer that takes its time: the connection stays live
		case "/silent":
			relay.drop.Store(true)
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "from a")
	}))
	relay = startUDPRelay(t, a.addr)
	b := startUpstream(t, upstreamKinds[2], demo.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from b")
	})})
	cfg := testConfig(&upstream{url: "h3://" + relay.addr})
	cfg.Upstreams = []string{b.url}
	cfg.Pool.QUICIdleTimeout = idle
	cfg.Pool.DialTimeout = 30 * time.Second // a dial to the silent host outlasts the client's patience
	cfg.Pool.QueueTimeout = 30 * time.Second
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	for i := 0; a.requests.Load() == 0; i++ {
		if i == 10 {
			t.Fatal("no request reached the first upstream in 10")
		}
		c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "from a" && body != "from b" {
			t.Fatalf("GET /slow: %s %q, want 200", resp.Status, body)
		}
	}
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("no request went silent at the first upstream in 10")
		}
		c.send("GET /silent HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "from b" {
			t.Fatalf("GET /silent: %s %q, want 200 from b", resp.Status, body)
		}
		if relay.drop.Load() {
			return // answered by b after a went silent under it
		}
	}
}
