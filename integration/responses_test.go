//go:build unix

package integration

import (
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// oddAnswers is a frame upstream's answers that no conforming server sends, by path; any other
// path gets 200 "ok".
func oddAnswers(r *frameReply) {
	switch r.path {
	case "/101":
		r.headers(false, ":status", "101")
		r.data(true, "hello")
	case "/101-then-200":
		r.headers(false, ":status", "101", "upgrade", "x")
		r.headers(false, ":status", "200", "content-length", "2")
		r.data(true, "hi")
	case "/099", "/600", "/999":
		r.headers(true, ":status", r.path[1:])
	case "/connection":
		r.headers(false, ":status", "200", "connection", "x-secret", "x-secret", "1", "content-length", "2")
		r.data(true, "hi")
	case "/204-data":
		r.headers(false, ":status", "204")
		r.data(true, "hello")
	case "/304-data":
		r.headers(false, ":status", "304", "etag", `"e"`)
		r.data(true, "hello")
	case "/trailer-same-name":
		r.headers(false, ":status", "200", "trailer", "x-t", "x-t", "head", "content-length", "5")
		r.data(false, "hello")
		r.headers(true, "x-t", "tail")
	default:
		r.headers(false, ":status", "200", "content-length", "2")
		r.data(true, "ok")
	}
}

// TestMalformedResponses: a response that HTTP/2 does not allow gets 502, and one whose parts
// contradict its status gets the status without them; either way the client's connection goes
// on. A 101 (RFC 9113 8.6: HTTP/2 has none) is not taken as an upgrade; a status outside 100 to
// 599 (RFC 9110 15) is refused; a connection-specific field (RFC 9113 8.2.2) makes the response
// malformed, and an intermediary must not forward it (8.1.1); DATA on a 204 or a 304 (RFC 9110
// 6.4.1: no content) is dropped. x/net's client drops connection-specific fields instead, with
// the Connection field that names x-secret: that engine passes x-secret on.
func TestMalformedResponses(t *testing.T) {
	cases := []struct {
		path string
		want int
		xnet int // the x/net engine's status, where it differs
	}{
		{"/101", 502, 0},
		{"/101-then-200", 502, 0},
		{"/099", 502, 0},
		{"/600", 502, 0},
		{"/999", 502, 0},
		{"/connection", 502, 200},
		{"/204-data", 204, 0},
		{"/304-data", 304, 0},
	}
	withFrameEngines(t, oddAnswers, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		for _, tc := range cases {
			want := tc.want
			if tc.xnet != 0 && strings.HasSuffix(t.Name(), "x/net") {
				want = tc.xnet
			}
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, body := c.response("GET")
			if resp.StatusCode != want || want < 300 && body != "" && body != "hi" {
				t.Errorf("%s: got %d %q, want %d", tc.path, resp.StatusCode, body, want)
			}
			if want == 502 && resp.Header.Get("X-Muxgate-Error") != "upstream_error" {
				t.Errorf("%s: X-Muxgate-Error %q, want upstream_error", tc.path, resp.Header.Get("X-Muxgate-Error"))
			}
			c.send("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("after %s: got %d %q on the same connection, want 200 ok", tc.path, resp.StatusCode, body)
			}
		}
	})
}

// TestTrailerNamedLikeAField: a trailer that shares its name with a field of the head reaches
// the client with the trailer's value, not the head's. An HTTP/1.0 client, which can get no
// trailers, gets the body framed by the upstream's Content-Length and keeps its connection.
func TestTrailerNamedLikeAField(t *testing.T) {
	withFrameEngines(t, oddAnswers, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send("GET /trailer-same-name HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, body := c.response("GET")
		if resp.StatusCode != 200 || body != "hello" || resp.Trailer.Get("X-T") != "tail" {
			t.Errorf("got %d %q with trailers %v, want 200 hello and X-T: tail", resp.StatusCode, body, resp.Trailer)
		}

		c.send("GET /trailer-same-name HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
		resp, body = c.response("GET")
		if resp.StatusCode != 200 || body != "hello" || resp.ContentLength != 5 || resp.Close {
			t.Errorf("HTTP/1.0: got %d %q, length %d, close %v; want 5 bytes framed by length on a kept connection",
				resp.StatusCode, body, resp.ContentLength, resp.Close)
		}
		c.send("GET /ok HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "ok" {
			t.Errorf("HTTP/1.0 after: got %d %q, want 200 ok", resp.StatusCode, body)
		}
	})
}

// TestCompleteBodyNotHeldForEndOfStream: over muxgate's own session, a body complete by its
// Content-Length reaches the client while the upstream has not yet ended its stream; the stream
// ends once the client has it. (Through x/net's session muxgate reads the body without seeing
// what the session holds, and it waits for the end, as the README says.)
func TestCompleteBodyNotHeldForEndOfStream(t *testing.T) {
	release := make(chan struct{})
	end := sync.OnceFunc(func() { close(release) })
	t.Cleanup(end)
	answer := func(r *frameReply) {
		r.headers(false, ":status", "200", "content-length", "5")
		r.data(false, "hello")
		go func() {
			<-release
			r.data(true, "")
		}()
	}
	cfg := testConfig(startFrameUpstream(t, answer))
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	c.send("GET /late-end HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, body := c.response("GET") // fails at the raw connection's deadline if held back
	end()
	if resp.StatusCode != 200 || body != "hello" {
		t.Errorf("got %d %q, want 200 hello", resp.StatusCode, body)
	}
	c.send("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 200 {
		t.Errorf("after: got %d, want 200", resp.StatusCode)
	}
}

// TestEarlyResponseWithNoErrorReset: an upstream that answers before the request's body has
// come, and resets the stream with NO_ERROR (RFC 9113 8.1: the client must not discard such a
// response), has its response reach the client; the rest of the body is not the upstream's
// concern, and the client is not blamed for the body that stopped being read.
func TestEarlyResponseWithNoErrorReset(t *testing.T) {
	answer := func(r *frameReply) {
		r.headers(false, ":status", "200", "content-length", "5")
		r.data(true, "hello")
		r.reset(http2.ErrCodeNo)
	}
	withFrameEngines(t, answer, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send("POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n12345")
		if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "hello" {
			t.Errorf("got %d %q (%s), want 200 hello", resp.StatusCode, body, resp.Header.Get("X-Muxgate-Error"))
		}
	})
}

// TestEmptyViaFromUpstream: an upstream's Via without an element does not go next to the
// gateway's own, where it would make an empty list element (RFC 9110 5.6.1); one with elements
// does, before the gateway's.
func TestEmptyViaFromUpstream(t *testing.T) {
	answer := func(r *frameReply) {
		via := map[string]string{"/empty": "", "/commas": " , ", "/set": "1.1 origin"}[r.path]
		r.headers(false, ":status", "200", "via", via, "content-length", "2")
		r.data(true, "ok")
	}
	withFrameEngines(t, answer, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		for path, want := range map[string]string{"/empty": "2 muxgate", "/commas": "2 muxgate", "/set": "1.1 origin, 2 muxgate"} {
			c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, _ := c.response("GET")
			if got := strings.Join(resp.Header.Values("Via"), ", "); got != want {
				t.Errorf("%s: Via %q, want %q", path, got, want)
			}
		}
	})
}
