//go:build unix

package integration

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// eventsUpstream serves /events: an event stream that sends "one", then, once step is closed, the
// first line of "two", and once more is closed, the rest of "two"; then it waits for its client.
func eventsUpstream(step, more <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		f := w.(http.Flusher)
		for _, part := range []struct {
			text  string
			after <-chan struct{}
		}{{"id: 1\r\ndata: one\r\n\r\n", nil}, {"data: two-a\n", step}, {"data: two-b\n\n", more}} {
			if part.after != nil {
				select {
				case <-part.after:
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, part.text)
			f.Flush()
		}
		<-r.Context().Done()
	}
}

// TestEventStreamDrain: a drain ends an event stream at its first event boundary, as a whole
// chunked response, rather than cutting it at the drain's deadline: at once where no event is
// begun, else once the event begun ends; its connection then closes, whatever -drain-grace. The
// drain ends long before its deadline, and the access log has the request without an error. Each kind of upstream session alike.
func TestEventStreamDrain(t *testing.T) {
	for _, mid := range []bool{false, true} {
		for _, k := range engineKinds {
			name := k.name + " between events"
			if mid {
				name = k.name + " within an event"
			}
			t.Run(name, func(t *testing.T) {
				step, more := make(chan struct{}), make(chan struct{})
				u := startUpstream(t, k, demo.Options{Handler: demoWith("/events", eventsUpstream(step, more))})
				cfg := testConfig(u)
				cfg.Pool.H2Engine = k.engine
				cfg.ShutdownTimeout = 30 * time.Second  // far past the client's patience (rawDeadline)
				cfg.Front.DrainGrace = 30 * time.Second // a connection kept open waits as long
				access := &logBuffer{}
				cfg.AccessLog = zerolog.New(access)
				g := serveUntilDrain(t, cfg)
				c := dialRaw(t, g.Addrs()[0].String(), false)
				c.send("GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil || resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) == 0 {
					t.Fatalf("head: %v, %v; want 200, chunked", resp, err)
				}
				body := bufio.NewReader(resp.Body)
				lines := []string{"id: 1\r\n", "data: one\r\n", "\r\n"}
				if mid {
					close(step)
					lines = append(lines, "data: two-a\n")
				}
				for _, want := range lines {
					if line, err := body.ReadString('\n'); line != want {
						t.Fatalf("read %q, %v; want %q", line, err, want)
					}
				}
				g.drain()
				want := ""
				if mid {
					close(more)
					want = "data: two-b\n\n"
				}
				// A clean end of the chunked body reads as io.EOF, which ReadAll takes for nil; a
				// connection cut short of it as io.ErrUnexpectedEOF.
				if rest, err := io.ReadAll(body); err != nil || string(rest) != want {
					t.Fatalf("after the drain began: %q, %v; want %q and the response's end", rest, err, want)
				}
				c.expectClosed() // at once: the client's EventSource connects anew, elsewhere
				g.drained(t, rawDeadline, "the event stream ended")
				if log := access.String(); !strings.Contains(log, `"status":200`) || strings.Contains(log, `"error"`) {
					t.Errorf("access log %q, want the stream logged 200 without an error", log)
				}
			})
		}
	}
}
