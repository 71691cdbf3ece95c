//go:build unix

package integration

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// TestResponseCutResent: an upstream connection that dies after a response head, before any of
// the body came (as a killed upstream's reset loses what the kernel held), loses nothing of an
// idempotent request: the gateway held the head back, sends the request again on a new session,
// and the client gets the whole answer, logged with 2 attempts. A POST so caught is not sent
// again: it gets 502. Over both HTTP/2 engines.
func TestResponseCutResent(t *testing.T) {
	for _, engine := range []string{"", "x/net"} {
		t.Run("engine "+engine, func(t *testing.T) {
			var posts atomic.Int32
			answer := func(r *frameReply) {
				post := false
				if m, _ := r.field(":method"); m == "POST" {
					post = true
					posts.Add(1)
				}
				go func() {
					r.headers(false, ":status", "200", "content-length", "5")
					if r.conn.n == 1 || post {
						r.sync() // the gateway has the head
						r.dropConn()
						return
					}
					r.data(true, "hello")
				}()
			}
			cfg := testConfig(startFrameUpstream(t, answer))
			cfg.Pool.H2Engine = engine
			access := &logBuffer{}
			cfg.AccessLog = zerolog.New(access)
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)

			c.send("GET /cut HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "hello" {
				t.Errorf("GET: %s %q, want 200 hello", resp.Status, body)
			}
			if log := access.String(); !strings.Contains(log, `"target":"/cut"`) || !strings.Contains(log, `"attempts":2`) {
				t.Errorf("access log: want /cut with 2 attempts:\n%s", log)
			}

			c.send("POST /cut HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
			if resp, body := c.response("POST"); resp.StatusCode != 502 {
				t.Errorf("POST: %s %q, want 502", resp.Status, body)
			}
			if n := posts.Load(); n != 1 {
				t.Errorf("the upstream got the POST %d times, want 1", n)
			}
		})
	}
}

// TestResponseCutResentH3: over HTTP/3, a connection closed right after a response head loses
// nothing of a GET either: whichever side of the head the close lands on, the request is sent
// again and the client gets the answer. (The close lands after the head in a few runs of a
// hundred: before the h3 session marked such a body's failure as its connection's, 4 of 90 runs
// failed.)
func TestResponseCutResentH3(t *testing.T) {
	var first atomic.Bool
	entered := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			close(entered)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Length", "5")
		w.Write([]byte("hello"))
	})
	u := startUpstream(t, upstreamKinds[2], demo.Options{Handler: handler})
	cfg := testConfig(u)
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	c.send("GET /cut HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	u.CloseConns()
	if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "hello" {
		t.Errorf("GET: %s %q, want 200 hello", resp.Status, body)
	}
	// Sent again: 2 attempts, mostly. One run in 9 here logged 3, with the same answer; which
	// attempt the close cut was not found out.
	if log := access.String(); !regexp.MustCompile(`"attempts":[2-9]`).MatchString(log) {
		t.Errorf("access log: want more than 1 attempt:\n%s", log)
	}
}

// TestSilentSessionDropped: a session whose upstream goes silent with a request in flight, as a
// host switched off or cut off by the network does (no reset, no GOAWAY), is PINGed within
// -ping-timeout, dropped when the PING goes unanswered, and the idempotent request is sent again
// on a new session: the client gets its answer, logged with 2 attempts, rather than
// -upstream-timeout's 504.
func TestSilentSessionDropped(t *testing.T) {
	silence := make(chan struct{})
	answer := func(r *frameReply) {
		if r.conn.n == 1 && r.path == "/silent" {
			<-silence // holds the connection's reader: nothing more is read or answered, PINGs neither
			return
		}
		go func() {
			r.headers(false, ":status", "200", "content-length", "5")
			r.data(true, "hello")
		}()
	}
	up := startFrameUpstream(t, answer)
	t.Cleanup(func() { close(silence) }) // before the upstream's cleanup, which waits for its readers
	cfg := testConfig(up)
	cfg.Pool.PingTimeout = 200 * time.Millisecond
	cfg.UpstreamTimeout = 5 * time.Second
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	for _, path := range []string{"/warm", "/silent"} {
		c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("GET %s: %s %q, want 200 hello", path, resp.Status, body)
		}
	}
	if log := access.String(); !strings.Contains(log, `"target":"/silent"`) || !strings.Contains(log, `"attempts":2`) {
		t.Errorf("access log: want /silent with 2 attempts:\n%s", log)
	}
}

// TestSilentUpstreamAmongSeveral: with several upstreams, a session whose upstream went silent
// with a request in flight, and whose host now takes connections and says nothing (as one
// switched off behind a load balancer may), is dropped at its unanswered PING, and the request
// goes to another upstream at once, rather than wait for a dial to the silent one.
func TestSilentUpstreamAmongSeveral(t *testing.T) {
	silence, entered := make(chan struct{}), make(chan struct{}, 1)
	a := startFrameUpstream(t, func(r *frameReply) {
		if r.path == "/silent" {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-silence // holds the connection's reader: nothing more is read or answered, PINGs neither
			return
		}
		go func() {
			r.headers(false, ":status", "200", "content-length", "6")
			r.data(true, "from a")
		}()
	})
	t.Cleanup(func() { close(silence) }) // before the upstream's cleanup, which waits for its readers
	b := startUpstream(t, upstreamKinds[0], demo.Options{Handler: demoWith("/silent", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from b")
	})})
	cfg := testConfig(&upstream{url: "h2c://" + tarpitAfterFirst(t, strings.TrimPrefix(a.url, "h2c://"))})
	cfg.Upstreams = []string{b.url}
	cfg.Pool.PingTimeout = 200 * time.Millisecond
	cfg.Pool.DialTimeout = 30 * time.Second // a dial to the silent host outlasts the client's patience
	cfg.Pool.QueueTimeout = 30 * time.Second
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	// The requests go to a and b in turn: within a few, one finds a's session.
	for i := 0; i < 10; i++ {
		c.send("GET /silent HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "from b" {
			t.Fatalf("GET /silent: %s %q, want 200 from b", resp.Status, body)
		}
		select {
		case <-entered:
			return // answered by b after a's session went silent under it
		default:
		}
	}
	t.Fatal("no request reached the first upstream in 10")
}

// tarpitAfterFirst listens on a loopback port, relays its first connection to target, and
// holds every later one open without a byte either way, as a host that is gone but whose
// address still takes connections does. It stops when the test ends.
func tarpitAfterFirst(t *testing.T, target string) string {
	return serveLoopback(t, func(n int, c net.Conn) {
		if n > 1 {
			return // held: the cleanup closes it
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		relayed := make(chan struct{})
		go func() {
			io.Copy(up, c)
			up.Close()
			close(relayed)
		}()
		io.Copy(c, up)
		c.Close()
		<-relayed
	})
}
