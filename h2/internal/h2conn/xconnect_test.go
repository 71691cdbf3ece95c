package h2conn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"

	"muxgate/internal/fieldlist"
	"muxgate/internal/godebugtest"
	"muxgate/internal/sendbuf"
	"muxgate/internal/tunneltest"
)

// enableConnect is the SETTINGS parameter of a peer that takes extended
// CONNECT (RFC 8441 3).
var enableConnect = http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1}

// tunnelRequest is an extended CONNECT for protocol to target, by the
// sessions' convention: Proto carries the protocol, and the body, of unknown
// length, is body.
func tunnelRequest(protocol, target string, body io.ReadCloser) *http.Request {
	req, err := tunneltest.Request(context.Background(), protocol, target, body)
	if err != nil {
		panic(err)
	}
	return req
}

// pseudoFields returns the names and values of f's pseudo-header fields, in
// their order, as "name: value".
func pseudoFields(f *frame) []string {
	var got []string
	for _, hf := range f.fields {
		if hf.Name[0] == ':' {
			got = append(got, hf.Name+": "+hf.Value)
		}
	}
	return got
}

// TestExtendedConnectHeaders: an extended CONNECT's HEADERS carry
// :protocol, :scheme and :path (RFC 8441 4), pseudo-fields first, and
// neither content-length nor END_STREAM, whether its fields come as a
// Header or as a list; a CONNECT whose Proto is an HTTP version stays a
// plain one (RFC 9113 8.5).
func TestExtendedConnectHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, enableConnect)

		pr, pw := io.Pipe()
		defer pw.Close()
		req := tunnelRequest("websocket", "https://example.com/chat?room=1", pr)
		req.Header.Set("Sec-Websocket-Version", "13")
		p.start(req)
		h := p.expect(http2.FrameHeaders)
		want := []string{":method: CONNECT", ":protocol: websocket", ":scheme: https", ":path: /chat?room=1", ":authority: example.com"}
		if got := pseudoFields(h); !slices.Equal(got, want) || h.fields[len(want)-1].Name != ":authority" {
			t.Errorf("pseudo-fields %q, want %q before the others", got, want)
		}
		if h.field("sec-websocket-version") != "13" || h.field("content-length") != "" || h.endStream {
			t.Errorf("sec-websocket-version %q, content-length %q, END_STREAM %v; want 13, none, false",
				h.field("sec-websocket-version"), h.field("content-length"), h.endStream)
		}

		// A path that starts with "//", which net/url keeps in Opaque, and fields as a list.
		pr2, pw2 := io.Pipe()
		defer pw2.Close()
		req = tunnelRequest("websocket", "http://example.com/", pr2)
		req.URL = &url.URL{Scheme: "http", Host: "example.com", Opaque: "//example.com//ws"}
		req.Header = nil
		go func() {
			if p.c.Reserve() {
				p.c.StartReservedWith(req, StartOptions{Fields: []fieldlist.Field{{Name: "Origin", Value: "http://example.com"}}})
			}
		}()
		h = p.expect(http2.FrameHeaders)
		want = []string{":method: CONNECT", ":protocol: websocket", ":scheme: http", ":path: //ws", ":authority: example.com"}
		if got := pseudoFields(h); !slices.Equal(got, want) || h.field("origin") != "http://example.com" {
			t.Errorf("from a list: pseudo-fields %q, origin %q; want %q, http://example.com", got, h.field("origin"), want)
		}

		// Plain CONNECT, whatever HTTP version Proto names.
		for _, proto := range []string{"", "HTTP/1.0", "HTTP/1.1", "HTTP/2.0"} {
			req := tunnelRequest(proto, "http://example.com:443", http.NoBody)
			req.URL = &url.URL{Host: "example.com:443"}
			p.start(req)
			h := p.expect(http2.FrameHeaders)
			want := []string{":method: CONNECT", ":authority: example.com:443"}
			if got := pseudoFields(h); !slices.Equal(got, want) {
				t.Errorf("Proto %q: pseudo-fields %q, want %q", proto, got, want)
			}
		}
	})
}

// TestExtendedConnectTunnel: the request body goes as DATA while the
// response body is read; the peer's END_STREAM after its 200 half-closes
// the tunnel without a reset (RFC 8441 5, RFC 9113 8.5), and the request
// body's EOF then ends our side, closing the stream.
func TestExtendedConnectTunnel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, enableConnect)
		pr, pw := io.Pipe()
		r := p.start(tunnelRequest("websocket", "https://example.com/chat", pr))
		id := p.expect(http2.FrameHeaders).StreamID
		p.headers(id, false, ":status", "200")
		if r.wait(); r.err != nil || r.res.StatusCode != 200 || r.res.ContentLength != -1 {
			t.Fatalf("RoundTrip = %+v, %v; want 200 of unknown length", r.res, r.err)
		}

		go pw.Write([]byte("ping"))
		if d := p.expect(http2.FrameData); string(d.data) != "ping" || d.endStream {
			t.Errorf("DATA %q END_STREAM %v, want ping without END_STREAM", d.data, d.endStream)
		}
		p.data(id, false, []byte("pong"))
		buf := make([]byte, 16)
		if n, err := r.res.Body.Read(buf); err != nil || string(buf[:n]) != "pong" {
			t.Errorf("response body read %q, %v; want pong", buf[:n], err)
		}

		p.data(id, true, nil)
		if n, err := r.res.Body.Read(buf); n != 0 || err != io.EOF {
			t.Errorf("after the peer's END_STREAM: read %d, %v; want EOF", n, err)
		}
		go pw.Write([]byte("bye"))
		if d := p.expect(http2.FrameData); string(d.data) != "bye" || d.endStream {
			t.Errorf("after the peer half-closed: %v frame %q END_STREAM %v, want DATA bye", d.Type, d.data, d.endStream)
		}
		pw.Close()
		if d := p.expect(http2.FrameData); len(d.data) != 0 || !d.endStream {
			t.Errorf("at the request body's EOF: DATA %q END_STREAM %v, want an empty END_STREAM", d.data, d.endStream)
		}
		if fs := p.queued(); len(fs) != 0 || p.c.State().Active != 0 {
			t.Errorf("after both ends: frames %v, %d streams active; want none", fs, p.c.State().Active)
		}
		r.res.Body.Close()
		if fs := p.queued(); len(fs) != 0 {
			t.Errorf("Body.Close of an ended tunnel sent %v frame", fs[0].Type)
		}
	})
}

// TestExtendedConnectWriteTo: a tunnel's response body, of no declared
// length, goes out through WriteTo piece by piece, each flushed before
// WriteTo waits for the next (and the head before the first), while the
// request body still streams.
func TestExtendedConnectWriteTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, enableConnect)
		pr, pw := io.Pipe()
		r := p.start(tunnelRequest("websocket", "https://example.com/chat", pr))
		id := p.expect(http2.FrameHeaders).StreamID
		p.headers(id, false, ":status", "200")
		r.wait()
		var w flushRecorder
		done := make(chan error, 1)
		go func() {
			_, err := writeTo(r.res.Body, &w)
			done <- err
		}()
		synctest.Wait() // WriteTo waits for the first piece
		p.data(id, false, []byte("one"))
		synctest.Wait()
		go pw.Write([]byte("up"))
		if d := p.expect(http2.FrameData); string(d.data) != "up" {
			t.Errorf("request DATA %q while WriteTo waits, want up", d.data)
		}
		p.data(id, false, []byte("two"))
		synctest.Wait()
		if got := strings.Join(w.log, " "); got != "f w3 f w3 f" {
			t.Errorf("tunnel WriteTo: %q, want the head flushed, then each piece written and flushed", got)
		}
		pw.Close()
		p.expect(http2.FrameData) // END_STREAM
		p.data(id, true, nil)
		if err := <-done; err != nil || w.got.String() != "onetwo" {
			t.Errorf("WriteTo = %q, %v; want onetwo", w.got.String(), err)
		}
	})
}

// TestExtendedConnectRejected: a non-2xx answer that ends the stream is no
// tunnel: the request body is cut off with RST_STREAM(CANCEL), as for any
// other early response.
func TestExtendedConnectRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{}, enableConnect)
		pr, pw := io.Pipe()
		defer pw.Close()
		r := p.start(tunnelRequest("websocket", "https://example.com/chat", pr))
		id := p.expect(http2.FrameHeaders).StreamID
		p.headers(id, true, ":status", "404")
		if rst := p.expect(http2.FrameRSTStream); rst.code != http2.ErrCodeCancel {
			t.Errorf("RST code %v, want CANCEL", rst.code)
		}
		if r.wait(); r.err != nil || r.res.StatusCode != 404 {
			t.Errorf("RoundTrip = %v, %v; want 404", r.res, r.err)
		}
	})
}

// TestExtendedConnectNotEnabled: with no SETTINGS_ENABLE_CONNECT_PROTOCOL
// = 1 in the peer's first SETTINGS, an extended CONNECT fails with
// ErrNoExtendedConnect before a stream opens: nothing is sent, the
// reservation is given back and the body closed. A later SETTINGS that
// enables it does not change that (see setConnectProtocolLocked).
func TestExtendedConnectNotEnabled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first []http2.Setting
		later bool // a second SETTINGS enables it
	}{
		{"absent", nil, false},
		{"zero", []http2.Setting{{ID: http2.SettingEnableConnectProtocol, Val: 0}}, false},
		{"enabled later", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPeer(t, Config{}, tc.first...)
				if tc.later {
					p.must(p.fr.WriteSettings(enableConnect))
					p.expect(http2.FrameSettings) // ACK
				}
				pr, pw := io.Pipe()
				r := p.start(tunnelRequest("websocket", "https://example.com/chat", pr))
				if !r.finished() {
					t.Fatal("RoundTrip waits for a response, want ErrNoExtendedConnect at once")
				}
				if !errors.Is(r.err, ErrNoExtendedConnect) || r.id != 0 {
					t.Errorf("RoundTrip = stream %d, %v; want no stream and ErrNoExtendedConnect", r.id, r.err)
				}
				if fs := p.queued(); len(fs) != 0 {
					t.Errorf("sent a %v frame, want nothing", fs[0].Type)
				}
				if st := p.c.State(); st.Reserved != 0 || st.Active != 0 {
					t.Errorf("%d reserved, %d active; want none", st.Reserved, st.Active)
				}
				if _, err := pw.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
					t.Errorf("writing the request body: %v, want ErrClosedPipe (body closed)", err)
				}
			})
		})
	}
}

// TestPrepareHeadProtocol: :protocol counts towards the header list size
// the peer's limit is checked against, as the other pseudo-fields do (RFC
// 9113 6.5.2), and must be a token.
func TestPrepareHeadProtocol(t *testing.T) {
	req := tunnelRequest("websocket", "https://example.com/chat", http.NoBody)
	var inline [inlineFields]field
	size := uint32(len("CONNECT"+"https"+"example.com"+"/chat")+7+7+10+5+4*32) + 2*32 +
		uint32(len("websocket")+9+32)
	if _, _, err := prepareHead(req, nil, size, inline[:0]); err != nil {
		t.Errorf("with the peer's limit at the list size %d: %v", size, err)
	}
	if _, _, err := prepareHead(req, nil, size-1, inline[:0]); !errors.Is(err, ErrHeaderListSize) {
		t.Errorf("with the peer's limit at %d, one under the list size: %v, want ErrHeaderListSize", size-1, err)
	}
	req.Proto = "web socket"
	if h, _, err := prepareHead(req, nil, 0, inline[:0]); err == nil {
		t.Errorf("Proto %q: prepared :protocol %q, want an error", req.Proto, h.protocol)
	}
}

// TestConnectProtocolSettingErrors: SETTINGS_ENABLE_CONNECT_PROTOCOL other
// than 0 or 1, or back from 1 to 0, is a connection error PROTOCOL_ERROR
// (RFC 8441 3).
func TestConnectProtocolSettingErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first []http2.Setting
		later []http2.Setting
	}{
		{"2 in the first SETTINGS", []http2.Setting{{ID: http2.SettingEnableConnectProtocol, Val: 2}}, nil},
		{"2 later", nil, []http2.Setting{{ID: http2.SettingEnableConnectProtocol, Val: 2}}},
		{"1 then 0", []http2.Setting{enableConnect}, []http2.Setting{{ID: http2.SettingEnableConnectProtocol, Val: 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if tc.later == nil {
					p := startPeer(t)
					if c := p.connect(t, Config{}, tc.first...); c != nil {
						t.Fatal("New succeeded")
					}
					p.expect(http2.FrameSettings)
					if ga := p.expectSkipping(http2.FrameGoAway, http2.FrameWindowUpdate); ga.code != http2.ErrCodeProtocol {
						t.Errorf("GOAWAY code %v, want PROTOCOL_ERROR", ga.code)
					}
					return
				}
				p := newPeer(t, Config{}, tc.first...)
				r := p.start(get("/"))
				p.expect(http2.FrameHeaders)
				p.must(p.fr.WriteSettings(tc.later...))
				if ga := p.expect(http2.FrameGoAway); ga.code != http2.ErrCodeProtocol {
					t.Errorf("GOAWAY code %v, want PROTOCOL_ERROR", ga.code)
				}
				var ce *ConnError
				if r.wait(); !errors.As(r.err, &ce) || ce.Code != http2.ErrCodeProtocol {
					t.Errorf("RoundTrip = %v, want ConnError PROTOCOL_ERROR", r.err)
				}
			})
		})
	}
}

// TestServerExtendedConnectEcho: against x/net's server, bytes written into
// an extended CONNECT's body come back through its response body while the
// request is still open, more than a window's worth too; the request body's
// EOF then ends the response body.
func TestServerExtendedConnectEcho(t *testing.T) {
	if !godebugtest.Run(t, godebugtest.XConnect) {
		return
	}
	srv := startServer(t, nil, tunneltest.Echo("websocket"))
	c := srv.dial(t, Config{StreamWindow: minStreamWindow})
	pr, pw := io.Pipe()
	req := tunnelRequest("websocket", "http://"+srv.addr()+"/echo", pr)
	res, _, err := c.RoundTrip(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("RoundTrip = %v, %v; want 200", res, err)
	}
	defer res.Body.Close()

	for _, msg := range []string{"hello", "world"} {
		if _, err := pw.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, buf, err)
		}
	}

	// Four windows' worth, both ways at once.
	var pattern bytes.Buffer
	writePattern(&pattern, 4*minStreamWindow)
	big := pattern.Bytes()
	go pw.Write(big)
	got := make([]byte, len(big))
	if _, err := io.ReadFull(res.Body, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("echo of %d bytes: %v, equal %v", len(big), err, bytes.Equal(got, big))
	}

	pw.Close()
	if rest, err := io.ReadAll(res.Body); err != nil || len(rest) != 0 {
		t.Errorf("after the request body's EOF: %q, %v; want EOF", rest, err)
	}
}

// recordingBody is a tunnel's body that records the sender's calls: "wait", and "read N" with
// the size of the buffer each Read is given. canWait is what WaitRead reports (false: a tunnel
// over TLS, which cannot wait without reading).
type recordingBody struct {
	*io.PipeReader
	canWait bool
	calls   []string
}

func (b *recordingBody) WaitRead() bool {
	b.calls = append(b.calls, "wait")
	return b.canWait
}

func (b *recordingBody) Read(p []byte) (int, error) {
	b.calls = append(b.calls, "read "+strconv.Itoa(len(p)))
	return b.PipeReader.Read(p)
}

// TestExtendedConnectSendBuffers: the sender waits for a body that can (readWaiter) before each
// Read, so that it takes its buffer only when there is something to send; a body that cannot
// wait without reading waits in a small buffer, and gets the big one after a Read that filled
// the small one.
func TestExtendedConnectSendBuffers(t *testing.T) {
	big, small := strconv.Itoa(sendbuf.Size), strconv.Itoa(sendbuf.SmallSize)
	for _, tc := range []struct {
		canWait bool
		want    string
	}{
		{true, "wait read " + big + " wait read " + big + " wait read " + big},
		{false, "wait read " + small + " wait read " + small + " wait read " + big + " wait read " + small},
	} {
		synctest.Test(t, func(t *testing.T) {
			p := newPeer(t, Config{}, enableConnect)
			pr, pw := io.Pipe()
			body := &recordingBody{PipeReader: pr, canWait: tc.canWait}
			r := p.start(tunnelRequest("websocket", "https://example.com/chat", body))
			id := p.expect(http2.FrameHeaders).StreamID
			p.headers(id, false, ":status", "200")
			r.wait()
			go pw.Write([]byte("x"))
			p.expect(http2.FrameData)
			go pw.Write(bytes.Repeat([]byte("y"), 3000))
			for sent := 0; sent < 3000; sent += len(p.expect(http2.FrameData).data) {
			}
			pw.Close()
			p.expect(http2.FrameData)
			synctest.Wait()
			if got := strings.Join(body.calls, " "); got != tc.want {
				t.Errorf("canWait %v: calls %q, want %q", tc.canWait, got, tc.want)
			}
			r.res.Body.Close()
		})
	}
}
