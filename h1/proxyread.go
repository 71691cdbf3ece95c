package h1

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"syscall"
)

// proxyPeek is how much of a connection's start the first look takes: a version 1 header, or a
// version 2 one with a few TLVs.
const proxyPeek = 256

// readProxy reads the PROXY header that begins the connection (Server.ServeProxyProtocol), within
// HeaderTimeout of the accept, and takes the client's address from it. It reports false if none
// came, or a bad one: nothing else on the connection can be trusted then, and it is closed
// without an answer. It runs on the serve goroutine before anything else reads.
func (c *conn) readProxy() bool {
	raw := c.rwc
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn() // the header comes before the TLS handshake
	}
	raw.SetReadDeadline(c.start.Add(c.s.cfg.HeaderTimeout))
	src, err := readProxyHeader(raw)
	if err != nil {
		if c.state.Load() != stateClosed { // not the Server's own close
			c.s.proxyFails.Add(1)
			c.s.log.Debug().Str("remote", c.remoteAddr).Err(err).Msg("h1: connection closed: no valid PROXY protocol header")
		}
		return false
	}
	if src.IsValid() {
		c.remoteAddr = src.String()
	}
	ip := clientIP(c.rwc)
	if src.IsValid() {
		ip = src.Addr().Unmap()
	}
	if c.s.cfg.MaxConnsPerIP > 0 {
		c.s.countIP(c, ip)
	}
	c.s.paceIP(c, ip)
	return true
}

// readProxyHeader reads the PROXY header at the start of conn, and not a byte past it, so that
// what follows (a TLS handshake, a request) is still conn's to read; then it parses the header.
// A first look peeks at the socket's bytes without taking them, and then one read takes the
// header, whose end the look showed. Where the look shows no end (the header came in pieces,
// or the socket cannot be peeked at), the header is read a byte at a time until its length is
// known.
func readProxyHeader(conn net.Conn) (netip.AddrPort, error) {
	var look [proxyPeek]byte
	n, err := peekConn(conn, look[:])
	if err != nil {
		return netip.AddrPort{}, err
	}
	size, err := proxyHeaderLen(look[:n])
	if err != nil {
		return netip.AddrPort{}, err
	}
	var h []byte
	if size > 0 {
		h = make([]byte, size)
		_, err = io.ReadFull(conn, h)
	} else {
		h, err = readProxySlowly(conn)
	}
	if err != nil {
		return netip.AddrPort{}, err
	}
	return parseProxyHeader(h)
}

// readProxySlowly reads the header a byte at a time until its length is known, then the rest.
func readProxySlowly(conn net.Conn) ([]byte, error) {
	h := make([]byte, 0, proxyV1Max)
	for {
		size, err := proxyHeaderLen(h)
		if err != nil {
			return nil, err
		}
		if size > 0 {
			have := len(h)
			h = append(h, make([]byte, size-have)...)
			_, err := io.ReadFull(conn, h[have:])
			return h, err
		}
		var b [1]byte
		if _, err := io.ReadFull(conn, b[:]); err != nil {
			return nil, err
		}
		h = append(h, b[0])
	}
}

// peekConn waits, within conn's read deadline, until conn has bytes, and copies what it has into
// b without taking it. It reports 0 where conn cannot be peeked at, and at the end of its stream.
func peekConn(conn net.Conn, b []byte) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, nil
	}
	var n int
	var perr error
	err = raw.Read(func(fd uintptr) bool {
		var ready bool
		n, ready, perr = peekSocket(fd, b)
		return ready
	})
	if err != nil {
		return 0, err
	}
	return n, perr
}
