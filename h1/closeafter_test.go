package h1

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// closing is a handler whose /close response, after its head went out, asks for the connection
// to close after it, and reports what CloseAfter said; it waits for release first if that is not
// nil. Other paths answer their path.
func closing(said chan<- bool, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/close" {
			io.WriteString(w, r.URL.Path)
			return
		}
		if release != nil {
			<-release
		}
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		said <- CloseAfter(w)
		io.WriteString(w, "b")
	})
}

// TestCloseAfter: a response whose head said nothing of closing ends whole, and then its
// connection closes; CloseAfter of another ResponseWriter changes nothing.
func TestCloseAfter(t *testing.T) {
	said := make(chan bool, 1)
	_, addr := startServer(t, Config{}, closing(said, nil))
	c := dial(t, addr)
	r := c.roundTrip("GET /close HTTP/1.1\r\nHost: a\r\n\r\n")
	if !<-said || r.StatusCode != 200 || r.body != "ab" || r.Close {
		t.Errorf("got %d %q, close %v; want CloseAfter true, 200 ab with nothing said of closing", r.StatusCode, r.body, r.Close)
	}
	c.expectClosed()
	if CloseAfter(httptest.NewRecorder()) {
		t.Error("CloseAfter of another ResponseWriter: got true, want false")
	}
}

// TestCloseAfterPipelined: where a request was pipelined after the response's, CloseAfter
// changes nothing: both are answered, on a connection that stays open.
func TestCloseAfterPipelined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		said := make(chan bool, 1)
		release := make(chan struct{})
		_, l := servePipe(t, Config{}, closing(said, release))
		c := newClient(t, l.dial())
		c.send(pipelineOf("/close", "/2"))
		synctest.Wait() // /2 was read while /close waits
		close(release)
		// The responses are read first: over a pipe, /close's flush waits for the reader.
		for _, want := range []string{"ab", "/2"} {
			if r := c.read("GET"); r.body != want {
				t.Errorf("got %q, want %q", r.body, want)
			}
		}
		if <-said {
			t.Error("CloseAfter with a request read after: got true, want false")
		}
		if r := c.roundTrip("GET /3 HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "/3" {
			t.Errorf("next request: got %q, want /3 on the same connection", r.body)
		}
	})
}

// closeRecorder is the server's end of a TCP connection, telling whether the server half-closed
// it and when it closed it.
type closeRecorder struct {
	*net.TCPConn
	halfClosed atomic.Bool
	closed     chan struct{}
	once       sync.Once
}

func (c *closeRecorder) CloseWrite() error {
	c.halfClosed.Store(true)
	return c.TCPConn.CloseWrite()
}

func (c *closeRecorder) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.TCPConn.Close()
}

// recordingListener hands each connection it accepts, as a closeRecorder, to conns too.
type recordingListener struct {
	net.Listener
	conns chan *closeRecorder
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	r := &closeRecorder{TCPConn: c.(*net.TCPConn), closed: make(chan struct{})}
	l.conns <- r
	return r, nil
}

// TestCloseAtOnce: where the client said its request was its last and all it sent was read,
// the connection closes at once after the response; where the server decided to close, or the
// client sent more than it read, the close lingers (a half-close first) so that no reset
// destroys the response (RFC 9112 9.6).
func TestCloseAtOnce(t *testing.T) {
	said := make(chan bool, 1)
	h := closing(said, nil)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			io.Copy(io.Discard, r.Body)
		}
		h.ServeHTTP(w, r)
	})
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	rl := recordingListener{ln, make(chan *closeRecorder, 1)}
	serveUntilEnd(t, New(Config{Logger: testLogger(t)}, handler), rl, false)
	for _, tc := range []struct {
		name, req string
		lingers   bool
	}{
		{"Connection: close", "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"HTTP/1.0", "GET /a HTTP/1.0\r\n\r\n", false},
		{"content read", "POST /read HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc", false},
		{"content unread", "POST /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", true},
		{"more sent", "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", true},
		// Not pipelined (only GET and HEAD are): served on its own, with /b in the buffer.
		{"more sent after a DELETE", "DELETE /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"the server's close", "GET /close HTTP/1.1\r\nHost: a\r\n\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ln.Addr().String())
			rec := <-rl.conns
			c.send(tc.req)
			if r := c.read(strings.SplitN(tc.req, " ", 2)[0]); r.StatusCode != 200 {
				t.Fatalf("got %d, want 200", r.StatusCode)
			}
			c.expectClosed()
			c.conn.Close() // ends a lingering close
			select {
			case <-rec.closed:
			case <-time.After(safetyNet):
				t.Fatal("the server did not close the connection")
			}
			if got := rec.halfClosed.Load(); got != tc.lingers {
				t.Errorf("half-closed before closing: got %v, want %v", got, tc.lingers)
			}
		})
	}
	if len(said) != 1 || !<-said {
		t.Error("CloseAfter of /close: want true, once")
	}
}
