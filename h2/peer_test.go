package h2

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fakePeer is an HTTP/2 server that speaks frames with http2.Framer and
// hpack, so that a test controls every frame the client sees. Its reads run
// on one goroutine; its writes are queued and sent by another, so that
// reading never waits for the client to read (net.Pipe has no buffer).
type fakePeer struct {
	t    *testing.T
	conn net.Conn
	rfr  *http2.Framer // owned by the read loop

	wmu  sync.Mutex
	wfr  *http2.Framer // guarded by wmu
	henc *hpack.Encoder
	hbuf bytes.Buffer // guarded by wmu
	out  chan []byte  // sent by write, closed by the read loop; drained by the writer

	mu             sync.Mutex
	clientSettings []http2.Setting // guarded by mu; the client's first SETTINGS
	connIncrement  uint32          // guarded by mu; the client's first WINDOW_UPDATE on stream 0
	requests       []uint32        // guarded by mu; streams the client opened
	pings          int             // guarded by mu; PINGs received
	silent         bool            // guarded by mu; PINGs are no longer answered
	onRequest      func(p *fakePeer, stream uint32, h []hpack.HeaderField)

	done chan struct{} // closed when both loops ended
}

// queueWriter hands each frame the write Framer builds to the writer.
type queueWriter struct{ p *fakePeer }

func (q queueWriter) Write(b []byte) (int, error) {
	q.p.out <- bytes.Clone(b)
	return len(b), nil
}

// newFakePeer serves conn with the given initial SETTINGS. onRequest is
// called on the read loop for each request's HEADERS; nil answers 200 "ok".
func newFakePeer(t *testing.T, conn net.Conn, settings []http2.Setting, onRequest func(*fakePeer, uint32, []hpack.HeaderField)) *fakePeer {
	p := &fakePeer{
		t:         t,
		conn:      conn,
		out:       make(chan []byte, 4096),
		onRequest: onRequest,
		done:      make(chan struct{}),
	}
	p.rfr = http2.NewFramer(nil, conn)
	p.rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	p.wfr = http2.NewFramer(queueWriter{p}, nil)
	p.henc = hpack.NewEncoder(&p.hbuf)
	if p.onRequest == nil {
		p.onRequest = func(p *fakePeer, stream uint32, _ []hpack.HeaderField) { p.respond(stream, 200, "ok") }
	}
	p.write(func(fr *http2.Framer) { fr.WriteSettings(settings...) })

	wrote := make(chan struct{})
	out := p.out // the read loop's end sets p.out to nil once it closed the channel
	go func() {
		defer close(wrote)
		for b := range out {
			if _, err := conn.Write(b); err != nil {
				for range out {
				}
				return
			}
		}
	}()
	go func() {
		p.readLoop()
		conn.Close()
		p.wmu.Lock()
		close(p.out)
		p.out = nil
		p.wmu.Unlock()
		<-wrote
		close(p.done)
	}()
	return p
}

func (p *fakePeer) readLoop() {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(p.conn, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	sawSettings, sawWindow := false, false
	for {
		f, err := p.rfr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			if !sawSettings {
				sawSettings = true
				var s []http2.Setting
				f.ForeachSetting(func(x http2.Setting) error { s = append(s, x); return nil })
				p.mu.Lock()
				p.clientSettings = s
				p.mu.Unlock()
			}
			p.write(func(fr *http2.Framer) { fr.WriteSettingsAck() })
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 && !sawWindow {
				sawWindow = true
				p.mu.Lock()
				p.connIncrement = f.Increment
				p.mu.Unlock()
			}
		case *http2.PingFrame:
			if f.IsAck() {
				continue
			}
			p.mu.Lock()
			p.pings++
			silent := p.silent
			p.mu.Unlock()
			if !silent {
				p.write(func(fr *http2.Framer) { fr.WritePing(true, f.Data) })
			}
		case *http2.MetaHeadersFrame:
			p.mu.Lock()
			p.requests = append(p.requests, f.StreamID)
			h := p.onRequest
			p.mu.Unlock()
			h(p, f.StreamID, f.Fields)
		}
	}
}

// write runs fn with the write Framer; frames go out in order. After the
// read loop ended it does nothing.
func (p *fakePeer) write(fn func(fr *http2.Framer)) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.out == nil {
		return
	}
	fn(p.wfr)
}

// headers writes a response HEADERS frame.
func (p *fakePeer) headers(stream uint32, status int, end bool) {
	p.write(func(fr *http2.Framer) {
		p.hbuf.Reset()
		p.henc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
		fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: stream, BlockFragment: p.hbuf.Bytes(), EndHeaders: true, EndStream: end,
		})
	})
}

// respond answers a stream in full.
func (p *fakePeer) respond(stream uint32, status int, body string) {
	p.headers(stream, status, body == "")
	if body != "" {
		p.write(func(fr *http2.Framer) { fr.WriteData(stream, true, []byte(body)) })
	}
}

func (p *fakePeer) refuse(stream uint32) {
	p.write(func(fr *http2.Framer) { fr.WriteRSTStream(stream, http2.ErrCodeRefusedStream) })
}

func (p *fakePeer) goAway(last uint32) {
	p.write(func(fr *http2.Framer) { fr.WriteGoAway(last, http2.ErrCodeNo, nil) })
}

func (p *fakePeer) setSilent() {
	p.mu.Lock()
	p.silent = true
	p.mu.Unlock()
}

func (p *fakePeer) stats() (requests []uint32, pings int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint32(nil), p.requests...), p.pings
}

// peers dials fake peers over net.Pipe for a Pool.
type peers struct {
	t         *testing.T
	settings  []http2.Setting
	onRequest func(*fakePeer, uint32, []hpack.HeaderField)
	silent    bool // new peers answer no PING

	mu   sync.Mutex
	list []*fakePeer // guarded by mu
}

func (ps *peers) dial(ctx context.Context) (net.Conn, error) {
	c, s := net.Pipe()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pr := newFakePeer(ps.t, s, ps.settings, ps.onRequest)
	if ps.silent {
		pr.setSilent()
	}
	ps.list = append(ps.list, pr)
	return c, nil
}

func (ps *peers) get(i int) *fakePeer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if i >= len(ps.list) {
		ps.t.Fatalf("peer %d not dialled; %d were", i, len(ps.list))
	}
	return ps.list[i]
}

func (ps *peers) count() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.list)
}

// newFakePool returns a Pool whose sessions go to fake peers, and shuts it
// down at the end of the test, waiting for the peers to end.
func newFakePool(t *testing.T, cfg Config, ps *peers) *Pool {
	t.Helper()
	ps.t = t
	if cfg.Address == "" {
		cfg.Address = "upstream.test:80"
	}
	p, err := newPool(cfg, ps.dial)
	if err != nil {
		t.Fatalf("newPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		for i := range ps.count() {
			pr := ps.get(i)
			pr.conn.Close()
			<-pr.done
		}
	})
	return p
}
