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

// TestHeadBeforeBody: a response head that the upstream sent before any of its body reaches the
// client while the body is awaited, through every kind of session, for an event stream (whose
// client learns from the head that the stream is open) and for any other body.
func TestHeadBeforeBody(t *testing.T) {
	for _, k := range engineKinds {
		for _, ctype := range []string{"text/plain", "text/event-stream"} {
			t.Run(k.name+"/"+ctype, func(t *testing.T) {
				release := make(chan struct{})
				var once sync.Once
				unblock := func() { once.Do(func() { close(release) }) }
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
				f := startGateway(t, cfg)
				// Far longer than the body hold; the test fails, rather than hangs, without the head.
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
