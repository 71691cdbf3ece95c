package h1

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
)

// replacing is a handler that begins a response (a head and part of a body, flushed on /flushed),
// discards it and answers 502 in its place. It reports what Discard said on discarded.
func replacing(discarded chan<- bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/1" {
			io.WriteString(w, "/1")
			return
		}
		w.Header().Set("X-Partial", "1")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		if r.URL.Path == "/flushed" {
			w.(http.Flusher).Flush()
		}
		ok := Discard(w)
		discarded <- ok
		if !ok {
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "replaced")
	})
}

// TestDiscard: a response whose head is still buffered is replaced whole, and the connection
// carries on; one whose head was flushed is not, and the connection is cut.
func TestDiscard(t *testing.T) {
	discarded := make(chan bool, 1)
	_, addr := startServer(t, Config{}, replacing(discarded))
	c := dial(t, addr)
	r := c.roundTrip("GET /buffered HTTP/1.1\r\nHost: a\r\n\r\n")
	if !<-discarded || r.StatusCode != 502 || r.body != "replaced" || r.Header.Get("X-Partial") != "" || r.Close {
		t.Errorf("got %d %q X-Partial %q close %v, want 502 replaced, nothing of the first response, kept alive",
			r.StatusCode, r.body, r.Header.Get("X-Partial"), r.Close)
	}
	if r := c.roundTrip("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 || r.body != "/1" {
		t.Errorf("next request: got %d %q, want 200 /1", r.StatusCode, r.body)
	}

	c = dial(t, addr)
	c.send("GET /flushed HTTP/1.1\r\nHost: a\r\n\r\n")
	if <-discarded {
		t.Error("Discard after a flush: got true, want false")
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Partial") != "1" {
		t.Errorf("got %d X-Partial %q, want the flushed 200", resp.StatusCode, resp.Header.Get("X-Partial"))
	}
	if b, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF || string(b) != "partial" {
		t.Errorf("body: got %q, %v; want partial, then the connection cut (io.ErrUnexpectedEOF)", b, err)
	}

	if Discard(httptest.NewRecorder()) {
		t.Error("Discard of another ResponseWriter: got true, want false")
	}
}

// TestDiscardPipelined: a pipelined response held back behind an earlier one is replaced whole.
func TestDiscardPipelined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		discarded := make(chan bool, 1)
		release := make(chan struct{})
		h := replacing(discarded)
		_, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/1" {
				<-release
			}
			h.ServeHTTP(w, r)
		}))
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/flushed", "/3"))
		synctest.Wait() // /flushed has replaced its response while /1 holds the line
		close(release)
		if !<-discarded {
			t.Error("Discard of a held-back response: got false, want true")
		}
		if r := c.read("GET"); r.body != "/1" {
			t.Errorf("got %q, want /1", r.body)
		}
		if r := c.read("GET"); r.StatusCode != 502 || r.body != "replaced" || r.Header.Get("X-Partial") != "" {
			t.Errorf("got %d %q X-Partial %q, want 502 replaced and nothing of the first response", r.StatusCode, r.body, r.Header.Get("X-Partial"))
		}
		if r := c.read("GET"); r.StatusCode != 502 || r.body != "replaced" {
			t.Errorf("/3: got %d %q, want 502 replaced", r.StatusCode, r.body)
		}
	})
}
