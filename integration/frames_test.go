package integration

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

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
}

// frameConn is one connection of a frame upstream.
type frameConn struct {
	mu  sync.Mutex // guards the writes: fr's, and enc's into buf
	fr  *http2.Framer
	buf bytes.Buffer
	enc *hpack.Encoder
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

// data sends a DATA frame of s, ending the stream if end.
func (r *frameReply) data(end bool, s string) {
	r.conn.mu.Lock()
	defer r.conn.mu.Unlock()
	r.conn.fr.WriteData(r.id, end, []byte(s))
}

// startFrameUpstream starts a frame upstream on a loopback port that calls answer with each
// request's head, on the connection's reading goroutine: an answer that waits must do so on a
// goroutine of its own. It is closed when the test ends.
func startFrameUpstream(t testing.TB, answer func(r *frameReply)) *upstream {
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
			mu.Unlock()
			wg.Go(func() { serveFrames(nc, answer) })
		}
	})
	return &upstream{url: "h2c://" + ln.Addr().String()}
}

// serveFrames serves one connection of a frame upstream until it fails or receives GOAWAY.
func serveFrames(nc net.Conn, answer func(r *frameReply)) {
	defer nc.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	c := &frameConn{fr: http2.NewFramer(nc, nc)}
	c.enc = hpack.NewEncoder(&c.buf)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.mu.Lock()
	c.fr.WriteSettings()
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
			}
		case *http2.DataFrame:
			if n := uint32(len(f.Data())); n > 0 {
				c.fr.WriteWindowUpdate(0, n)
				c.fr.WriteWindowUpdate(f.StreamID, n)
			}
		case *http2.GoAwayFrame:
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.PseudoValue("method") != "" {
			answer(&frameReply{conn: c, id: h.StreamID, path: h.PseudoValue("path")})
		}
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
