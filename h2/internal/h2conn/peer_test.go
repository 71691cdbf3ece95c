package h2conn

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"muxgate/internal/fieldlist"
)

// peer is a fake HTTP/2 server on the other end of a net.Pipe: it records
// every frame the client sends and writes the frames a test tells it to.
// Tests using it run in a synctest bubble, so a client that hangs fails
// the test as a deadlock instead of hanging it.
type peer struct {
	t        testing.TB
	nc       net.Conn // the peer's end
	ncClient net.Conn // the client's end
	c        *Conn    // the client under test
	fr       *http2.Framer
	enc      *hpack.Encoder
	ebuf     bytes.Buffer
	frames   chan *frame // every frame the client sent, in order; closed when the pipe breaks

	mu   sync.Mutex
	hold chan struct{} // guarded by mu: non-nil stops the reader before its next frame
	done chan struct{}
}

// frame is a copy of one frame the client sent.
type frame struct {
	http2.FrameHeader
	data      []byte              // DATA payload; GOAWAY debug data
	fields    []hpack.HeaderField // HEADERS with its CONTINUATIONs, decoded
	block     []byte              // the HEADERS frame's own fragment, raw
	endStream bool
	code      http2.ErrCode
	inc       uint32
	settings  []http2.Setting
	ping      [8]byte
	last      uint32
}

func (f *frame) field(name string) string {
	for _, hf := range f.fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// newPeer connects a client with cfg to a fake peer that sends settings
// as its SETTINGS, and consumes the client's SETTINGS, connection
// WINDOW_UPDATE and SETTINGS ACK. Call it inside a synctest bubble.
func newPeer(t testing.TB, cfg Config, settings ...http2.Setting) *peer {
	t.Helper()
	p := startPeer(t)
	c := p.connect(t, cfg, settings...)
	if c == nil {
		t.Fatal("New failed")
	}
	p.expect(http2.FrameSettings)
	if cfg.withDefaults().ConnWindow > initialWindow {
		p.expect(http2.FrameWindowUpdate)
	}
	if f := p.expect(http2.FrameSettings); !f.Flags.Has(http2.FlagSettingsAck) {
		t.Fatalf("want the client's SETTINGS ACK, got %+v", f.FrameHeader)
	}
	return p
}

func startPeer(t testing.TB) *peer {
	cn, pn := net.Pipe()
	p := &peer{
		t:      t,
		nc:     pn,
		frames: make(chan *frame, 10000),
		done:   make(chan struct{}),
	}
	p.fr = http2.NewFramer(pn, nil)
	p.enc = hpack.NewEncoder(&p.ebuf)
	go p.readLoop()
	p.ncClient = cn
	t.Cleanup(p.close)
	return p
}

// connect runs New against the peer, which answers with settings.
func (p *peer) connect(t testing.TB, cfg Config, settings ...http2.Setting) *Conn {
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := New(context.Background(), p.ncClient, cfg)
		ch <- result{c, err}
	}()
	if err := p.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	p.c = r.c
	return r.c
}

func (p *peer) close() {
	p.nc.Close()
	if p.c != nil {
		p.c.Close()
	}
	p.mu.Lock()
	if p.hold != nil {
		close(p.hold)
		p.hold = nil
	}
	p.mu.Unlock()
	<-p.done
}

func (p *peer) readLoop() {
	defer close(p.done)
	defer close(p.frames)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(p.nc, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(nil, p.nc)
	dec := hpack.NewDecoder(4096, nil)
	var open *frame // a HEADERS frame waiting for its CONTINUATIONs
	var block []byte
	for {
		p.mu.Lock()
		hold := p.hold
		p.mu.Unlock()
		if hold != nil {
			<-hold
		}
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		rf := &frame{FrameHeader: f.Header()}
		switch f := f.(type) {
		case *http2.DataFrame:
			rf.data = bytes.Clone(f.Data())
			rf.endStream = f.StreamEnded()
		case *http2.HeadersFrame:
			rf.block = bytes.Clone(f.HeaderBlockFragment())
			rf.endStream = f.StreamEnded()
			block = append(block[:0], rf.block...)
			if !f.HeadersEnded() {
				open = rf
				continue
			}
			if rf.fields, err = dec.DecodeFull(block); err != nil {
				return
			}
		case *http2.ContinuationFrame:
			block = append(block, f.HeaderBlockFragment()...)
			if !f.HeadersEnded() {
				continue
			}
			rf, open = open, nil
			if rf.fields, err = dec.DecodeFull(block); err != nil {
				return
			}
		case *http2.RSTStreamFrame:
			rf.code = f.ErrCode
		case *http2.WindowUpdateFrame:
			rf.inc = f.Increment
		case *http2.SettingsFrame:
			f.ForeachSetting(func(s http2.Setting) error {
				rf.settings = append(rf.settings, s)
				return nil
			})
		case *http2.PingFrame:
			rf.ping = f.Data
		case *http2.GoAwayFrame:
			rf.code, rf.last, rf.data = f.ErrCode, f.LastStreamID, bytes.Clone(f.DebugData())
		}
		p.frames <- rf
	}
}

// pause stops the peer's reader before its next frame; resume restarts it.
func (p *peer) pause() {
	p.mu.Lock()
	p.hold = make(chan struct{})
	p.mu.Unlock()
}

func (p *peer) resume() {
	p.mu.Lock()
	close(p.hold)
	p.hold = nil
	p.mu.Unlock()
}

// frameWait is how long next waits for a frame, in the bubble's time. Without it, a frame
// that never comes would hang the test rather than fail it whenever the client's own timers
// keep the bubble's clock going, so that the bubble never deadlocks: a session that let an
// upper-case response field through, instead of resetting the stream, hung TestResponses
// until go test's timeout.
const frameWait = 10 * time.Minute

// next returns the next frame the client sent.
func (p *peer) next() *frame {
	p.t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			p.t.Fatal("connection closed while the test expected a frame")
		}
		return f
	case <-time.After(frameWait):
		p.t.Fatalf("no frame from the client in %v", frameWait)
		return nil
	}
}

// expect returns the next frame, which must have type typ.
func (p *peer) expect(typ http2.FrameType) *frame {
	p.t.Helper()
	f := p.next()
	if f.Type != typ {
		p.t.Fatalf("got %v frame (stream %d, flags %v, code %v), want %v", f.Type, f.StreamID, f.Flags, f.code, typ)
	}
	return f
}

// expectSkipping returns the next frame of type typ, dropping frames of
// the skip types before it.
func (p *peer) expectSkipping(typ http2.FrameType, skip ...http2.FrameType) *frame {
	p.t.Helper()
	for {
		f := p.next()
		if f.Type == typ {
			return f
		}
		ok := false
		for _, s := range skip {
			ok = ok || f.Type == s
		}
		if !ok {
			p.t.Fatalf("got %v frame (stream %d, code %v) while waiting for %v", f.Type, f.StreamID, f.code, typ)
		}
	}
}

// queued returns the frames the client has sent and the peer has not
// consumed yet, once every goroutine in the bubble is blocked.
func (p *peer) queued() []*frame {
	synctest.Wait()
	var fs []*frame
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				return fs
			}
			fs = append(fs, f)
		default:
			return fs
		}
	}
}

// headers writes a header block; kv are name, value pairs.
func (p *peer) headers(id uint32, endStream bool, kv ...string) {
	p.t.Helper()
	p.ebuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	block := p.ebuf.Bytes()
	n := min(len(block), 16<<10)
	p.must(p.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: block[:n], EndStream: endStream, EndHeaders: n == len(block),
	}))
	for block = block[n:]; len(block) > 0; block = block[n:] {
		n = min(len(block), 16<<10)
		p.must(p.fr.WriteContinuation(id, n == len(block), block[:n]))
	}
}

// data writes b as DATA frames of at most 16 KiB.
func (p *peer) data(id uint32, endStream bool, b []byte) {
	p.t.Helper()
	for first := true; first || len(b) > 0; first = false {
		n := min(len(b), 16<<10)
		if err := p.fr.WriteData(id, endStream && n == len(b), b[:n]); err != nil {
			p.t.Fatal(err)
		}
		b = b[n:]
	}
}

func (p *peer) must(err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
}

// rt is a RoundTrip running in its own goroutine.
type rt struct {
	res  *http.Response
	list []fieldlist.Field // the head's fields, for startList
	id   uint32
	err  error
	done chan struct{}
}

func (p *peer) start(req *http.Request) *rt {
	r := &rt{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.res, r.id, r.err = p.c.RoundTrip(req)
	}()
	return r
}

// startList is start for a request whose response head comes as a list
// (StartListReserved); r.list holds it once r.done is closed.
func (p *peer) startList(req *http.Request) *rt {
	r := &rt{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if !p.c.Reserve() {
			r.err = errNoStream
			return
		}
		st, id, err := p.c.StartListReserved(req)
		if r.id, r.err = id, err; err != nil {
			return
		}
		r.res, r.id, r.err = st.Await()
		r.list = st.Fields()
	}()
	return r
}

// finished reports whether the RoundTrip returned, once the bubble is idle.
func (r *rt) finished() bool {
	synctest.Wait()
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *rt) wait() *rt {
	<-r.done
	return r
}

func get(path string) *http.Request {
	req, err := http.NewRequest("GET", "http://example.com"+path, nil)
	if err != nil {
		panic(err)
	}
	return req
}
