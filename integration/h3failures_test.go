//go:build unix

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"muxgate/internal/demo"
)

// failingH3Handler serves the demo routes and three that fail: /kill closes its own QUIC
// connection once it has read the request (counted in kills), /panic resets its stream as a
// handler's panic does (H3_INTERNAL_ERROR), and /hints sends 6 informational responses, more
// than quic-go's client takes.
func failingH3Handler(kills *atomic.Int64) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.Handler())
	mux.HandleFunc("/kill", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		kills.Add(1)
		h3Conn(r).CloseWithError(0x100, "bye")
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		for range 6 {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})
	return mux
}

// startFailingFallback starts an HTTP/2 upstream over TLS and, on the same port, an HTTP/3 one
// with failingH3Handler, and a gateway to them through h3+h2://.
func startFailingFallback(t *testing.T, kills *atomic.Int64, log *logBuffer) (*front, *upstream, *h3Upstream) {
	t.Helper()
	u2 := startUpstream(t, upstreamKind{name: "h2", tls: true}, demo.Options{})
	u3 := startH3UpstreamWith(t, u2.Addr(), 0, failingH3Handler(kills))
	return startGateway(t, h3Config("h3+h2://"+u2.Addr(), log)), u2, u3
}

// failureLine is what these tests read of an access-log line.
type failureLine struct {
	Target        string `json:"target"`
	Status        int    `json:"status"`
	UpstreamProto string `json:"upstream_proto"`
	Attempts      int    `json:"attempts"`
	Error         string `json:"error"`
}

// accessLines returns the access log's lines by target, the last one for a target repeated.
func accessLines(t *testing.T, log *logBuffer) map[string]failureLine {
	t.Helper()
	m := map[string]failureLine{}
	for line := range strings.Lines(log.String()) {
		var l failureLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		m[l.Target] = l
	}
	return m
}

// TestH3RetryMaybeProcessed: a GET whose HTTP/3 connection the upstream closes after reading it
// may have been processed: it is sent again once over HTTP/3 (RFC 9110 9.2.2), and neither a
// third time nor over the HTTP/2 fallback. A POST so caught is not sent again at all. Neither
// switches the fallback to HTTP/2 before its third failure in a row.
func TestH3RetryMaybeProcessed(t *testing.T) {
	var kills atomic.Int64
	var log logBuffer
	f, u2, _ := startFailingFallback(t, &kills, &log)
	c := newClient(t)

	if resp, _ := get(t, c, f.url(false)+"/kill"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET /kill: %s, want 502", resp.Status)
	}
	if n := kills.Load(); n != 2 {
		t.Errorf("GET /kill reached the HTTP/3 handler %d times, want 2", n)
	}
	if l := accessLines(t, &log)["/kill"]; l.Attempts != 2 || l.UpstreamProto != "h3" {
		t.Errorf("access log for GET /kill: %+v, want 2 attempts, the last over h3", l)
	}

	resp, err := c.Post(f.url(false)+"/kill?post", "text/plain", strings.NewReader("once"))
	if err != nil {
		t.Fatalf("POST /kill: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || kills.Load() != 3 {
		t.Errorf("POST /kill: %s, handler reached %d times in all; want 502 and 3", resp.Status, kills.Load())
	}
	if n := u2.Requests(); n != 0 {
		t.Errorf("the HTTP/2 fallback got %d requests, want 0", n)
	}

	if resp, body := get(t, c, f.url(false)+"/path/after"); resp.StatusCode != 200 || body != "/path/after" {
		t.Fatalf("GET /path/after: %s %q", resp.Status, body)
	}
	if l := accessLines(t, &log)["/path/after"]; l.UpstreamProto != "h3" {
		t.Errorf("GET /path/after served over %q, want h3 after two failures", l.UpstreamProto)
	}
}

// TestH3FallbackIgnoresRequestFailures: requests that fail on their own over a live HTTP/3
// connection (handlers that panic, a response with too many 1xx) get 502 and leave h3+h2 on
// HTTP/3, however many in a row: only failures of the path or the connection switch it.
func TestH3FallbackIgnoresRequestFailures(t *testing.T) {
	var kills atomic.Int64
	var log logBuffer
	f, u2, _ := startFailingFallback(t, &kills, &log)
	c := newClient(t)

	for _, target := range []string{"/panic?1", "/panic?2", "/panic?3", "/panic?4", "/hints?1", "/hints?2", "/hints?3"} {
		if resp, _ := get(t, c, f.url(false)+target); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("GET %s: %s, want 502", target, resp.Status)
		}
	}
	if resp, body := get(t, c, f.url(false)+"/path/after"); resp.StatusCode != 200 || body != "/path/after" {
		t.Fatalf("GET /path/after: %s %q", resp.Status, body)
	}
	if l := accessLines(t, &log)["/path/after"]; l.UpstreamProto != "h3" {
		t.Errorf("GET /path/after served over %q, want h3: per-request failures switched the fallback", l.UpstreamProto)
	}
	if n := u2.Requests(); n != 0 {
		t.Errorf("the HTTP/2 fallback got %d requests, want 0", n)
	}
}
