package h2conn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPeer(t)
		cfg := Config{StreamWindow: 100 << 10, ConnWindow: 3 << 20, MaxHeaderListSize: 32 << 10, MaxFrameSize: 64 << 10}
		c := p.connect(t, cfg, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7})
		if c == nil {
			t.Fatal("New failed")
		}
		f := p.expect(http2.FrameSettings)
		if f.Flags.Has(http2.FlagSettingsAck) {
			t.Fatal("first SETTINGS is an ACK")
		}
		want := map[http2.SettingID]uint32{
			http2.SettingEnablePush:        0,
			http2.SettingInitialWindowSize: 100 << 10,
			http2.SettingMaxHeaderListSize: 32 << 10,
			http2.SettingMaxFrameSize:      64 << 10,
		}
		for _, s := range f.settings {
			if v, ok := want[s.ID]; !ok || v != s.Val {
				t.Errorf("setting %v = %d, want %d (present %v)", s.ID, s.Val, v, ok)
			}
			delete(want, s.ID)
		}
		if len(want) > 0 {
			t.Errorf("settings missing: %v", want)
		}
		if f := p.expect(http2.FrameWindowUpdate); f.StreamID != 0 || f.inc != 3<<20-65535 {
			t.Errorf("WINDOW_UPDATE stream %d inc %d, want stream 0 inc %d", f.StreamID, f.inc, 3<<20-65535)
		}
		if f := p.expect(http2.FrameSettings); !f.Flags.Has(http2.FlagSettingsAck) {
			t.Errorf("want SETTINGS ACK, got flags %v", f.Flags)
		}
		if st := c.State(); st.MaxStreams != 7 || st.Closed || st.Draining {
			t.Errorf("State = %+v, want MaxStreams 7, open", st)
		}
	})
}

func TestNewSettingsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPeer(t)
		start := time.Now()
		_, err := New(context.Background(), p.ncClient, Config{SettingsTimeout: 3 * time.Second})
		if !errors.Is(err, errSettingsWait) {
			t.Errorf("New = %v, want %v", err, errSettingsWait)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("New gave up after %v, want 3s", d)
		}
	})
}

func TestNewFirstFrameNotSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPeer(t)
		ch := make(chan error, 1)
		go func() {
			_, err := New(context.Background(), p.ncClient, Config{})
			ch <- err
		}()
		p.must(p.fr.WritePing(false, [8]byte{1}))
		err := <-ch
		var ce *ConnError
		if !errors.As(err, &ce) || ce.Code != http2.ErrCodeProtocol || ce.Remote {
			t.Errorf("New = %v, want a local PROTOCOL_ERROR", err)
		}
		if f := p.expectSkipping(http2.FrameGoAway, http2.FrameSettings, http2.FrameWindowUpdate); f.code != http2.ErrCodeProtocol {
			t.Errorf("GOAWAY code %v, want PROTOCOL_ERROR", f.code)
		}
	})
}

func TestMaxConcurrentStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 2})
		c := p.c
		for i := range 2 {
			if !c.Reserve() {
				t.Fatalf("Reserve call %d of the first two failed", i+1)
			}
		}
		if c.Reserve() {
			t.Fatal("third Reserve succeeded with MAX_CONCURRENT_STREAMS 2")
		}
		if st := c.State(); st.Reserved != 2 || st.Active != 0 || st.MaxStreams != 2 {
			t.Errorf("State = %+v, want Reserved 2, Active 0, MaxStreams 2", st)
		}
		// A RoundTrip that reserves for itself finds no stream.
		if _, _, err := c.RoundTrip(get("/")); !errors.Is(err, ErrUnprocessed) || !errors.Is(err, errNoStream) {
			t.Errorf("RoundTrip on a full conn = %v, want ErrUnprocessed and errNoStream", err)
		}
		// Use one reservation; the stream keeps its slot until it ends.
		r := &rt{done: make(chan struct{})}
		go func() {
			defer close(r.done)
			r.res, r.id, r.err = c.RoundTripReserved(get("/a"))
		}()
		f := p.expect(http2.FrameHeaders)
		if st := c.State(); st.Reserved != 1 || st.Active != 1 {
			t.Errorf("State = %+v, want Reserved 1, Active 1", st)
		}
		c.Unreserve()
		if !c.Reserve() {
			t.Error("Reserve failed after Unreserve")
		}
		if c.Reserve() {
			t.Error("Reserve succeeded with 1 active + 1 reserved of 2")
		}
		p.headers(f.StreamID, true, ":status", "204")
		if r.wait(); r.err != nil {
			t.Fatal(r.err)
		}
		if !c.Reserve() {
			t.Error("Reserve failed after the stream ended")
		}
		// A lower limit in later SETTINGS applies at once.
		p.must(p.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1}))
		p.expect(http2.FrameSettings)
		if st := c.State(); st.MaxStreams != 1 || c.Reserve() {
			t.Errorf("after MAX_CONCURRENT_STREAMS 1: State %+v, and Reserve must fail", st)
		}
	})
}

// TestHeadersInOrder starts many requests at once: their HEADERS must
// reach the peer in stream-ID order, each block decodable in turn by one
// hpack decoder, and each response must reach its own request.
func TestHeadersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		const n = 20
		rts := make([]*rt, n)
		for i := range rts {
			req, _ := http.NewRequest("GET", "http://example.com/p?i="+strconv.Itoa(i), nil)
			req.Header.Set("X-I", strconv.Itoa(i))
			req.Header.Set("X-Common", "same value every time")
			if i == 7 {
				req.Header.Set("X-Big", strings.Repeat("b", 40<<10)) // needs CONTINUATION
			}
			rts[i] = p.start(req)
		}
		byID := map[uint32]string{}
		var last uint32
		for i := 0; i < n; i++ {
			f := p.expect(http2.FrameHeaders)
			if f.StreamID <= last || f.StreamID%2 != 1 {
				t.Fatalf("HEADERS for stream %d after stream %d", f.StreamID, last)
			}
			last = f.StreamID
			if !f.endStream {
				t.Errorf("stream %d: HEADERS without END_STREAM for a GET", f.StreamID)
			}
			xi := f.field("x-i")
			if f.field(":method") != "GET" || f.field(":scheme") != "http" ||
				f.field(":authority") != "example.com" || f.field(":path") != "/p?i="+xi ||
				f.field("x-common") != "same value every time" {
				t.Errorf("stream %d: fields %v", f.StreamID, f.fields)
			}
			if xi == "7" && len(f.field("x-big")) != 40<<10 {
				t.Errorf("x-big has %d bytes, want %d", len(f.field("x-big")), 40<<10)
			}
			byID[f.StreamID] = xi
		}
		if last != 2*n-1 {
			t.Errorf("last stream ID %d, want %d", last, 2*n-1)
		}
		for id, xi := range byID {
			p.headers(id, false, ":status", "200", "x-echo", xi)
			p.data(id, true, []byte("body "+xi))
		}
		for i, r := range rts {
			r.wait()
			if r.err != nil {
				t.Errorf("request %d: %v", i, r.err)
				continue
			}
			b, err := io.ReadAll(r.res.Body)
			if err != nil || string(b) != "body "+strconv.Itoa(i) || r.res.Header.Get("X-Echo") != strconv.Itoa(i) {
				t.Errorf("request %d: body %q (%v), X-Echo %q", i, b, err, r.res.Header.Get("X-Echo"))
			}
			if byID[r.id] != strconv.Itoa(i) {
				t.Errorf("request %d reported stream %d, which carried request %s", i, r.id, byID[r.id])
			}
		}
	})
}

func TestRefusedStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		r := p.start(get("/"))
		f := p.expect(http2.FrameHeaders)
		p.must(p.fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream))
		r.wait()
		var se *StreamError
		if !errors.Is(r.err, ErrUnprocessed) || !errors.As(r.err, &se) || se.Code != http2.ErrCodeRefusedStream || !se.Remote {
			t.Fatalf("err = %v, want ErrUnprocessed and a remote REFUSED_STREAM StreamError", r.err)
		}
		if r.id != f.StreamID {
			t.Errorf("id = %d, want %d", r.id, f.StreamID)
		}
		if !strings.HasPrefix(r.err.Error(), "h2conn: ") {
			t.Errorf("message %q lacks the package prefix", r.err)
		}
		// No RST goes back for a stream the peer reset.
		if fs := p.queued(); len(fs) != 0 {
			t.Errorf("client sent %d frames after the reset, first %v", len(fs), fs[0].Type)
		}
	})
}

func TestGoAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		rts := []*rt{p.start(get("/a")), p.start(get("/b")), p.start(get("/c"))}
		ids := map[uint32]bool{}
		for i := 0; i < 3; i++ {
			ids[p.expect(http2.FrameHeaders).StreamID] = true
		}
		if !ids[1] || !ids[3] || !ids[5] {
			t.Fatalf("streams %v, want 1, 3, 5", ids)
		}
		p.must(p.fr.WriteGoAway(3, http2.ErrCodeNo, []byte("bye")))
		var byID = map[uint32]*rt{}
		var below []*rt
		for _, r := range rts {
			if r.finished() {
				byID[r.id] = r
			} else {
				below = append(below, r)
			}
		}
		above := byID[5]
		if above == nil || len(byID) != 1 {
			t.Fatalf("after GOAWAY(3) finished: %v, want only stream 5", byID)
		}
		var ce *ConnError
		if !errors.Is(above.err, ErrUnprocessed) || !errors.As(above.err, &ce) || ce.LastStreamID != 3 || !ce.Remote {
			t.Errorf("stream 5: %v, want ErrUnprocessed with the GOAWAY", above.err)
		}
		st := p.c.State()
		if !st.Draining || st.Closed || st.Active != 2 {
			t.Errorf("State = %+v, want draining, open, 2 active", st)
		}
		if p.c.Reserve() {
			t.Error("Reserve succeeded after GOAWAY")
		}
		if _, _, err := p.c.RoundTrip(get("/7")); !errors.Is(err, ErrUnprocessed) {
			t.Errorf("new RoundTrip after GOAWAY: %v, want ErrUnprocessed", err)
		}
		// Streams at or below the last ID complete; then the connection closes.
		for _, id := range []uint32{1, 3} {
			p.headers(id, false, ":status", "200")
			p.data(id, true, []byte("ok"))
		}
		for _, r := range below {
			if r.wait(); r.err != nil {
				t.Fatalf("stream below last ID: %v", r.err)
			}
			if b, err := io.ReadAll(r.res.Body); err != nil || string(b) != "ok" {
				t.Errorf("stream %d body %q, %v", r.id, b, err)
			}
		}
		<-p.c.Done()
		if !errors.As(p.c.Err(), &ce) || ce.Code != http2.ErrCodeNo {
			t.Errorf("Err = %v, want the peer's GOAWAY", p.c.Err())
		}
	})
}

func TestStreamFlowControlError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{StreamWindow: 16 << 10})
		r := p.start(get("/"))
		f := p.expect(http2.FrameHeaders)
		p.headers(f.StreamID, false, ":status", "200")
		p.data(f.StreamID, false, make([]byte, 16<<10))
		p.data(f.StreamID, false, []byte{1}) // one byte beyond the window
		rst := p.expect(http2.FrameRSTStream)
		if rst.StreamID != f.StreamID || rst.code != http2.ErrCodeFlowControl {
			t.Errorf("RST_STREAM stream %d code %v, want %d FLOW_CONTROL_ERROR", rst.StreamID, rst.code, f.StreamID)
		}
		r.wait()
		if r.err != nil {
			t.Fatal(r.err)
		}
		_, err := io.ReadAll(r.res.Body)
		var se *StreamError
		if !errors.As(err, &se) || se.Code != http2.ErrCodeFlowControl || se.Remote {
			t.Errorf("body read = %v, want a local FLOW_CONTROL_ERROR StreamError", err)
		}
		if p.c.State().Closed {
			t.Error("a stream error closed the connection")
		}
	})
}

// TestConnFlowControlError: the connection window comes back as DATA
// arrives, but only through the WINDOW_UPDATE frames the writer takes; a
// peer that sends more than was granted breaks the connection.
func TestConnFlowControlError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{StreamWindow: 48 << 10, ConnWindow: 65535})
		r1, r3 := p.start(get("/1")), p.start(get("/3"))
		p.expect(http2.FrameHeaders)
		p.expect(http2.FrameHeaders)
		p.headers(1, false, ":status", "200")
		p.headers(3, false, ":status", "200")
		// Keep the writer from taking any credit: the peer stops reading
		// after one PING, and the writer blocks writing the second.
		p.pause()
		go p.c.Ping(context.Background())
		synctest.Wait()
		go p.c.Ping(context.Background())
		synctest.Wait()
		p.data(1, false, make([]byte, 40000))
		p.data(3, false, make([]byte, 30000)) // 70000 > 65535 granted
		synctest.Wait()
		p.resume()
		ga := p.expectSkipping(http2.FrameGoAway, http2.FramePing, http2.FrameWindowUpdate)
		if ga.code != http2.ErrCodeFlowControl {
			t.Errorf("GOAWAY code %v, want FLOW_CONTROL_ERROR", ga.code)
		}
		<-p.c.Done()
		for _, r := range []*rt{r1, r3} {
			r.wait()
			if r.err != nil {
				t.Fatalf("stream %d: %v", r.id, r.err)
			}
			_, err := io.ReadAll(r.res.Body)
			var ce *ConnError
			if !errors.As(err, &ce) || ce.Code != http2.ErrCodeFlowControl {
				t.Errorf("stream %d body = %v, want the FLOW_CONTROL_ERROR ConnError", r.id, err)
			}
		}
	})
}

// TestStalledReaderStallsOnlyItsStream: two bodies nobody reads fill their
// stream windows and, together, the whole connection window. A third
// stream's large response must still flow: the connection window comes
// back as DATA arrives, not as bodies are read (DESIGN.md: a slow client
// stalls only its own stream).
func TestStalledReaderStallsOnlyItsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			streamWin = 32 << 10
			connWin   = 64 << 10
			n         = 1 << 20
		)
		p := newPeer(t, Config{StreamWindow: streamWin, ConnWindow: connWin})
		open := func(path string) (*rt, uint32) {
			t.Helper()
			r := p.start(get(path))
			f := p.expect(http2.FrameHeaders)
			p.headers(f.StreamID, false, ":status", "200")
			if r.wait(); r.err != nil {
				t.Fatal(r.err)
			}
			return r, f.StreamID
		}
		_, a1 := open("/a1")
		_, a2 := open("/a2")
		rb, b := open("/b")
		p.data(a1, false, make([]byte, streamWin))
		p.data(a2, false, make([]byte, streamWin))

		got := make(chan int64, 1)
		go func() {
			k, _ := io.Copy(io.Discard, rb.res.Body)
			got <- k
		}()
		conn, stream := connWin-2*streamWin, streamWin
		chunk := make([]byte, 16<<10)
		for sent := 0; sent < n; {
			if conn == 0 || stream == 0 {
				for _, f := range p.queued() {
					switch {
					case f.Type != http2.FrameWindowUpdate:
						t.Fatalf("unexpected %v frame on stream %d", f.Type, f.StreamID)
					case f.StreamID == 0:
						conn += int(f.inc)
						if f.inc < connWin/2 {
							t.Errorf("connection WINDOW_UPDATE of %d, below half a window", f.inc)
						}
					case f.StreamID == b:
						stream += int(f.inc)
					default:
						t.Errorf("WINDOW_UPDATE for stream %d, whose body nobody reads", f.StreamID)
					}
				}
				if conn == 0 || stream == 0 {
					t.Fatalf("stream %d stalled after %d of %d bytes: connection window %d, stream window %d",
						b, sent, n, conn, stream)
				}
			}
			k := min(n-sent, len(chunk), conn, stream)
			p.data(b, sent+k == n, chunk[:k])
			sent, conn, stream = sent+k, conn-k, stream-k
		}
		if k := <-got; k != n {
			t.Errorf("read %d bytes of stream %d, want %d", k, b, n)
		}
		if st := p.c.State(); st.Active != 2 {
			t.Errorf("Active = %d, want the 2 stalled streams", st.Active)
		}
	})
}

// sendWithinWindows plays a server that honours our windows: it sends n
// bytes on stream id in 16 KiB frames, waiting for WINDOW_UPDATE frames
// when a window is empty. It returns the WINDOW_UPDATE frames received.
func (p *peer) sendWithinWindows(id uint32, n, streamWin, connWin int) []*frame {
	var updates []*frame
	chunk := make([]byte, 16<<10)
	for n > 0 {
		for streamWin == 0 || connWin == 0 {
			f := p.next()
			if f.Type != http2.FrameWindowUpdate {
				p.t.Fatalf("got %v while waiting for WINDOW_UPDATE", f.Type)
			}
			updates = append(updates, f)
			if f.StreamID == 0 {
				connWin += int(f.inc)
			} else if f.StreamID == id {
				streamWin += int(f.inc)
			}
		}
		k := min(n, len(chunk), streamWin, connWin)
		p.must(p.fr.WriteData(id, k == n, chunk[:k]))
		n, streamWin, connWin = n-k, streamWin-k, connWin-k
	}
	return updates
}

func TestWindowUpdatesCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			streamWin = 64 << 10
			connWin   = 128 << 10
			n         = 1 << 20
		)
		p := newPeer(t, Config{StreamWindow: streamWin, ConnWindow: connWin})
		r := p.start(get("/big"))
		f := p.expect(http2.FrameHeaders)
		p.headers(f.StreamID, false, ":status", "200")
		sent := make(chan []*frame)
		go func() { sent <- p.sendWithinWindows(f.StreamID, n, streamWin, connWin) }()
		r.wait()
		// Small reads, each followed by a pause in which the writer may send
		// whatever credit is due: only the half-window rule can keep the
		// updates few.
		buf := make([]byte, 1000)
		total := 0
		for {
			k, err := r.res.Body.Read(buf)
			total += k
			if err != nil {
				break
			}
			synctest.Wait()
		}
		if total != n {
			t.Fatalf("read %d bytes, want %d", total, n)
		}
		updates := <-sent
		updates = append(updates, p.queued()...)
		var streamUpdates, connUpdates int
		for _, u := range updates {
			switch {
			case u.Type != http2.FrameWindowUpdate:
				t.Errorf("unexpected %v frame", u.Type)
			case u.StreamID == 0:
				connUpdates++
			default:
				streamUpdates++
				if u.inc < streamWin/2 {
					t.Errorf("stream WINDOW_UPDATE of %d, below half a window", u.inc)
				}
			}
		}
		limit := 2 * n / (streamWin / 2)
		if total := streamUpdates + connUpdates; total > limit || streamUpdates == 0 || connUpdates == 0 {
			t.Errorf("%d stream + %d connection WINDOW_UPDATE frames for %d bytes, want 1..%d in all",
				streamUpdates, connUpdates, n, limit)
		}
		t.Logf("%d stream + %d connection WINDOW_UPDATE frames for 1 MiB", streamUpdates, connUpdates)
	})
}

func TestRequestBodyFlowControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
		body := bytes.Repeat([]byte("abcdefghij"), 7000) // 70000 bytes: beyond the connection's 65535 too
		req, _ := http.NewRequest("POST", "http://example.com/up", bytes.NewReader(body))
		r := p.start(req)
		h := p.expect(http2.FrameHeaders)
		if h.endStream || h.field("content-length") != "70000" {
			t.Errorf("HEADERS endStream %v content-length %q, want false, 70000", h.endStream, h.field("content-length"))
		}
		var got []byte
		take := func(want int) {
			t.Helper()
			n := 0
			for _, f := range p.queued() {
				if f.Type != http2.FrameData || f.StreamID != h.StreamID {
					t.Fatalf("got %v on stream %d, want DATA", f.Type, f.StreamID)
				}
				n += len(f.data)
				got = append(got, f.data...)
			}
			if n != want {
				t.Fatalf("client sent %d bytes, want %d (the window)", n, want)
			}
		}
		take(100) // the stream window
		p.must(p.fr.WriteWindowUpdate(h.StreamID, 400))
		take(400)
		// RFC 9113 6.9.2: a new INITIAL_WINDOW_SIZE moves open streams' windows. The ACK and the
		// DATA the grown window lets out come in either order: the reader acks the SETTINGS as the
		// body's sender wakes (once, in a CI run, the DATA came first).
		p.must(p.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 300}))
		acked, n := false, 0
		for _, f := range p.queued() {
			switch {
			case f.Type == http2.FrameSettings && f.Flags.Has(http2.FlagSettingsAck):
				acked = true
			case f.Type == http2.FrameData && f.StreamID == h.StreamID:
				n += len(f.data)
				got = append(got, f.data...)
			default:
				t.Fatalf("got %v on stream %d, want the SETTINGS ACK and DATA", f.Type, f.StreamID)
			}
		}
		if !acked || n != 200 {
			t.Fatalf("after the new INITIAL_WINDOW_SIZE: ACK %v and %d bytes, want the ACK and 200 (the window's growth)", acked, n)
		}
		p.must(p.fr.WriteWindowUpdate(h.StreamID, 1<<20))
		take(65535 - 700) // now the connection window binds
		p.must(p.fr.WriteWindowUpdate(0, 1<<20))
		fs := p.queued()
		last := fs[len(fs)-1]
		for _, f := range fs {
			got = append(got, f.data...)
		}
		if !last.endStream || !bytes.Equal(got, body) {
			t.Fatalf("body: got %d bytes (equal %v), END_STREAM %v", len(got), bytes.Equal(got, body), last.endStream)
		}
		if r.finished() {
			t.Fatal("RoundTrip returned before the response")
		}
		p.headers(h.StreamID, true, ":status", "201")
		if r.wait(); r.err != nil || r.res.StatusCode != 201 {
			t.Fatalf("RoundTrip = %v, %v", r.res, r.err)
		}
	})
}

func TestBodyCloseEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{StreamWindow: 64 << 10, ConnWindow: 80000})
		r := p.start(get("/"))
		f := p.expect(http2.FrameHeaders)
		p.headers(f.StreamID, false, ":status", "200")
		p.data(f.StreamID, false, make([]byte, 40000)) // half the connection window
		r.wait()
		// The connection has the bytes back once they are buffered; the
		// stream would have them only as they are read.
		fs := p.queued()
		if len(fs) != 1 || fs[0].Type != http2.FrameWindowUpdate || fs[0].StreamID != 0 || fs[0].inc != 40000 {
			t.Fatalf("client sent %+v before the body was read, want one WINDOW_UPDATE of 40000 on the connection", fs)
		}
		r.res.Body.Close()
		fs = p.queued()
		if len(fs) != 1 || fs[0].Type != http2.FrameRSTStream || fs[0].StreamID != f.StreamID || fs[0].code != http2.ErrCodeCancel {
			t.Errorf("client sent %+v at Body.Close, want only RST_STREAM CANCEL on stream %d", fs, f.StreamID)
		}
		if st := p.c.State(); st.Active != 0 {
			t.Errorf("Active = %d after Body.Close, want 0", st.Active)
		}
		if _, err := r.res.Body.Read(make([]byte, 10)); !errors.Is(err, errBodyClosed) {
			t.Errorf("Read after Close = %v, want %v", err, errBodyClosed)
		}
		// DATA already in flight for the reset stream is dropped, and still
		// counted against (and credited to) the connection window.
		p.data(f.StreamID, false, make([]byte, 40000))
		fs = p.queued()
		if len(fs) != 1 || fs[0].Type != http2.FrameWindowUpdate || fs[0].StreamID != 0 || fs[0].inc != 40000 {
			t.Errorf("client answered DATA on a reset stream with %+v, want one WINDOW_UPDATE of 40000 on the connection", fs)
		}
	})
}

func TestContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		r := p.start(get("/").WithContext(ctx))
		f := p.expect(http2.FrameHeaders)
		cancel()
		r.wait()
		if !errors.Is(r.err, context.Canceled) || r.id != f.StreamID {
			t.Errorf("RoundTrip = %v (stream %d), want context.Canceled on stream %d", r.err, r.id, f.StreamID)
		}
		if rst := p.expect(http2.FrameRSTStream); rst.StreamID != f.StreamID || rst.code != http2.ErrCodeCancel {
			t.Errorf("RST_STREAM stream %d code %v, want %d CANCEL", rst.StreamID, rst.code, f.StreamID)
		}

		// Canceled while the body streams.
		ctx, cancel = context.WithCancel(context.Background())
		r = p.start(get("/").WithContext(ctx))
		f = p.expect(http2.FrameHeaders)
		p.headers(f.StreamID, false, ":status", "200")
		p.data(f.StreamID, false, []byte("partial"))
		r.wait()
		cancel()
		if _, err := io.ReadAll(r.res.Body); !errors.Is(err, context.Canceled) {
			t.Errorf("body read = %v, want context.Canceled", err)
		}
		if rst := p.expect(http2.FrameRSTStream); rst.StreamID != f.StreamID || rst.code != http2.ErrCodeCancel {
			t.Errorf("RST_STREAM stream %d code %v, want %d CANCEL", rst.StreamID, rst.code, f.StreamID)
		}

		// Canceled before the request is sent: nothing goes out.
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		if _, _, err := p.c.RoundTrip(get("/").WithContext(ctx)); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnprocessed) {
			t.Errorf("RoundTrip with a done context = %v, want context.Canceled, not ErrUnprocessed", err)
		}
		if fs := p.queued(); len(fs) != 0 {
			t.Errorf("client sent %v for a request canceled before it started", fs[0].Type)
		}
	})
}

// TestResponseTimeout: a stream whose response head is overdue is reset and fails with
// ErrResponseTimeout, no sooner than ResponseTimeout and within a tick of it here (the deadline
// runs from the watch's first tick, which comes a tick after this stream opened); one whose
// head came in time keeps its body however long it streams.
func TestResponseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 2 * time.Second
		p := newPeer(t, Config{ResponseTimeout: timeout})
		start := time.Now()
		r := p.start(get("/"))
		f := p.expect(http2.FrameHeaders)
		r.wait()
		if !errors.Is(r.err, ErrResponseTimeout) || errors.Is(r.err, ErrUnprocessed) {
			t.Errorf("RoundTrip = %v, want ErrResponseTimeout, not ErrUnprocessed", r.err)
		}
		if took := time.Since(start); took < timeout || took > timeout+watchTick {
			t.Errorf("timed out after %v, want %v to %v", took, timeout, timeout+watchTick)
		}
		if rst := p.expect(http2.FrameRSTStream); rst.StreamID != f.StreamID || rst.code != http2.ErrCodeCancel {
			t.Errorf("RST_STREAM stream %d code %v, want %d CANCEL", rst.StreamID, rst.code, f.StreamID)
		}

		r = p.start(get("/"))
		f = p.expect(http2.FrameHeaders)
		p.headers(f.StreamID, false, ":status", "200")
		r.wait()
		time.Sleep(2 * timeout)
		p.data(f.StreamID, true, []byte("late"))
		if b, err := io.ReadAll(r.res.Body); err != nil || string(b) != "late" {
			t.Errorf("body after a timely head = %q, %v; want \"late\"", b, err)
		}
	})
}

func TestPeerPingAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		p.must(p.fr.WritePing(false, data))
		f := p.expect(http2.FramePing)
		if !f.Flags.Has(http2.FlagPingAck) || f.ping != data {
			t.Errorf("got PING flags %v data %v, want ACK with %v", f.Flags, f.ping, data)
		}
	})
}

func TestPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		errc := make(chan error, 1)
		go func() { errc <- p.c.Ping(context.Background()) }()
		f := p.expect(http2.FramePing)
		if f.Flags.Has(http2.FlagPingAck) {
			t.Fatal("client sent a PING ACK, want a PING")
		}
		p.must(p.fr.WritePing(true, f.ping))
		if err := <-errc; err != nil {
			t.Errorf("Ping = %v", err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("unanswered Ping = %v, want DeadlineExceeded", err)
		}
	})
}

func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{PingInterval: 10 * time.Second, PingTimeout: 5 * time.Second}
		p := newPeer(t, cfg)
		start := time.Now()
		// An answering peer keeps the connection open.
		for i := 0; i < 3; i++ {
			f := p.expect(http2.FramePing)
			if d := time.Since(start); d != time.Duration(i+1)*10*time.Second {
				t.Errorf("PING %d after %v, want %v", i, d, time.Duration(i+1)*10*time.Second)
			}
			p.must(p.fr.WritePing(true, f.ping))
		}
		// One that goes silent loses it PingTimeout after the PING.
		p.expect(http2.FramePing)
		sent := time.Now()
		<-p.c.Done()
		if d := time.Since(sent); d != 5*time.Second {
			t.Errorf("closed %v after the unanswered PING, want 5s", d)
		}
		if err := p.c.Err(); !errors.Is(err, errPingTimeout) {
			t.Errorf("Err = %v, want %v", err, errPingTimeout)
		}
	})
}

// TestKeepAliveBusy: with a stream open, a silent peer is PINGed after BusyPingAfter rather than
// PingInterval, and the connection closes, failing the stream, when such a PING goes unanswered;
// with none open, the keep-alive waits PingInterval.
func TestKeepAliveBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{PingInterval: 30 * time.Second, PingTimeout: 5 * time.Second, BusyPingAfter: 2 * time.Second}
		p := newPeer(t, cfg)
		start := time.Now()
		f := p.expect(http2.FramePing)
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("idle: PING after %v, want 30s", d)
		}
		p.must(p.fr.WritePing(true, f.ping))
		synctest.Wait() // the answer is read
		answered := time.Now()
		r := p.start(get("/"))
		p.expect(http2.FrameHeaders)
		f = p.expect(http2.FramePing)
		if d := time.Since(answered); d != 2*time.Second {
			t.Errorf("a stream open: PING %v after the peer's last frame, want 2s", d)
		}
		p.must(p.fr.WritePing(true, f.ping))
		synctest.Wait()
		answered = time.Now()
		p.expect(http2.FramePing)
		if d := time.Since(answered); d != 2*time.Second {
			t.Errorf("the next PING %v after the answer, want 2s", d)
		}
		sent := time.Now()
		<-r.done
		if d := time.Since(sent); d != 5*time.Second || !errors.Is(r.err, errPingTimeout) {
			t.Errorf("unanswered: the request failed with %v after %v, want %v after 5s", r.err, d, errPingTimeout)
		}
	})
}

func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		r := p.start(get("/"))
		f := p.expect(http2.FrameHeaders)
		if !p.c.Reserve() {
			t.Fatal("Reserve failed")
		}
		done := make(chan error, 1)
		go func() { done <- p.c.Shutdown(context.Background()) }()
		if ga := p.expect(http2.FrameGoAway); ga.code != http2.ErrCodeNo || ga.last != 0 {
			t.Errorf("GOAWAY code %v last %d, want NO_ERROR 0", ga.code, ga.last)
		}
		if p.c.Reserve() || !p.c.State().Draining {
			t.Error("Reserve succeeded or not draining during Shutdown")
		}
		// The reservation made before Shutdown may still be used.
		r2 := &rt{done: make(chan struct{})}
		go func() {
			defer close(r2.done)
			r2.res, r2.id, r2.err = p.c.RoundTripReserved(get("/2"))
		}()
		f2 := p.expect(http2.FrameHeaders)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v with streams open", err)
		default:
		}
		p.headers(f.StreamID, true, ":status", "200")
		p.headers(f2.StreamID, true, ":status", "200")
		if err := <-done; err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if r.wait(); r.err != nil {
			t.Error(r.err)
		}
		if r2.wait(); r2.err != nil {
			t.Error(r2.err)
		}
		if st := p.c.State(); !st.Closed {
			t.Errorf("State = %+v after Shutdown, want closed", st)
		}
	})
}

func TestShutdownTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		r := p.start(get("/"))
		p.expect(http2.FrameHeaders)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
		}
		if p.c.State().Closed {
			t.Error("Shutdown closed the connection although its context ended first")
		}
		p.c.Close()
		r.wait()
		if !errors.Is(r.err, ErrClosed) || errors.Is(r.err, ErrUnprocessed) {
			t.Errorf("RoundTrip after Close = %v, want ErrClosed (sent, so not ErrUnprocessed)", r.err)
		}
	})
}

// TestUnprocessedOnWriteFailure: streams whose HEADERS never reached a
// Write are unprocessed when the connection breaks; those the peer read
// are not. A write cut with nothing written (/3's) makes its streams
// unprocessed when the writer tells of the break, and leaves them possibly
// processed when the reader's EOF does first (see writeFailed).
func TestUnprocessedOnWriteFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		p.pause()
		r1 := p.start(get("/1")) // the peer reads this one, then stops reading
		synctest.Wait()
		r3 := p.start(get("/3")) // the writer blocks writing this one, and fails with nothing written
		synctest.Wait()
		r5 := p.start(get("/5")) // this one waits in the buffer
		synctest.Wait()
		p.nc.Close()
		for _, r := range []*rt{r1, r3, r5} {
			r.wait()
			if r.err == nil {
				t.Fatalf("stream %d succeeded", r.id)
			}
			if got, want := errors.Is(r.err, ErrUnprocessed), r.id == 5; got != want && r.id != 3 {
				t.Errorf("stream %d: %v; unprocessed %v, want %v", r.id, r.err, got, want)
			}
		}
	})
}

func TestResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		roundTrip := func(req *http.Request, respond func(id uint32)) *rt {
			t.Helper()
			r := p.start(req)
			f := p.expect(http2.FrameHeaders)
			respond(f.StreamID)
			return r.wait()
		}

		// 1xx responses go to httptrace and are otherwise skipped.
		var got1xx []int
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got1xx = append(got1xx, code)
			if h.Get("Link") == "" {
				t.Error("1xx header Link missing")
			}
			return nil
		}}
		req := get("/").WithContext(httptrace.WithClientTrace(context.Background(), trace))
		r := roundTrip(req, func(id uint32) {
			p.headers(id, false, ":status", "103", "link", "</a>")
			p.headers(id, false, ":status", "103", "link", "</b>")
			p.headers(id, false, ":status", "200", "trailer", "x-t", "content-length", "2",
				"x-multi", "a", "x-multi", "b", "custom-name", "v")
			p.data(id, false, []byte("hi"))
			p.headers(id, true, "x-t", "tv")
		})
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(got1xx) != 2 {
			t.Errorf("Got1xxResponse calls %v, want two 103", got1xx)
		}
		res := r.res
		if res.ContentLength != 2 || len(res.Header["X-Multi"]) != 2 ||
			res.Header.Get("Custom-Name") != "v" {
			t.Errorf("head: ContentLength %d, Header %v", res.ContentLength, res.Header)
		}
		if _, ok := res.Trailer["X-T"]; !ok || res.Trailer.Get("X-T") != "" {
			t.Errorf("Trailer before EOF = %v, want declared X-T without value", res.Trailer)
		}
		if b, err := io.ReadAll(res.Body); err != nil || string(b) != "hi" {
			t.Errorf("body %q, %v", b, err)
		}
		if res.Trailer.Get("X-T") != "tv" {
			t.Errorf("Trailer after EOF = %v, want X-T: tv", res.Trailer)
		}

		// HEAD: content-length describes the resource; the body is empty.
		req, _ = http.NewRequest("HEAD", "http://example.com/", nil)
		r = roundTrip(req, func(id uint32) {
			p.headers(id, true, ":status", "200", "content-length", "1234")
		})
		if r.err != nil || r.res.ContentLength != 1234 || r.res.Body != http.NoBody {
			t.Errorf("HEAD: %v, ContentLength %d, Body %T", r.err, r.res.ContentLength, r.res.Body)
		}

		// Fewer DATA bytes than content-length: malformed (RFC 9113 8.1.1).
		r = roundTrip(get("/"), func(id uint32) {
			p.headers(id, false, ":status", "200", "content-length", "10")
			p.data(id, true, []byte("short"))
		})
		if _, err := io.ReadAll(r.res.Body); err == nil {
			t.Error("short body read without error")
		}
		if rst := p.expect(http2.FrameRSTStream); rst.code != http2.ErrCodeProtocol {
			t.Errorf("RST code %v, want PROTOCOL_ERROR", rst.code)
		}

		// An upper-case field name is malformed.
		r = roundTrip(get("/"), func(id uint32) {
			p.headers(id, true, ":status", "200", "X-Upper", "v")
		})
		var se *StreamError
		if !errors.As(r.err, &se) || se.Code != http2.ErrCodeProtocol {
			t.Errorf("upper-case field: %v, want PROTOCOL_ERROR", r.err)
		}
		if rst := p.expect(http2.FrameRSTStream); rst.code != http2.ErrCodeProtocol {
			t.Errorf("RST code %v, want PROTOCOL_ERROR", rst.code)
		}

		// A head beyond MaxHeaderListSize fails the stream, not the conn.
		r = roundTrip(get("/"), func(id uint32) {
			p.headers(id, true, ":status", "200", "x-huge", strings.Repeat("h", 40<<10), "x-huge2", strings.Repeat("h", 30<<10))
		})
		if !errors.Is(r.err, errResHeaderListSize) {
			t.Errorf("huge head: %v, want %v", r.err, errResHeaderListSize)
		}
		p.expect(http2.FrameRSTStream)

		// So does a head whose block is several times the list, with a field longer than the
		// list may hold ('~' has no shorter Huffman code, so the block is as long as the values).
		r = roundTrip(get("/"), func(id uint32) {
			p.headers(id, true, ":status", "200", "x-long", strings.Repeat("~", 100<<10), "x-more", strings.Repeat("~", 150<<10))
		})
		if !errors.Is(r.err, errResHeaderListSize) {
			t.Errorf("head of a 250 KiB block: %v, want %v", r.err, errResHeaderListSize)
		}
		p.expect(http2.FrameRSTStream)

		// The connection survived all of it.
		r = roundTrip(get("/"), func(id uint32) { p.headers(id, true, ":status", "204") })
		if r.err != nil || r.res.StatusCode != 204 || r.res.Status != "204 No Content" || r.res.ContentLength != 0 {
			t.Errorf("204: %v %+v", r.err, r.res)
		}
	})
}

// TestProtocolErrors: a peer that breaks the connection's rules gets a
// GOAWAY with the right code, and every open request returns.
func TestProtocolErrors(t *testing.T) {
	cases := []struct {
		name string
		send func(p *peer, id uint32)
		code http2.ErrCode
	}{
		{"DATA on idle stream", func(p *peer, id uint32) { p.data(id+2, false, []byte("x")) }, http2.ErrCodeProtocol},
		{"HEADERS on even stream", func(p *peer, id uint32) { p.headers(2, true, ":status", "200") }, http2.ErrCodeProtocol},
		{"PUSH_PROMISE", func(p *peer, id uint32) {
			p.must(p.fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, BlockFragment: []byte{0x82}, EndHeaders: true}))
		}, http2.ErrCodeProtocol},
		{"bad hpack", func(p *peer, id uint32) {
			p.must(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}, EndHeaders: true}))
		}, http2.ErrCodeCompression},
		{"header block past maxBlock", func(p *peer, id uint32) {
			// 16 times the 64 KiB list and then some, in frames of 16 KiB. The writes past the
			// point where the connection fails may fail: their errors do not matter.
			p.ebuf.Reset()
			p.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			for range 17 {
				p.enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("~", 64<<10)})
			}
			block := p.ebuf.Bytes()
			p.must(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:16<<10]}))
			for block = block[16<<10:]; len(block) > 0; block = block[min(len(block), 16<<10):] {
				if p.fr.WriteContinuation(id, len(block) <= 16<<10, block[:min(len(block), 16<<10)]) != nil {
					return
				}
			}
		}, http2.ErrCodeEnhanceYourCalm},
		{"connection window overflow", func(p *peer, id uint32) { p.must(p.fr.WriteWindowUpdate(0, 1<<31-1)) }, http2.ErrCodeFlowControl},
		{"settings ENABLE_PUSH 1", func(p *peer, id uint32) {
			p.must(p.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 1}))
		}, http2.ErrCodeProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPeer(t, Config{})
				r := p.start(get("/"))
				f := p.expect(http2.FrameHeaders)
				tc.send(p, f.StreamID)
				ga := p.expectSkipping(http2.FrameGoAway, http2.FrameSettings)
				if ga.code != tc.code {
					t.Errorf("GOAWAY code %v, want %v", ga.code, tc.code)
				}
				r.wait()
				var ce *ConnError
				if !errors.As(r.err, &ce) || ce.Code != tc.code {
					t.Errorf("RoundTrip = %v, want ConnError %v", r.err, tc.code)
				}
				<-p.c.Done()
			})
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestRequestBodyErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})

		// Shorter than its ContentLength.
		req, _ := http.NewRequest("POST", "http://example.com/", strings.NewReader("abc"))
		req.ContentLength = 10
		r := p.start(req)
		h := p.expect(http2.FrameHeaders)
		if got := h.field("content-length"); got != "10" {
			t.Errorf("content-length %q, want 10", got)
		}
		p.expectSkipping(http2.FrameRSTStream, http2.FrameData)
		if r.wait(); !errors.Is(r.err, errReqBodyShort) {
			t.Errorf("RoundTrip = %v, want %v", r.err, errReqBodyShort)
		}

		// A body whose Read fails.
		boom := errors.New("boom")
		req, _ = http.NewRequest("PUT", "http://example.com/", io.NopCloser(errReader{boom}))
		r = p.start(req)
		if h := p.expect(http2.FrameHeaders); h.field("content-length") != "" || h.endStream {
			t.Errorf("unknown-length body: content-length %q, END_STREAM %v", h.field("content-length"), h.endStream)
		}
		if rst := p.expect(http2.FrameRSTStream); rst.code != http2.ErrCodeCancel {
			t.Errorf("RST code %v, want CANCEL", rst.code)
		}
		if r.wait(); !errors.Is(r.err, boom) || !strings.HasPrefix(r.err.Error(), "h2conn: request body: ") {
			t.Errorf("RoundTrip = %v, want the body's error wrapped", r.err)
		}

		// A known length ends with its last DATA frame, then trailers.
		req, _ = http.NewRequest("POST", "http://example.com/", strings.NewReader("hello"))
		req.Trailer = http.Header{"X-Sum": {"5"}}
		r = p.start(req)
		h = p.expect(http2.FrameHeaders)
		if h.field("trailer") != "x-sum" {
			t.Errorf("trailer field %q, want x-sum", h.field("trailer"))
		}
		if d := p.expect(http2.FrameData); string(d.data) != "hello" || d.endStream {
			t.Errorf("DATA %q END_STREAM %v, want hello without END_STREAM", d.data, d.endStream)
		}
		if tr := p.expect(http2.FrameHeaders); !tr.endStream || tr.field("x-sum") != "5" {
			t.Errorf("trailers %v END_STREAM %v", tr.fields, tr.endStream)
		}
		p.headers(h.StreamID, true, ":status", "200")
		if r.wait(); r.err != nil {
			t.Error(r.err)
		}
	})
}

// TestEarlyResponse: a complete response before the request body is sent
// stops the upload with RST_STREAM(CANCEL) and keeps the response.
func TestEarlyResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", "http://example.com/", pr)
		r := p.start(req)
		h := p.expect(http2.FrameHeaders)
		go pw.Write([]byte("0123456789abcdef")) // more than the window
		p.expect(http2.FrameData)
		p.headers(h.StreamID, false, ":status", "413")
		p.data(h.StreamID, true, []byte("too large"))
		if rst := p.expect(http2.FrameRSTStream); rst.code != http2.ErrCodeCancel {
			t.Errorf("RST code %v, want CANCEL", rst.code)
		}
		r.wait()
		if r.err != nil || r.res.StatusCode != 413 {
			t.Fatalf("RoundTrip = %v, %v", r.res, r.err)
		}
		if b, err := io.ReadAll(r.res.Body); err != nil || string(b) != "too large" {
			t.Errorf("body %q, %v", b, err)
		}
		// The request body was closed, so its writer is released.
		if _, err := pw.Write([]byte("more")); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("writing the request body after the response: %v, want ErrClosedPipe", err)
		}
	})
}

// TestHeaderTableSize: after the peer shrinks HEADER_TABLE_SIZE to 0, our
// next header block starts with a table size update to 0 and refers to
// no entry of the old dynamic table (RFC 7541 4.2, 6.3).
func TestHeaderTableSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		req := func() *http.Request {
			r := get("/same")
			r.Header.Set("X-Repeated", "a value worth indexing")
			return r
		}
		p.start(req())
		p.expect(http2.FrameHeaders)
		p.must(p.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0}))
		p.expect(http2.FrameSettings) // ACK
		p.start(req())
		f := p.expect(http2.FrameHeaders)
		if len(f.block) == 0 || f.block[0] != 0x20 {
			t.Fatalf("block starts %x, want a dynamic table size update to 0 (20)", f.block)
		}
		fields, err := hpack.NewDecoder(4096, nil).DecodeFull(f.block)
		if err != nil {
			t.Fatalf("block does not decode on its own: %v", err)
		}
		if len(fields) != len(f.fields) {
			t.Errorf("decoded %d fields, want %d", len(fields), len(f.fields))
		}
	})
}
