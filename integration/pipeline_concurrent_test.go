//go:build unix

package integration

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// delayed is an upstream handler that answers /path/... with its path after a random delay of
// up to max, so that pipelined requests sent upstream at once finish in a shuffled order.
func delayed(max time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.Handler())
	mux.HandleFunc("/path/", func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(rand.N(max))
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.URL.Path)
	})
	return mux
}

// TestPipelineConcurrentOrder: 50 pipelined GETs, sent upstream as concurrent streams and
// finishing in random order there, are answered in request order, each with its own body.
func TestPipelineConcurrentOrder(t *testing.T) {
	const n = 50
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{Handler: delayed(5 * time.Millisecond)})
			f := startGateway(t, testConfig(u))
			for _, useTLS := range []bool{false, true} {
				addr := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
				t.Run(map[bool]string{false: "clear", true: "tls"}[useTLS], func(t *testing.T) {
					c := dialRaw(t, addr, useTLS)
					var b strings.Builder
					for i := range n {
						fmt.Fprintf(&b, "GET /path/%d HTTP/1.1\r\nHost: example.test\r\n\r\n", i)
					}
					c.send(b.String())
					for i := range n {
						resp, body := c.response("GET")
						want := fmt.Sprintf("/path/%d", i)
						if resp.StatusCode != 200 || body != want {
							t.Fatalf("response %d: status %d body %q, want 200 %q", i, resp.StatusCode, body, want)
						}
					}
				})
			}
			// With a depth of 8, the upstream saw pipelined requests at once; handled one at a
			// time it would never see two.
			if p := u.Peak(); p < 2 {
				t.Errorf("upstream peak concurrency %d, want the pipelined requests handled concurrently", p)
			}
		})
	}
}

// TestPipelineConcurrentH2load: h2load with 64 clients pipelining 8 requests each completes every
// request, with no failure. (TestPipelineConcurrentOrder checks that
// pipelined requests run concurrently and come back in order.)
func TestPipelineConcurrentH2load(t *testing.T) {
	const (
		clients  = 64
		depth    = 8
		requests = 20000
		runLimit = 2 * time.Minute
	)
	h2load := needTool(t, "h2load")
	k := upstreamKinds[0]
	u := startUpstream(t, k, demo.Options{Handler: delayed(time.Millisecond), MaxConcurrentStreams: 250})
	cfg := testConfig(u)
	cfg.Front.MaxConns = 2 * clients
	f := startGateway(t, cfg)
	// Clear text only: TLS costs this run seconds under the race detector, and the TLS write
	// path of a pipeline is covered by TestPipelineConcurrentOrder.
	for _, useTLS := range []bool{false} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			before := u.Requests()
			args := []string{"--h1", "-c", strconv.Itoa(clients), "-m", strconv.Itoa(depth), "-n", strconv.Itoa(requests),
				f.url(useTLS) + "/path/h2load"}
			out := runH2load(t, h2load, runLimit, requests, args...)
			if got := u.Requests() - before; got != requests {
				t.Errorf("upstream served %d requests, want %d", got, requests)
			}
			t.Logf("%s", lastLines(out, 8))
		})
	}
}
