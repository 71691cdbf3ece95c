package h1

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
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
