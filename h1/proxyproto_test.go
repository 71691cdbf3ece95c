package h1

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// proxyV2 builds a version 2 header: command byte, family and transport byte, addresses and
// ports as the family wants them, then tlv.
func proxyV2(cmd, fam byte, src, dst netip.AddrPort, tlv []byte) []byte {
	var body []byte
	if src.IsValid() {
		body = append(body, src.Addr().AsSlice()...)
		body = append(body, dst.Addr().AsSlice()...)
		body = binary.BigEndian.AppendUint16(body, src.Port())
		body = binary.BigEndian.AppendUint16(body, dst.Port())
	}
	body = append(body, tlv...)
	h := append([]byte{}, proxyV2Sig...)
	h = append(h, cmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(body)))
	return append(h, body...)
}

var (
	v4src, v4dst = netip.MustParseAddrPort("203.0.113.7:51000"), netip.MustParseAddrPort("192.0.2.1:443")
	v6src, v6dst = netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:443")
)

func TestParseProxyHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string // the client's address; "" for none, "error" for a rejected header
	}{
		{"v1 TCP4", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n"), "203.0.113.7:51000"},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n"), "[2001:db8::1]:40000"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), ""},
		{"v1 UNKNOWN with addresses", []byte("PROXY UNKNOWN ffff:f...f 1 2 3\r\n"), ""},
		{"v1 port 0 and 65535", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n"), "1.2.3.4:0"},
		{"v1 bare LF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "error"},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n"), "error"},
		{"v1 TCP6 with IPv4", []byte("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), "error"},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n"), "error"},
		{"v1 leading zero", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), "error"},
		{"v1 port too large", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), "error"},
		{"v1 signed port", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), "error"},
		{"v1 two spaces", []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), "error"},
		{"v1 missing field", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "error"},
		{"v1 UDP", []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), "error"},
		{"v2 IPv4", proxyV2(proxyV2Proxy, 0x11, v4src, v4dst, nil), "203.0.113.7:51000"},
		{"v2 IPv6 with a TLV", proxyV2(proxyV2Proxy, 0x21, v6src, v6dst, []byte{0x05, 0, 2, 'i', 'd'}), "[2001:db8::1]:40000"},
		{"v2 LOCAL", proxyV2(proxyV2Local, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil), ""},
		{"v2 LOCAL with addresses", proxyV2(proxyV2Local, 0x11, v4src, v4dst, nil), ""},
		{"v2 UNSPEC", proxyV2(proxyV2Proxy, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil), ""},
		{"v2 UNIX", proxyV2(proxyV2Proxy, 0x31, netip.AddrPort{}, netip.AddrPort{}, make([]byte, 216)), ""},
		{"v2 UDP", proxyV2(proxyV2Proxy, 0x12, v4src, v4dst, nil), "error"},
		{"v2 short IPv4", proxyV2(proxyV2Proxy, 0x11, netip.AddrPort{}, netip.AddrPort{}, make([]byte, 11)), "error"},
		{"v2 short IPv6", proxyV2(proxyV2Proxy, 0x21, v4src, v4dst, nil), "error"},
		{"v2 version 1", proxyV2(0x11, 0x11, v4src, v4dst, nil), "error"},
		{"v2 command 2", proxyV2(0x22, 0x11, v4src, v4dst, nil), "error"},
		{"v2 family 4", proxyV2(proxyV2Proxy, 0x41, v4src, v4dst, nil), "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := proxyHeaderLen(tt.in)
			if err == nil && n != len(tt.in) {
				t.Fatalf("proxyHeaderLen = %d, want %d", n, len(tt.in))
			}
			var src netip.AddrPort
			if err == nil {
				src, err = parseProxyHeader(tt.in)
			}
			got := src.String()
			switch {
			case err != nil:
				got = "error"
			case !src.IsValid():
				got = ""
			}
			if got != tt.want {
				t.Errorf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestProxyHeaderLen(t *testing.T) {
	long := append(proxyV2(proxyV2Proxy, 0x11, v4src, v4dst, nil)[:14], 0x10, 0x00) // 4096 bytes to follow
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{"PRO", 0, false},
		{"PROXY TCP4 1.2.3.4", 0, false},
		{"PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n", 15, false},
		{"GET / HTTP/1.1\r\n", 0, true},
		{"PROXX", 0, true},
		{"PROXY" + strings.Repeat(" ", proxyV1Max), 0, true}, // no end within 107 bytes
		{"\r\n\r\n\x00", 0, false},
		{"\r\n\r\nGET", 0, true},
		{string(proxyV2(proxyV2Proxy, 0x11, v4src, v4dst, nil)[:15]), 0, false},
		{string(proxyV2(proxyV2Proxy, 0x11, v4src, v4dst, nil)[:16]), 28, false},
		{string(long), 0, true}, // past proxyV2Max
	}
	for _, tt := range tests {
		n, err := proxyHeaderLen([]byte(tt.in))
		if n != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("proxyHeaderLen(%q) = %d, %v; want %d, error %v", tt.in, n, err, tt.want, tt.wantErr)
		}
	}
}

// TestReadProxyHeaderTakesNoMore: the header is read to its last byte and not beyond, whether
// the socket can be peeked at (TCP) or not (a pipe, read a byte at a time), and whether the
// header comes whole or in pieces: what follows it is the connection's to read.
func TestReadProxyHeaderTakesNoMore(t *testing.T) {
	headers := map[string][]byte{
		"v1":         []byte("PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n"),
		"v1 UNKNOWN": []byte("PROXY UNKNOWN\r\n"),
		"v2":         proxyV2(proxyV2Proxy, 0x21, v6src, v6dst, bytes.Repeat([]byte{0xee}, 400)),
	}
	const next = "GET / HTTP/1.1\r\n\r\n"
	for name, h := range headers {
		for _, pieces := range []int{1, 3} {
			for _, kind := range []string{"tcp", "pipe"} {
				t.Run(name+" "+kind+" in "+itoa(pieces), func(t *testing.T) {
					server, client := connPair(t, kind)
					server.SetDeadline(time.Now().Add(safetyNet))
					go writePieces(client, append(append([]byte{}, h...), next...), pieces)
					if _, err := readProxyHeader(server); err != nil {
						t.Fatalf("readProxyHeader: %v", err)
					}
					rest := make([]byte, len(next))
					if _, err := io.ReadFull(server, rest); err != nil || string(rest) != next {
						t.Errorf("after the header: got %q, %v; want %q", rest, err, next)
					}
				})
			}
		}
	}
}

// connPair is a connected pair over loopback TCP or an in-memory pipe.
func connPair(t *testing.T, kind string) (server, client net.Conn) {
	if kind == "pipe" {
		server, client = net.Pipe()
	} else {
		ln, err := netListen()
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if client, err = net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		if server, err = ln.Accept(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// writePieces writes b in n writes of about equal length.
func writePieces(w io.Writer, b []byte, n int) {
	size := (len(b) + n - 1) / n
	for len(b) > 0 {
		k := min(size, len(b))
		if _, err := w.Write(b[:k]); err != nil {
			return
		}
		b = b[k:]
	}
}

// remoteAddr answers with the request's RemoteAddr.
var remoteAddr = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, r.RemoteAddr)
})

func TestProxyProtocol(t *testing.T) {
	s, plain, addr := startProxiedServer(t, Config{}, remoteAddr)
	tests := []struct {
		name   string
		header []byte
		want   string // "" for the socket's own peer
	}{
		{"v1", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 51000 80\r\n"), "203.0.113.7:51000"},
		{"v2 IPv6", proxyV2(proxyV2Proxy, 0x21, v6src, v6dst, nil), "[2001:db8::1]:40000"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), ""},
		{"v2 LOCAL", proxyV2(proxyV2Local, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			want := tt.want
			if want == "" {
				want = c.conn.LocalAddr().String()
			}
			// The header and the first request in one write, as a balancer often sends them.
			c.send(string(tt.header) + getRoot)
			for range 2 {
				if r := c.read("GET"); r.StatusCode != 200 || r.body != want {
					t.Fatalf("got %d %q, want 200 %q", r.StatusCode, r.body, want)
				}
				c.send(getRoot)
			}
		})
	}
	// The same server's other listener takes no header: its clients are their sockets' peers.
	c := dial(t, plain)
	if r := c.roundTrip(getRoot); r.StatusCode != 200 || r.body != c.conn.LocalAddr().String() {
		t.Errorf("plain listener: got %d %q, want 200 %q", r.StatusCode, r.body, c.conn.LocalAddr())
	}
	if st := s.State(); st.ProxyFailures != 0 {
		t.Errorf("got %d PROXY failures, want 0", st.ProxyFailures)
	}
}

// TestProxyProtocolRejects: a connection without a valid header, or whose header does not come
// whole within HeaderTimeout, is closed without an answer, and counted; others go on.
func TestProxyProtocolRejects(t *testing.T) {
	s, plain, addr := startProxiedServer(t, Config{HeaderTimeout: 300 * time.Millisecond}, remoteAddr)
	for i, start := range []string{
		getRoot, // no header at all
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" + getRoot,
		string(proxyV2(proxyV2Proxy, 0x12, v4src, v4dst, nil)) + getRoot,
		"PROXY TCP4 1.2.3.4", // never ends: cut at HeaderTimeout
	} {
		c := dial(t, addr)
		c.send(start)
		c.expectClosed()
		if st := s.State(); st.ProxyFailures != uint64(i+1) {
			t.Errorf("after %q: got %d PROXY failures, want %d", start, st.ProxyFailures, i+1)
		}
	}
	c := dial(t, addr)
	c.send("PROXY TCP4 203.0.113.7 192.0.2.1 51000 80\r\n" + getRoot)
	if r := c.read("GET"); r.StatusCode != 200 {
		t.Errorf("a valid header after the bad ones: got %d, want 200", r.StatusCode)
	}
	// On a listener that takes none, a header is no request.
	c = dial(t, plain)
	c.send("PROXY TCP4 203.0.113.7 192.0.2.1 51000 80\r\n" + getRoot)
	if r := c.read("GET"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a header on the plain listener: got %d, want 400", r.StatusCode)
	}
}

// TestProxyProtocolPerIP: MaxConnsPerIP counts the header's address, not the balancer's.
func TestProxyProtocolPerIP(t *testing.T) {
	_, _, addr := startProxiedServer(t, Config{MaxConnsPerIP: 1}, remoteAddr)
	from := func(ip string) *client {
		c := dial(t, addr)
		c.send("PROXY TCP4 " + ip + " 192.0.2.1 51000 80\r\n" + getRoot)
		return c
	}
	if r := from("198.51.100.1").read("GET"); r.StatusCode != 200 {
		t.Fatalf("first from 198.51.100.1: got %d, want 200", r.StatusCode)
	}
	second := from("198.51.100.1")
	if r := second.read("GET"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second from 198.51.100.1: got %d, want 503", r.StatusCode)
	}
	second.expectClosed()
	if r := from("198.51.100.2").read("GET"); r.StatusCode != 200 {
		t.Errorf("first from 198.51.100.2: got %d, want 200", r.StatusCode)
	}
}

// TestProxyProtocolRate: RequestRatePerIP paces the header's address, not the balancer's.
func TestProxyProtocolRate(t *testing.T) {
	_, _, addr := startProxiedServer(t, Config{RequestRatePerIP: 0.01, RequestBurstPerIP: 1}, remoteAddr)
	from := func(ip string) int {
		c := dial(t, addr)
		c.send("PROXY TCP4 " + ip + " 192.0.2.1 51000 80\r\n" + getRoot)
		return c.read("GET").StatusCode
	}
	if a, again, b := from("198.51.100.1"), from("198.51.100.1"), from("198.51.100.2"); a != 200 || again != http.StatusTooManyRequests || b != 200 {
		t.Errorf("198.51.100.1 twice, then 198.51.100.2: %d, %d, %d; want 200, 429, 200", a, again, b)
	}
}

// TestProxyProtocolOverTLS: the header comes before the TLS handshake.
func TestProxyProtocolOverTLS(t *testing.T) {
	_, addr, pool := startTLSServer(t, Config{}, remoteAddr, true)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(safetyNet))
	if _, err := raw.Write(proxyV2(proxyV2Proxy, 0x11, v4src, v4dst, nil)); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if r := c.roundTrip(getRoot); r.StatusCode != 200 || r.body != v4src.String() {
		t.Errorf("got %d %q, want 200 %q", r.StatusCode, r.body, v4src)
	}
}

// FuzzProxyHeader: no input makes the header's reading panic; what a prefix of the input decides
// (a length, or that no header begins so) the whole input decides alike; and a version 1 header
// that parses says the same once written again from what was parsed.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nGET"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(proxyV2(proxyV2Proxy, 0x11, v4src, v4dst, nil))
	f.Add(proxyV2(proxyV2Proxy, 0x21, v6src, v6dst, []byte{1, 0, 2, 'h', '2'}))
	f.Add(proxyV2(proxyV2Local, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := proxyHeaderLen(b)
		for k := range len(b) {
			nk, errk := proxyHeaderLen(b[:k])
			if errk != nil && err == nil || nk > 0 && (nk != n || err != nil) {
				t.Fatalf("prefix of %d bytes: %d, %v; whole: %d, %v", k, nk, errk, n, err)
			}
		}
		if err != nil || n == 0 || n > len(b) {
			return
		}
		src, err := parseProxyHeader(b[:n])
		if err != nil || !src.IsValid() || b[0] != 'P' {
			return
		}
		f := strings.Fields(string(b[:n]))
		again := "PROXY " + f[1] + " " + src.Addr().String() + " " + f[3] + " " + itoa(int(src.Port())) + " " + f[5] + "\r\n"
		if src2, err := parseProxyHeader([]byte(again)); err != nil || src2 != src {
			t.Fatalf("%q parsed as %v; written again as %q: %v, %v", b[:n], src, again, src2, err)
		}
	})
}
