package h1

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

const upgradeHead = "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

// upcase switches every request it can to "websocket" and sends back in capitals what the
// client sends through the tunnel, until the client's end; it answers any other request 200.
var upcase = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Sec-Websocket-Accept", "x")
	w.Header().Set("Content-Length", "2") // not for a 101: dropped
	t, err := Upgrade(w, "websocket")
	if err != nil {
		w.Header().Del("Sec-Websocket-Accept")
		io.WriteString(w, "no")
		return
	}
	buf := make([]byte, 64)
	for {
		n, err := t.Read(buf)
		t.Write(bytes.ToUpper(buf[:n]))
		if err != nil {
			t.CloseWrite()
			return
		}
	}
})

// readSwitch reads a 101 response head and checks its fields.
func readSwitch(t *testing.T, c *client) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header
	if resp.StatusCode != http.StatusSwitchingProtocols || h.Get("Upgrade") != "websocket" ||
		h.Get("Connection") != "upgrade" || h.Get("Sec-Websocket-Accept") != "x" || h.Get("Date") == "" {
		t.Fatalf("got %d %v, want 101 with Upgrade: websocket, Connection: upgrade, the handler's field and a Date", resp.StatusCode, h)
	}
	for _, k := range []string{"Content-Length", "Transfer-Encoding"} {
		if _, ok := h[k]; ok {
			t.Errorf("101 response has %s: %v", k, h)
		}
	}
}

// readN reads n bytes from c.
func readN(t *testing.T, c *client, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		t.Fatalf("read %d bytes: got %q, %v", n, b, err)
	}
	return string(b)
}

func TestUpgradeTunnel(t *testing.T) {
	_, addr := startServer(t, Config{}, upcase)
	c := dial(t, addr)
	// Bytes sent right after the head are the tunnel's, not a request.
	c.send(upgradeHead + "hello")
	readSwitch(t, c)
	if got := readN(t, c, 5); got != "HELLO" {
		t.Fatalf("got %q, want HELLO", got)
	}
	c.send("more")
	if got := readN(t, c, 4); got != "MORE" {
		t.Fatalf("got %q, want MORE", got)
	}
	c.conn.(*net.TCPConn).CloseWrite()
	c.expectClosed()
}

func TestUpgradeAfterPipelinedRequests(t *testing.T) {
	_, addr := startServer(t, Config{}, upcase)
	c := dial(t, addr)
	// A request that may switch is not dispatched with the pipeline before it, and nothing
	// after it is read as a request.
	c.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n" + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n" + upgradeHead + "GET /c HTTP/1.1\r\n\r\n")
	for range 2 {
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "no" {
			t.Fatalf("got %d %q, want 200 no", r.StatusCode, r.body)
		}
	}
	readSwitch(t, c)
	if got := readN(t, c, 19); got != "GET /C HTTP/1.1\r\n\r\n" {
		t.Fatalf("got %q, want the bytes after the head back in capitals", got)
	}
}

func TestNotUpgradable(t *testing.T) {
	for _, tc := range []struct{ name, req string }{
		{"HTTP/1.0", "GET / HTTP/1.0\r\nConnection: upgrade, keep-alive\r\nUpgrade: websocket\r\n\r\n"},
		{"not in Connection", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"},
		{"no Upgrade field", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n"},
		{"with content", "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 1\r\n\r\nx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{}, upcase)
			c := dial(t, addr)
			// The request is answered as any other, and the connection stays HTTP/1.
			for range 2 {
				if r := c.roundTrip(tc.req); r.StatusCode != 200 || r.body != "no" || r.Header.Get("Sec-Websocket-Accept") != "" {
					t.Fatalf("got %d %q %v, want 200 no", r.StatusCode, r.body, r.Header)
				}
			}
		})
	}
}

func TestUpgradeTwiceOrAfterHead(t *testing.T) {
	errs := make(chan error, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Sec-Websocket-Accept", "x")
		if r.URL.Path == "/late" {
			w.WriteHeader(200)
		}
		if _, err := Upgrade(w, "websocket"); err != nil && r.URL.Path != "/late" {
			errs <- err
			return
		}
		_, err := Upgrade(w, "websocket")
		errs <- err
	})
	_, addr := startServer(t, Config{}, h)
	c := dial(t, addr)
	c.send("GET /late HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
	c.read("GET")
	c.send(upgradeHead)
	readSwitch(t, c)
	for range 2 {
		if err := <-errs; err != ErrNotUpgradable {
			t.Errorf("got %v, want ErrNotUpgradable", err)
		}
	}
}

func TestTunnelIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		cause := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Sec-Websocket-Accept", "x")
			tun, err := Upgrade(w, "websocket")
			if err != nil {
				t.Error(err)
				return
			}
			buf := make([]byte, 8)
			for {
				n, err := tun.Read(buf)
				if err != nil {
					if !errors.Is(err, ErrTunnelIdle) {
						t.Errorf("Read: got %v, want ErrTunnelIdle", err)
					}
					cause <- context.Cause(r.Context())
					return
				}
				tun.Write(buf[:n])
			}
		})
		_, l := servePipe(t, Config{TunnelIdleTimeout: idle}, h)
		c := newClient(t, l.dial())
		start := time.Now()
		go c.send(upgradeHead)
		readSwitch(t, c)
		// Traffic either way keeps the tunnel: a byte 40s in moves the cut to 100s.
		time.Sleep(40 * time.Second)
		go c.send("x")
		readN(t, c, 1)
		if err := <-cause; err != ErrTunnelIdle {
			t.Errorf("request's cause: got %v, want ErrTunnelIdle", err)
		}
		// The coarse clock may read up to coarseSlack behind.
		if d, want := time.Since(start), 40*time.Second+idle; d < want || d > want+coarseSlack {
			t.Errorf("cut after %v, want %v to %v", d, want, want+coarseSlack)
		}
	})
}

func TestTunnelEndsWithHandler(t *testing.T) {
	errs := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tun, err := Upgrade(w, "websocket")
		if err != nil {
			t.Error(err)
			return
		}
		started := make(chan struct{})
		go func() {
			close(started)
			buf := make([]byte, 8)
			for {
				if _, err := tun.Read(buf); err != nil {
					// After the handler returned, a Read neither blocks nor touches the
					// connection's buffers, which go back to their pools.
					_, err = tun.Read(buf)
					errs <- err
					return
				}
			}
		}()
		<-started
	})
	_, addr := startServer(t, Config{}, h)
	c := dial(t, addr)
	c.send(upgradeHead)
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %v, %v; want 101", resp, err)
	}
	if err := <-errs; err != ErrTunnelClosed {
		t.Errorf("Read after the handler returned: got %v, want ErrTunnelClosed", err)
	}
	c.expectClosed()
}

// TestTunnelWaitRead: WaitRead returns once the client has sent bytes, which one Read then takes
// whole, and once it has closed its side; after what came with the head has been read, the
// tunnel holds neither the head's reader nor a response writer of the pool's size.
func TestTunnelWaitRead(t *testing.T) {
	type result struct {
		got       string
		err       error
		heldRead  bool
		heldWrite int
	}
	results := make(chan result, 3)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tun, err := Upgrade(w, "websocket")
		if err != nil {
			t.Error(err)
			return
		}
		buf := make([]byte, 64)
		for range 3 {
			tun.WaitRead()
			n, err := tun.Read(buf)
			results <- result{string(buf[:n]), err, tun.c.br != nil, tun.c.bw.Size()}
			tun.Write([]byte("."))
			if err != nil {
				return
			}
		}
	})
	_, addr := startServer(t, Config{}, h)
	c := dial(t, addr)
	c.send(upgradeHead + "early")
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %v, %v; want 101", resp, err)
	}
	if r := <-results; r.got != "early" || r.err != nil {
		t.Fatalf("first read: got %q, %v; want early", r.got, r.err)
	}
	readN(t, c, 1)
	c.send("later bytes")
	if r := <-results; r.got != "later bytes" || r.err != nil || r.heldRead || r.heldWrite == bufferSize {
		t.Fatalf("second read: got %+v; want later bytes, in one read, with no buffers held", r)
	}
	readN(t, c, 1)
	c.conn.(*net.TCPConn).CloseWrite()
	if r := <-results; r.err != io.EOF {
		t.Fatalf("after the client's close: got %+v, want io.EOF", r)
	}
}

// TestUpgradeKeepsHandlersDate: a Date the handler set (a proxy passes the upstream's) goes out
// once, as with any response, instead of the server's.
func TestUpgradeKeepsHandlersDate(t *testing.T) {
	const date = "Mon, 01 Jan 2001 00:00:00 GMT"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", date)
		if _, err := Upgrade(w, "websocket"); err != nil {
			t.Error(err)
		}
	})
	_, addr := startServer(t, Config{}, h)
	c := dial(t, addr)
	c.send(upgradeHead)
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || len(resp.Header["Date"]) != 1 || resp.Header.Get("Date") != date {
		t.Fatalf("got %v, %v; want 101 with the handler's Date alone", resp, err)
	}
}
