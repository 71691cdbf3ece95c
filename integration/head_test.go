//go:build unix

package integration

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// startLate starts an upstream of kind k whose /late sends its head (of type ctype) at once and
// its body, "late\n", once the test calls the returned unblock; other paths get the demo's
// routes. The gateway in front of it runs with the test's defaults.
func startLate(t *testing.T, k upstreamKind, ctype string) (f *front, unblock func()) {
	release := make(chan struct{})
	var once sync.Once
	unblock = func() { once.Do(func() { close(release) }) }
	u := startUpstream(t, k, demo.Options{Handler: demoWith("/late", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "late\n")
	})})
	t.Cleanup(unblock) // before the upstream's shutdown, which waits for the handler
	cfg := testConfig(u)
	cfg.Pool.H2Engine = k.engine
	return startGateway(t, cfg), unblock
}

// TestHeadBeforeBody: a response head that the upstream sent before any of its body reaches the
// client while the body is awaited, through every kind of session, for an event stream (whose
// client learns from the head that the stream is open) and for any other body.
func TestHeadBeforeBody(t *testing.T) {
	for _, k := range engineKinds {
		for _, ctype := range []string{"text/plain", "text/event-stream"} {
			t.Run(k.name+"/"+ctype, func(t *testing.T) {
				f, unblock := startLate(t, k, ctype)
				// Far longer than the head's hold; the test fails, rather than hangs, without the head.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", f.url(false)+"/late", nil)
				resp, err := newClient(t).Do(req)
				if err != nil {
					t.Fatalf("the head, while the upstream holds back the body: %v", err)
				}
				defer resp.Body.Close()
				unblock()
				if b, err := io.ReadAll(resp.Body); string(b) != "late\n" || err != nil {
					t.Errorf("body %q, %v; want %q", b, err, "late\n")
				}
			})
		}
	}
}

// TestHeadBeforeBodyPipelined: so too for the first of two pipelined requests, whose head goes
// out while the second's response waits its turn; both then come whole, in order.
func TestHeadBeforeBodyPipelined(t *testing.T) {
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			f, unblock := startLate(t, k, "text/plain")
			c := dialRaw(t, f.addr, false)
			c.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n")
			first, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("the first head, while the upstream holds back its body: %v", err)
			}
			unblock()
			if b, err := io.ReadAll(first.Body); first.StatusCode != 200 || string(b) != "late\n" || err != nil {
				t.Fatalf("first: %s, %q, %v; want 200, %q", first.Status, b, err, "late\n")
			}
			second, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("second: %v", err)
			}
			if b, err := io.ReadAll(second.Body); second.StatusCode != 200 || len(b) != 10 || err != nil {
				t.Errorf("second: %s, %d bytes, %v; want 200 with 10", second.Status, len(b), err)
			}
		})
	}
}
