package h2conn

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"testing"
	"testing/synctest"

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
