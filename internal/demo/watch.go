package demo

import (
	"crypto/tls"
	"net"
	"sync"
)

// frameGoAway is the HTTP/2 GOAWAY frame type (RFC 9113 6.8).
const frameGoAway = 0x7

// connWatch tells when a connection has written a GOAWAY frame.
type connWatch struct {
	goAway chan struct{} // closed by the connection's writer when GOAWAY has been written
	done   chan struct{} // closed by the connection's goroutine when it stops serving

	mu     sync.Mutex // guards the scanner below; writes may come from several goroutines
	header [9]byte    // the frame header being read; guarded by mu
	have   int        // bytes of header read; guarded by mu
	skip   int        // payload bytes of the current frame still to pass; guarded by mu
	seen   bool       // GOAWAY was written; guarded by mu
}

// scan follows the frame boundaries in p, the next bytes the server wrote. The server writes no
// preface: its first bytes are a SETTINGS frame (RFC 9113 3.4).
func (w *connWatch) scan(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(p) > 0 && !w.seen {
		if w.skip > 0 {
			n := min(w.skip, len(p))
			w.skip -= n
			p = p[n:]
			continue
		}
		n := copy(w.header[w.have:], p)
		w.have += n
		p = p[n:]
		if w.have < len(w.header) {
			return
		}
		w.have = 0
		w.skip = int(w.header[0])<<16 | int(w.header[1])<<8 | int(w.header[2])
		if w.header[3] == frameGoAway {
			w.seen = true
			close(w.goAway)
		}
	}
}

// watchedConn is a clear-text connection whose writes are scanned for GOAWAY.
type watchedConn struct {
	net.Conn
	w connWatch
}

func (c *watchedConn) watch() *connWatch { return &c.w }

func (c *watchedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.scan(p[:n])
	return n, err
}

// watchedTLSConn is a TLS connection whose writes are scanned for GOAWAY; it keeps the
// connection's TLS state visible to the HTTP/2 server.
type watchedTLSConn struct {
	watchedConn
}

func (c *watchedTLSConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(*tls.Conn).ConnectionState()
}
