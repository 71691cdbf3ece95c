//go:build unix

package integration

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// h2loadRequests matches h2load's summary of the requests, e.g.
// "requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout".
var h2loadRequests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)

// h2loadResult is what h2load says about the requests of one run.
type h2loadResult struct {
	total, started, done, succeeded, failed, errored, timeout int
}

func parseH2load(out string) (h2loadResult, error) {
	m := h2loadRequests.FindStringSubmatch(out)
	if m == nil {
		return h2loadResult{}, fmt.Errorf("no requests: line in h2load's output")
	}
	var n [7]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return h2loadResult{n[0], n[1], n[2], n[3], n[4], n[5], n[6]}, nil
}

// TestParseH2load pins the parser on h2load 1.52's output, so a format change fails here and not
// as a puzzling load failure.
func TestParseH2load(t *testing.T) {
	const out = `finished in 1.23s, 16260.16 req/s, 2.54MB/s
requests: 20000 total, 20000 started, 19990 done, 19980 succeeded, 10 failed, 7 errored, 3 timeout
status codes: 19980 2xx, 0 3xx, 0 4xx, 0 5xx
`
	got, err := parseH2load(out)
	if err != nil {
		t.Fatal(err)
	}
	want := h2loadResult{20000, 20000, 19990, 19980, 10, 7, 3}
	if got != want {
		t.Errorf("parseH2load: got %+v, want %+v", got, want)
	}
	if _, err := parseH2load("finished in 1s\n"); err == nil {
		t.Error("parseH2load accepted output without a requests: line")
	}
}

// TestLoadH2load: 200 HTTP/1.1 clients, 20000 requests, none failed; the upstream sees no more
// connections than its stream limit makes necessary.
func TestLoadH2load(t *testing.T) {
	const (
		clients  = 200
		requests = 20000
		streams  = 100 // the upstream's SETTINGS_MAX_CONCURRENT_STREAMS
		runLimit = 3 * time.Minute
	)
	h2load := needTool(t, "h2load")
	for _, k := range upstreamKinds {
		for _, useTLS := range []bool{false, true} {
			name := k.name + "/" + map[bool]string{false: "http", true: "https"}[useTLS]
			t.Run(name, func(t *testing.T) {
				u := startUpstream(t, k, demo.Options{MaxConcurrentStreams: streams})
				cfg := testConfig(u)
				cfg.Front.MaxConns = 2 * clients
				f := startGateway(t, cfg)

				args := []string{"--h1", "-c", strconv.Itoa(clients), "-n", strconv.Itoa(requests), f.url(useTLS) + "/bytes/100"}
				start := time.Now()
				runH2load(t, h2load, runLimit, requests, args...)
				elapsed := time.Since(start)
				peak, conns := u.Peak(), u.Accepted()
				t.Logf("%d requests in %v; upstream: %d requests, peak %d concurrent in its handler, %d connections",
					requests, elapsed.Round(time.Millisecond), u.Requests(), peak, conns)
				if u.Requests() != requests {
					t.Errorf("upstream served %d requests, want %d", u.Requests(), requests)
				}
				// The load has at most one request per client in flight, so the pool never needs
				// more than ceil(clients/streams) sessions. The peak in the upstream's handler is
				// no bound: a stream stays reserved in the pool from before its HEADERS are
				// written until the client has its response, well beyond the handler's run, so
				// the pool rightly opens a second session in the first burst of 200 requests
				// while the handler sees fewer than 100 at once. TestPoolGrowth pins the exact
				// growth rule with requests held in the handler.
				if want := int64((clients + streams - 1) / streams); conns > want {
					t.Errorf("upstream accepted %d connections for at most %d concurrent requests, want at most ceil(%d/%d) = %d",
						conns, clients, clients, streams, want)
				}
			})
		}
	}
}

// TestPoolGrowth: the pool opens another upstream session exactly when every session has as
// many streams open as the upstream allows (its SETTINGS_MAX_CONCURRENT_STREAMS), not before.
func TestPoolGrowth(t *testing.T) {
	const streams = 10
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			b := newBlocker(t)
			u := startUpstream(t, k, demo.Options{Handler: b.handler(), MaxConcurrentStreams: streams})
			cfg := testConfig(u)
			cfg.Pool.MaxSessions = 4
			if k.h3 {
				// The HTTP/3 pool cannot follow the upstream's stream limit: quic-go does not
				// expose the peer's MAX_STREAMS (see h3.DefaultMaxStreams). Told the limit, it
				// must grow exactly as over HTTP/2.
				cfg.Pool.MaxStreamsPerSession = streams
			}
			f := startGateway(t, cfg)
			defer b.unblock()
			c := newClient(t)

			const total = 2*streams + 1
			results := make(chan string, total)
			for i := range total {
				path := fmt.Sprintf("/block/%d", i)
				getAsync(c, f.url(false), path, results)
				// One request at a time, so the held streams fill the sessions in order.
				if got := b.waitEntered(t); got != path {
					t.Fatalf("upstream got %s, want %s", got, path)
				}
				held := i + 1
				want := int64((held + streams - 1) / streams)
				if n := u.Accepted(); n != want {
					t.Fatalf("with %d requests held open, upstream accepted %d connections, want ceil(%d/%d) = %d",
						held, n, held, streams, want)
				}
			}
			if u.Active() != total {
				t.Errorf("upstream has %d requests in its handler, want %d", u.Active(), total)
			}
			b.unblock()
			expectOK(t, results, total)
		})
	}
}

// runH2load runs h2load with args, bounded by limit, and checks that all of its requests
// succeeded with a 2xx status and none failed, errored or timed out. It returns h2load's output.
func runH2load(t *testing.T, h2load string, limit time.Duration, requests int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	b, err := exec.CommandContext(ctx, h2load, args...).CombinedOutput()
	out := string(b)
	if ctx.Err() != nil {
		t.Fatalf("h2load %s did not finish within %v\n%s", strings.Join(args, " "), limit, out)
	}
	if err != nil {
		t.Fatalf("h2load %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	r, err := parseH2load(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.succeeded != requests || r.failed != 0 || r.errored != 0 || r.timeout != 0 {
		t.Errorf("h2load: %d succeeded, %d failed, %d errored, %d timeout; want %d succeeded and no other\n%s",
			r.succeeded, r.failed, r.errored, r.timeout, requests, out)
	}
	if !strings.Contains(out, fmt.Sprintf("status codes: %d 2xx", requests)) {
		t.Errorf("not every status was 2xx\n%s", out)
	}
	return out
}
