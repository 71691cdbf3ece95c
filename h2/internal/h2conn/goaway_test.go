package h2conn

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
)

// TestGoAwayAfterEncode: a GOAWAY that lands after a request's header
// block was encoded, before its stream opened, fails the request as
// unprocessed, and the block still reaches the peer, on a stream the
// GOAWAY excludes, so that the peer's hpack decoder keeps step: the
// trailers of a stream the GOAWAY kept, which refer to the table entry
// that block added, decode at the peer.
func TestGoAwayAfterEncode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		pr, pw := io.Pipe()
		kept, _ := http.NewRequest("POST", "http://example.com/kept", pr)
		kept.Trailer = http.Header{"X-Sum": nil}
		rk := p.start(kept)
		hk := p.expect(http2.FrameHeaders)

		hook := func() {
			testHookEncoded.Store(nil)
			p.must(p.fr.WriteGoAway(hk.StreamID, http2.ErrCodeNo, nil))
			// Until the client's reader has taken it. (Not synctest.Wait:
			// this goroutine holds wmu, which the writer may be waiting
			// for, and a goroutine waiting for a mutex never counts as
			// durably blocked.)
			for !p.c.draining.Load() {
				runtime.Gosched()
			}
		}
		testHookEncoded.Store(&hook)
		defer testHookEncoded.Store(nil)
		excluded := get("/excluded")
		excluded.Header.Set("X-Sum", "indexed by the excluded block")
		if r := p.start(excluded).wait(); !errors.Is(r.err, ErrUnprocessed) {
			t.Fatalf("RoundTrip after the GOAWAY = %v, want ErrUnprocessed", r.err)
		}
		fs := p.queued()
		if len(fs) != 1 || fs[0].Type != http2.FrameHeaders {
			t.Fatalf("after the GOAWAY the client sent %d frames, want the excluded request's HEADERS", len(fs))
		}
		if he := fs[0]; he.StreamID <= hk.StreamID || !he.endStream || he.field("x-sum") != "indexed by the excluded block" {
			t.Errorf("excluded block: stream %d END_STREAM %v fields %v, want a stream above %d, ended",
				he.StreamID, he.endStream, he.fields, hk.StreamID)
		}

		kept.Trailer.Set("X-Sum", "5")
		go func() {
			pw.Write([]byte("body"))
			pw.Close()
		}()
		p.expect(http2.FrameData)
		if tr := p.expect(http2.FrameHeaders); tr.field("x-sum") != "5" || !tr.endStream {
			t.Errorf("trailers of the kept stream decode to %v, want x-sum: 5", tr.fields)
		}
		p.headers(hk.StreamID, true, ":status", "200")
		if rk.wait(); rk.err != nil {
			t.Errorf("kept stream: %v", rk.err)
		}
	})
}

// TestGoAwayAfterProtocolErrorWhileWriteBlocked: the GOAWAY for the peer's
// protocol error is sent whole even when the write carrying it is blocked
// as the connection fails. A deadline in the past broke that write: the
// GOAWAY was lost, and over TLS half a record went out before the
// close_notify of the lingering close, which the peer read as a bad record
// MAC.
func TestGoAwayAfterProtocolErrorWhileWriteBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, gate := newGatedPeer(t)
		// PING on a stream: a connection error PROTOCOL_ERROR (RFC 9113 6.7).
		p.must(p.fr.WriteRawFrame(http2.FramePing, 0, 3, make([]byte, 8)))
		<-p.c.Done()
		close(gate.open)
		ga := p.expect(http2.FrameGoAway)
		if ga.code != http2.ErrCodeProtocol {
			t.Errorf("GOAWAY code %v, want PROTOCOL_ERROR", ga.code)
		}
	})
}

// TestGoAwayAfterProtocolErrorBehindBlockedWrite: the GOAWAY for the peer's
// protocol error goes out after a write that was blocked as the connection
// failed, and the request that write carried, which went whole, fails as
// possibly processed, not as unprocessed.
func TestGoAwayAfterProtocolErrorBehindBlockedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, gate := newGatedPeer(t)
		r := p.start(get("/blocked"))
		synctest.Wait() // the writer waits at the gate with the request's HEADERS
		p.must(p.fr.WriteRawFrame(http2.FramePing, 0, 3, make([]byte, 8)))
		<-p.c.Done()
		close(gate.open)
		p.expect(http2.FrameHeaders)
		if ga := p.expect(http2.FrameGoAway); ga.code != http2.ErrCodeProtocol {
			t.Errorf("GOAWAY code %v, want PROTOCOL_ERROR", ga.code)
		}
		if r.wait(); r.err == nil || errors.Is(r.err, ErrUnprocessed) {
			t.Errorf("request whose HEADERS went: %v, want an error, not ErrUnprocessed", r.err)
		}
	})
}

// newGatedPeer is newPeer with the client's end a gatedConn, shut once the
// connection is up.
func newGatedPeer(t *testing.T) (*peer, *gatedConn) {
	p := startPeer(t)
	gate := &gatedConn{Conn: p.ncClient, open: make(chan struct{}), moved: make(chan struct{}, 1)}
	p.ncClient = gate
	if p.connect(t, Config{}) == nil {
		t.Fatal("New failed")
	}
	p.expect(http2.FrameSettings)
	p.expectSkipping(http2.FrameSettings, http2.FrameWindowUpdate) // the ACK
	gate.shut()
	return p, gate
}

// gatedConn holds writes, once shut, until open is closed or the write
// deadline passes, as a socket whose peer reads nothing would.
type gatedConn struct {
	net.Conn
	open  chan struct{}
	moved chan struct{} // a deadline changed

	mu     sync.Mutex
	closed bool      // guarded by mu: writes wait
	wdl    time.Time // guarded by mu
}

func (g *gatedConn) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gatedConn) Write(b []byte) (int, error) {
	for {
		g.mu.Lock()
		closed, wdl := g.closed, g.wdl
		g.mu.Unlock()
		if !closed {
			return g.Conn.Write(b)
		}
		var expired <-chan time.Time
		if !wdl.IsZero() {
			expired = time.After(time.Until(wdl))
		}
		select {
		case <-g.open:
			return g.Conn.Write(b)
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		case <-g.moved:
		}
	}
}

func (g *gatedConn) SetDeadline(t time.Time) error {
	g.setWriteDeadline(t)
	return g.Conn.SetDeadline(t)
}

func (g *gatedConn) SetWriteDeadline(t time.Time) error {
	g.setWriteDeadline(t)
	return g.Conn.SetWriteDeadline(t)
}

func (g *gatedConn) setWriteDeadline(t time.Time) {
	g.mu.Lock()
	g.wdl = t
	g.mu.Unlock()
	select {
	case g.moved <- struct{}{}:
	default:
	}
}
