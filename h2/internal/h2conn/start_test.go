package h2conn

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

// startReserved reserves a stream and starts req on it.
func startReserved(t *testing.T, c *Conn, req *http.Request) (*Started, uint32) {
	t.Helper()
	if !c.Reserve() {
		t.Fatal("Reserve failed")
	}
	st, id, err := c.StartReserved(req)
	if err != nil {
		t.Fatalf("StartReserved: %v", err)
	}
	return st, id
}

// TestStartReservedReady: StartReserved returns at once with the stream's ID; Ready is false
// and Await waits until the peer's response HEADERS came, then Ready is true and Await returns
// the response with the stream's ID.
func TestStartReservedReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		st, id := startReserved(t, p.c, get("/a"))
		f := p.expect(http2.FrameHeaders)
		if id != 1 || f.StreamID != id || f.field(":path") != "/a" || !f.endStream {
			t.Fatalf("StartReserved gave stream %d; peer saw HEADERS on %d for %q (END_STREAM %v); want 1, /a, true",
				id, f.StreamID, f.field(":path"), f.endStream)
		}
		if s := p.c.State(); s.Active != 1 || s.Reserved != 0 {
			t.Errorf("State %+v after StartReserved, want 1 active, 0 reserved", s)
		}
		synctest.Wait()
		if st.Ready() {
			t.Fatal("Ready before the response HEADERS")
		}
		type out struct {
			res *http.Response
			id  uint32
			err error
		}
		ch := make(chan out, 1)
		go func() {
			res, id, err := st.Await()
			ch <- out{res, id, err}
		}()
		synctest.Wait()
		select {
		case o := <-ch:
			t.Fatalf("Await returned (%v, %d, %v) before the response HEADERS", o.res, o.id, o.err)
		default:
		}
		if st.Ready() {
			t.Fatal("Ready while Await waits")
		}

		p.headers(id, false, ":status", "200", "x-a", "1")
		o := <-ch
		if !st.Ready() {
			t.Error("Ready false after Await returned")
		}
		if o.err != nil || o.id != id {
			t.Fatalf("Await = %d, %v; want stream %d, no error", o.id, o.err, id)
		}
		if o.res.StatusCode != 200 || o.res.Header.Get("X-A") != "1" {
			t.Errorf("response %d, X-A %q; want 200, 1", o.res.StatusCode, o.res.Header.Get("X-A"))
		}
		p.data(id, true, []byte("body a"))
		if b, err := io.ReadAll(o.res.Body); err != nil || string(b) != "body a" {
			t.Errorf("body %q, %v; want body a", b, err)
		}
		o.res.Body.Close()
	})
}

// TestStartReservedReadyWithoutAwait: Ready turns true when the response HEADERS are read,
// with no Await waiting; then Await returns at once.
func TestStartReservedReadyWithoutAwait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		st, id := startReserved(t, p.c, get("/"))
		p.expect(http2.FrameHeaders)
		synctest.Wait()
		if st.Ready() {
			t.Fatal("Ready before the response HEADERS")
		}
		p.headers(id, true, ":status", "204")
		synctest.Wait()
		if !st.Ready() {
			t.Fatal("Ready false after the response HEADERS were read")
		}
		res, gotID, err := st.Await()
		if err != nil || gotID != id || res.StatusCode != 204 {
			t.Fatalf("Await = %v, %d, %v; want 204 on stream %d", res, gotID, err, id)
		}
		res.Body.Close()
	})
}

// TestStartReservedBatch: streams started before any Await have their HEADERS written before
// the peer answers any; each Started turns ready with its own response, in the peer's order,
// or with its stream's failure, and Await returns its stream's outcome.
func TestStartReservedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		paths := []string{"/0", "/1", "/2"}
		sts := make([]*Started, len(paths))
		ids := make([]uint32, len(paths))
		for range paths {
			if !p.c.Reserve() {
				t.Fatal("Reserve failed")
			}
		}
		// StartReserved must not wait for a response: started on a goroutine, the calls
		// return while the bubble is idle and the peer has answered nothing.
		errs := make([]error, len(paths))
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i, path := range paths {
				sts[i], ids[i], errs[i] = p.c.StartReserved(get(path))
			}
		}()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("StartReserved waits for the response")
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("StartReserved %d: %v", i, err)
			}
		}
		// Nothing awaited, nothing answered: the peer has every HEADERS frame.
		fs := p.queued()
		if len(fs) != len(paths) {
			t.Fatalf("peer saw %d frames before any Await, want %d HEADERS", len(fs), len(paths))
		}
		for i, f := range fs {
			if f.Type != http2.FrameHeaders || f.StreamID != ids[i] || f.StreamID != uint32(2*i+1) || f.field(":path") != paths[i] {
				t.Errorf("frame %d: %v on stream %d for %q; want HEADERS on stream %d (StartReserved said %d) for %q",
					i, f.Type, f.StreamID, f.field(":path"), 2*i+1, ids[i], paths[i])
			}
		}
		if s := p.c.State(); s.Active != 3 {
			t.Errorf("State %+v, want 3 active", s)
		}
		ready := func() [3]bool {
			synctest.Wait()
			return [3]bool{sts[0].Ready(), sts[1].Ready(), sts[2].Ready()}
		}
		if r := ready(); r != [3]bool{} {
			t.Fatalf("Ready %v before any response, want none", r)
		}

		// The peer answers the middle one first.
		p.headers(ids[1], false, ":status", "200", "x-path", "/1")
		if r := ready(); r != [3]bool{false, true, false} {
			t.Fatalf("Ready %v after the response on stream %d, want only the second", r, ids[1])
		}
		res, id, err := sts[1].Await()
		if err != nil || id != ids[1] || res.Header.Get("X-Path") != "/1" {
			t.Fatalf("Await = %v, %d, %v; want the response of stream %d", res, id, err, ids[1])
		}
		p.data(ids[1], true, []byte("one"))
		if b, _ := io.ReadAll(res.Body); string(b) != "one" {
			t.Errorf("body %q, want one", b)
		}
		res.Body.Close()

		// The first is refused: ready too, with its failure.
		p.must(p.fr.WriteRSTStream(ids[0], http2.ErrCodeRefusedStream))
		if r := ready(); r != [3]bool{true, true, false} {
			t.Fatalf("Ready %v after the first was refused, want the first two", r)
		}
		if _, id, err := sts[0].Await(); !errors.Is(err, ErrUnprocessed) || id != ids[0] {
			t.Errorf("Await of the refused stream = %d, %v; want stream %d, ErrUnprocessed", id, err, ids[0])
		}

		p.headers(ids[2], true, ":status", "204")
		if r := ready(); r != [3]bool{true, true, true} {
			t.Fatalf("Ready %v after the last response, want all", r)
		}
		res, id, err = sts[2].Await()
		if err != nil || id != ids[2] || res.StatusCode != 204 {
			t.Fatalf("Await = %v, %d, %v; want 204 on stream %d", res, id, err, ids[2])
		}
		res.Body.Close()
		synctest.Wait()
		if s := p.c.State(); s.Active != 0 {
			t.Errorf("State %+v at the end, want none active", s)
		}
	})
}

// TestStartReservedFails: a request StartReserved cannot send fails at once, gives back the
// reservation and opens no stream.
func TestStartReservedFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		if !p.c.Reserve() {
			t.Fatal("Reserve failed")
		}
		req := get("/")
		req.Header.Set("X-Bad", "a\nb") // not a valid field value
		st, id, err := p.c.StartReserved(req)
		if err == nil || st != nil || id != 0 {
			t.Fatalf("StartReserved = %v, %d, %v; want an error, no stream", st, id, err)
		}
		t.Logf("StartReserved: %v", err)
		if s := p.c.State(); s.Reserved != 0 || s.Active != 0 {
			t.Errorf("State %+v after the failed StartReserved, want nothing reserved or active", s)
		}
		if fs := p.queued(); len(fs) != 0 {
			t.Errorf("peer saw %d frames, first %v; want none", len(fs), fs[0].Type)
		}
	})
}
