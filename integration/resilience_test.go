//go:build unix

package integration

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"muxgate/internal/demo"
)

// TestUpstreamClosesConnections: an upstream that drops every connection between requests
// costs the client nothing: the next request goes out on a new session and succeeds.
func TestUpstreamClosesConnections(t *testing.T) {
	const rounds = 10
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			c := dialRaw(t, f.addr, false)
			for i := range rounds {
				path := fmt.Sprintf("/path/round-%d", i)
				c.send("GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
				resp, body := c.response("GET")
				if resp.StatusCode != 200 || body != path {
					t.Fatalf("round %d after the upstream closed its connections: %s %q, want 200 %q", i, resp.Status, body, path)
				}
				u.CloseConns()
			}
			if n := u.Accepted(); n < rounds {
				t.Errorf("upstream accepted %d connections in %d rounds, want one per round", n, rounds)
			}
		})
	}
}

// goAway makes the upstream send GOAWAY(NO_ERROR) on each of its connections, and waits until
// it has.
func goAway(t testing.TB, u *upstream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.GoAway(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamGoAway: a graceful GOAWAY from the upstream is never an error to the client: a
// request in flight on the draining session completes, and later requests use a new session.
func TestUpstreamGoAway(t *testing.T) {
	const rounds = 10
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Run("between requests", func(t *testing.T) {
				u := startUpstream(t, k, demo.Options{})
				f := startGateway(t, testConfig(u))
				c := dialRaw(t, f.addr, false)
				for i := range rounds {
					path := fmt.Sprintf("/path/round-%d", i)
					c.send("GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
					resp, body := c.response("GET")
					if resp.StatusCode != 200 || body != path {
						t.Fatalf("round %d after GOAWAY: %s %q, want 200 %q", i, resp.Status, body, path)
					}
					goAway(t, u)
				}
				// After a GOAWAY the upstream serves no new stream on that connection, so each
				// round needs a session of its own.
				if n := u.Accepted(); n != rounds {
					t.Errorf("upstream accepted %d connections in %d rounds, want one per round", n, rounds)
				}
			})
			t.Run("in flight", func(t *testing.T) {
				b := newBlocker(t)
				u := startUpstream(t, k, demo.Options{Handler: b.handler()})
				f := startGateway(t, testConfig(u))
				defer b.unblock()
				held := dialRaw(t, f.addr, false)
				held.send("GET /block/held HTTP/1.1\r\nHost: example.test\r\n\r\n")
				b.waitEntered(t)
				goAway(t, u)

				other := dialRaw(t, f.addr, false)
				other.send("GET /path/other HTTP/1.1\r\nHost: example.test\r\n\r\n")
				if resp, body := other.response("GET"); resp.StatusCode != 200 || body != "/path/other" {
					t.Errorf("request after GOAWAY: %s %q, want 200 /path/other", resp.Status, body)
				}

				b.unblock()
				if resp, body := held.response("GET"); resp.StatusCode != 200 || body != "released /block/held" {
					t.Errorf("request in flight during GOAWAY: %s %q, want 200 %q", resp.Status, body, "released /block/held")
				}
				if n := u.Accepted(); n != 2 {
					t.Errorf("upstream accepted %d connections, want 2 (the draining one and its successor)", n)
				}
			})
		})
	}
}

// TestBodyRetriedWhenRefused: a request with a body that the upstream refused (REFUSED_STREAM,
// RFC 9113 8.7: provably not processed) after taking the whole body is sent again on another
// session, body and all, from what -retry-buffer kept; without the buffer it cannot be, and the
// client gets 502. Over both HTTP/2 engines.
func TestBodyRetriedWhenRefused(t *testing.T) {
	// The upstream's first connection refuses every request once it has its body; the others
	// echo it.
	answer := func(r *frameReply) {
		go func() {
			body, ok := r.requestBody()
			switch {
			case !ok:
			case r.conn.n == 1:
				r.reset(http2.ErrCodeRefusedStream)
			default:
				r.headers(false, ":status", "200", "content-length", strconv.Itoa(len(body)))
				r.data(true, body)
			}
		}()
	}
	const body = "a body the upstream must get whole"
	for _, engine := range []string{"", "x/net"} {
		for _, buffer := range []int{64 << 10, 0} {
			t.Run(fmt.Sprintf("%q buffer %d", engine, buffer), func(t *testing.T) {
				cfg := testConfig(startFrameUpstream(t, answer))
				cfg.Pool.H2Engine, cfg.Pool.RetryBuffer = engine, buffer
				c := dialRaw(t, startGateway(t, cfg).addr, false)
				c.send(fmt.Sprintf("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
				resp, got := c.response("POST")
				want, wantBody := 200, body
				if buffer == 0 {
					want, wantBody = 502, "upstream failed\n"
				}
				if resp.StatusCode != want || got != wantBody {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, got, want, wantBody)
				}
			})
		}
	}
}

// TestBodyRetriedWhenRefusedMidBody: a request that the upstream refused while muxgate waited for
// the rest of its body from the client (a slow upload) is sent again on another session, and the
// new stream gets the whole body, the part read before and the rest as the client sends it. It
// was 502 at once before: the retry was refused while a read of the body was under way. Over both
// HTTP/2 engines (x/net's RoundTrip returns only once that read has, so its retry waits for the
// client's next bytes).
func TestBodyRetriedWhenRefusedMidBody(t *testing.T) {
	const first, rest = "the first half, ", "and the rest later"
	for _, engine := range []string{"", "x/net"} {
		t.Run(fmt.Sprintf("%q", engine), func(t *testing.T) {
			refused := make(chan struct{})
			// The upstream's first connection refuses the request once it has the first half;
			// the others echo it.
			answer := func(r *frameReply) {
				go func() {
					if r.conn.n == 1 {
						if r.awaitBody(len(first)) {
							r.reset(http2.ErrCodeRefusedStream)
							r.sync()
							close(refused)
						}
						return
					}
					if body, ok := r.requestBody(); ok {
						r.headers(false, ":status", "200", "content-length", strconv.Itoa(len(body)))
						r.data(true, body)
					}
				}()
			}
			cfg := testConfig(startFrameUpstream(t, answer))
			cfg.Pool.H2Engine, cfg.Pool.RetryBuffer = engine, 64<<10
			c := dialRaw(t, startGateway(t, cfg).addr, false)
			c.send(fmt.Sprintf("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(first+rest), first))
			select {
			case <-refused: // and the gateway has read the RST_STREAM (sync)
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream did not get the first half within 10 s")
			}
			c.send(rest)
			if resp, got := c.response("POST"); resp.StatusCode != 200 || got != first+rest {
				t.Errorf("got %d %q, want 200 and the whole body", resp.StatusCode, got)
			}
		})
	}
}

// TestPipelinedRetriesGoTogether: pipelined requests that muxgate's own session sent ahead of
// their turn, and that the upstream then refused together (a GOAWAY below them), are sent again
// together, not each once the one before has its answer: the upstream's second connection
// answers only once it holds all three retries, and gives up after 5 s.
func TestPipelinedRetriesGoTogether(t *testing.T) {
	const retried = 3
	var mu sync.Mutex
	var first []*frameReply    // the first connection's requests
	var waiting []*frameReply  // the others'
	all := make(chan struct{}) // closed once the retries are all there
	answer := func(r *frameReply) {
		ok := func(r *frameReply) {
			r.headers(false, ":status", "200", "content-length", strconv.Itoa(len(r.path)))
			r.data(true, r.path)
		}
		mu.Lock()
		defer mu.Unlock()
		if r.conn.n == 1 {
			if first = append(first, r); len(first) == retried+1 {
				first[0].goAway(first[0].id)
				ok(first[0])
			}
			return
		}
		if waiting = append(waiting, r); len(waiting) == retried {
			close(all)
			for _, w := range waiting {
				ok(w)
			}
			return
		}
		go func() {
			select {
			case <-all:
			case <-r.conn.done:
			case <-time.After(5 * time.Second):
				r.headers(true, ":status", "503")
			}
		}()
	}
	cfg := testConfig(startFrameUpstream(t, answer))
	c := dialRaw(t, startGateway(t, cfg).addr, false)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /3 HTTP/1.1\r\nHost: a\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []string{"/1", "/2", "/3", "/4"} {
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != want {
			t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}
}
