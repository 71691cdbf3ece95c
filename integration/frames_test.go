//go:build unix

package integration

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A frame upstream is an HTTP/2 upstream (h2c, prior knowledge) whose answers a test writes
// frame by frame, for the responses that no conforming server sends: x/net's Framer and hpack
// and nothing more. It acknowledges SETTINGS and PING, opens the windows of the request bodies
// it reads, and hands each request's head to the test.

// frameReply is one request the frame upstream received, and the writers of its answer; they
// may be called on any goroutine.
type frameReply struct {
	conn *frameConn
	id   uint32
	path string
	head []hpack.HeaderField // the request's head as decoded

	body  []byte        // guarded by conn.mu: the request body so far
	grew  chan struct{} // cap 1: signaled when body grows
	ended chan struct{} // closed once the request has ended (END_STREAM)
}

// frameConn is one connection of a frame upstream.
type frameConn struct {
	n    int           // the connection's number on its upstream, from 1
	done chan struct{} // closed when the connection is closed
	nc   net.Conn

	mu      sync.Mutex // guards the writes: fr's, and enc's into buf; and the requests' bodies
	fr      *http2.Framer
	buf     bytes.Buffer
	enc     *hpack.Encoder
	streams map[uint32]*frameReply    // open requests, by stream
	pings   map[[8]byte]chan struct{} // PINGs sent whose ack has not come, by their data
}

// field returns the values of the request's field name, joined by ", ", and whether it had any.
func (r *frameReply) field(name string) (string, bool) {
	var vv []string
	for _, f := range r.head {
		if f.Name == name {
			vv = append(vv, f.Value)
		}
	}
	return strings.Join(vv, ", "), len(vv) > 0
}

// requestBody waits for the request's end and returns its body; false if the connection
// closed first.
func (r *frameReply) requestBody() (string, bool) {
	select {
	case <-r.ended:
		r.conn.mu.Lock()
		defer r.conn.mu.Unlock()
		return string(r.body), true
	case <-r.conn.done:
		return "", false
	}
}

// awaitBody waits until n bytes of the request body have come, for at most 10 s; false if the
// connection closed or the request ended first, or the time ran out.
func (r *frameReply) awaitBody(n int) bool {
	limit := time.NewTimer(10 * time.Second)
	defer limit.Stop()
	for {
		r.conn.mu.Lock()
		got := len(r.body)
		r.conn.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-r.grew:
		case <-r.ended:
			return false
		case <-r.conn.done:
			return false
		case <-limit.C:
			return false
		}
	}
}

// headers sends a HEADERS frame of the name-value pairs fields, ending the stream if end.
func (r *frameReply) headers(end bool, fields ...string) {
	c := r.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: r.id, BlockFragment: c.buf.Bytes(), EndStream: end, EndHeaders: true})
}

// reset sends RST_STREAM with code.
func (r *frameReply) reset(code http2.ErrCode) {
	r.conn.mu.Lock()
	defer r.conn.mu.Unlock()
	r.conn.fr.WriteRSTStream(r.id, code)
}

// goAway sends GOAWAY on the request's connection with last as the last stream processed.
func (r *frameReply) goAway(last uint32) {
	r.conn.mu.Lock()
	defer r.conn.mu.Unlock()
	r.conn.fr.WriteGoAway(last, http2.ErrCodeNo, nil)
}

// data sends a DATA frame of s, ending the stream if end.
func (r *frameReply) data(end bool, s string) {
	r.conn.mu.Lock()
	defer r.conn.mu.Unlock()
	r.conn.fr.WriteData(r.id, end, []byte(s))
}

// sync sends a PING on the request's connection and waits for its ack, by which the gateway has
// read every frame sent before it (RFC 9113 6.7: a PING is answered in order); false if the
// connection closed first. It must not run on the connection's reading goroutine.
func (r *frameReply) sync() bool {
	c := r.conn
	acked := make(chan struct{})
	c.mu.Lock()
	data := [8]byte{byte(r.id), byte(r.id >> 8), byte(r.id >> 16), byte(r.id >> 24), 's', 'y', 'n', 'c'}
	c.pings[data] = acked
	c.fr.WritePing(false, data)
	c.mu.Unlock()
	select {
	case <-acked:
		return true
	case <-c.done:
		return false
	}
}

// dropConn closes the request's connection at once, without GOAWAY, as an upstream that is
// killed does.
func (r *frameReply) dropConn() { r.conn.nc.Close() }

// startFrameUpstream starts a frame upstream on a loopback port that calls answer with each
// request's head, on the connection's reading goroutine: an answer that waits must do so on a
// goroutine of its own. It is closed when the test ends.
func startFrameUpstream(t testing.TB, answer func(r *frameReply)) *upstream {
	t.Helper()
	return startFrameUpstreamWith(t, nil, answer)
}

// startFrameUpstreamWith is startFrameUpstream whose connections announce settings in their
// first SETTINGS frame.
func startFrameUpstreamWith(t testing.TB, settings []http2.Setting, answer func(r *frameReply)) *upstream {
	t.Helper()
	addr := serveLoopback(t, func(n int, nc net.Conn) { serveFrames(nc, n, settings, answer) })
	return &upstream{url: "h2c://" + addr}
}

// serveLoopback listens on a loopback port and calls serve with each connection, numbered from
// 1, on a goroutine of its own, until the test ends; then it closes the listener and every
// connection, and waits for the serve calls. It returns the port's address.
func serveLoopback(t testing.TB, serve func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			n := len(conns)
			mu.Unlock()
			wg.Go(func() { serve(n, nc) })
		}
	})
	return ln.Addr().String()
}

// serveFrames serves connection n of a frame upstream, which announces settings, until it fails
// or receives GOAWAY.
func serveFrames(nc net.Conn, n int, settings []http2.Setting, answer func(r *frameReply)) {
	defer nc.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	c := &frameConn{n: n, done: make(chan struct{}), nc: nc, fr: http2.NewFramer(nc, nc),
		streams: map[uint32]*frameReply{}, pings: map[[8]byte]chan struct{}{}}
	defer close(c.done)
	c.enc = hpack.NewEncoder(&c.buf)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.mu.Lock()
	c.fr.WriteSettings(settings...)
	c.mu.Unlock()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return
		}
		c.mu.Lock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.fr.WritePing(true, f.Data)
			} else if acked := c.pings[f.Data]; acked != nil {
				close(acked)
				delete(c.pings, f.Data)
			}
		case *http2.DataFrame:
			if n := uint32(len(f.Data())); n > 0 {
				c.fr.WriteWindowUpdate(0, n)
				c.fr.WriteWindowUpdate(f.StreamID, n)
			}
			if r := c.streams[f.StreamID]; r != nil {
				r.body = append(r.body, f.Data()...)
				select {
				case r.grew <- struct{}{}:
				default:
				}
				c.endedLocked(r, f.StreamEnded())
			}
		case *http2.GoAwayFrame:
			c.mu.Unlock()
			return
		}
		var r *frameReply
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			if h.PseudoValue("method") != "" {
				r = &frameReply{conn: c, id: h.StreamID, path: h.PseudoValue("path"), head: h.Fields, grew: make(chan struct{}, 1), ended: make(chan struct{})}
				c.streams[r.id] = r
				c.endedLocked(r, h.StreamEnded())
			} else if t := c.streams[h.StreamID]; t != nil {
				c.endedLocked(t, h.StreamEnded()) // the request's trailers
			}
		}
		c.mu.Unlock()
		if r != nil {
			answer(r)
		}
	}
}

// endedLocked marks r's request ended if end.
func (c *frameConn) endedLocked(r *frameReply, end bool) {
	if end {
		close(r.ended)
		delete(c.streams, r.id)
	}
}

// withFrameEngines runs fn, for each HTTP/2 engine, against a gateway in front of a frame
// upstream that answers with answer.
func withFrameEngines(t *testing.T, answer func(r *frameReply), fn func(t *testing.T, f *front)) {
	for _, engine := range []string{"", "x/net"} {
		name := engine
		if name == "" {
			name = "own"
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(startFrameUpstream(t, answer))
			cfg.Pool.H2Engine = engine
			fn(t, startGateway(t, cfg))
		})
	}
}
