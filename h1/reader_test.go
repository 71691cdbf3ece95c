package h1

import (
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	client.SetDeadline(time.Now().Add(safetyNet))
	server.SetDeadline(time.Now().Add(safetyNet))
	return client, server
}

// TestWaitIdleTCP: on TCP, the idle wait reads what arrives into a pooled buffer, which Read hands
// on and gives back; it reports the deadline and the client's close.
func TestWaitIdleTCP(t *testing.T) {
	client, server := tcpPair(t)
	c := &conn{rwc: server}
	c.cr.init(c)
	r := &c.cr
	if r.raw == nil {
		t.Fatal("got no raw connection for a TCP connection")
	}
	if r.box != nil {
		t.Fatal("holds a buffer before waiting")
	}

	done := make(chan error, 1)
	go func() { done <- r.waitIdle() }()
	io.WriteString(client, "GET / HTTP/1.1\r\n")
	if err := <-done; err != nil {
		t.Fatalf("waitIdle: %v", err)
	}
	if !r.buffered() || string(r.pending) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("got pending %q, want the request line", r.pending)
	}
	p := make([]byte, 4)
	if n, _ := r.Read(p); string(p[:n]) != "GET " || r.box == nil {
		t.Fatalf("first read: got %q, box %v; want %q and the rest kept", p[:n], r.box != nil, "GET ")
	}
	rest, _ := io.ReadAll(io.LimitReader(r, 12))
	if string(rest) != "/ HTTP/1.1\r\n" || r.box != nil {
		t.Fatalf("got %q, box %v; want the rest and the buffer given back", rest, r.box != nil)
	}

	server.SetReadDeadline(aLongTimeAgo)
	if err := r.waitIdle(); !isTimeout(err) || r.box != nil {
		t.Errorf("past deadline: got %v, box %v; want a timeout and no buffer", err, r.box != nil)
	}
	server.SetReadDeadline(time.Now().Add(safetyNet))
	client.Close()
	if err := r.waitIdle(); err != io.EOF {
		t.Errorf("after the client closed: got %v, want io.EOF", err)
	}
}

// TestHoldsHead: the bytes that start a request hold its head once they hold the CRLF CRLF that
// ends it, wherever it is, past any empty lines before the request line.
func TestHoldsHead(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"\r\n", false},
		{"\r\n\r\n", false}, // empty lines only
		{"\r\n\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"\r\nGET / HTTP/1.1\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", true},
		{"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n", true}, // a pipeline cut in its second head
	} {
		if got := holdsHead([]byte(tc.in)); got != tc.want {
			t.Errorf("holdsHead(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
