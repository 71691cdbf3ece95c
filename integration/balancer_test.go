//go:build unix

package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/websocket"

	"muxgate/gateway"
	"muxgate/internal/demo"
)

// TestSeveralUpstreams: with more than one upstream, requests are spread over them, each on
// sessions of its own; when one goes away (GOAWAY, then its port closes), the others take its
// share and no request fails.
func TestSeveralUpstreams(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			a := startUpstream(t, k, demo.Options{})
			b := startUpstream(t, k, demo.Options{})
			cfg := testConfig(a)
			cfg.Upstreams = []string{b.url}
			access := &logBuffer{}
			cfg.AccessLog = zerolog.New(access)
			f := startGateway(t, cfg)
			c := newClient(t)
			getAll(t, c, f.url(false)+"/bytes/10", 100)
			if ra, rb := a.Requests(), b.Requests(); ra+rb != 100 || ra < 25 || rb < 25 {
				t.Errorf("the upstreams got %d and %d requests, want 100 spread over both", ra, rb)
			}
			for _, u := range []string{a.url, b.url} {
				if !strings.Contains(access.String(), `"upstream":"`+u+`"`) {
					t.Errorf("no access-log line names %s", u)
				}
			}

			// A WebSocket holds its stream while it is open, and counts as its upstream's load:
			// four open at once go two and two.
			for i := range 4 {
				ws, err := websocket.Dial("ws://"+f.addr+"/websocket", "", "http://"+f.addr)
				if err != nil {
					t.Fatalf("WebSocket %d: %v", i, err)
				}
				defer ws.Close()
				ws.SetDeadline(time.Now().Add(rawDeadline))
				var got string
				if websocket.Message.Send(ws, "hi") != nil || websocket.Message.Receive(ws, &got) != nil || got != "hi" {
					t.Fatalf("WebSocket %d: no echo", i)
				}
			}
			if na, nb := a.Active(), b.Active(); na != 2 || nb != 2 {
				t.Errorf("four WebSockets: the upstreams hold %d and %d, want 2 and 2", na, nb)
			}

			ctx, cancel := context.WithTimeout(context.Background(), rawDeadline)
			defer cancel()
			if err := b.GoAway(ctx); err != nil {
				t.Fatal(err)
			}
			b.Close()
			before := a.Requests()
			getAll(t, c, f.url(false)+"/bytes/10", 100)
			if got := a.Requests() - before; got != 100 {
				t.Errorf("after the second upstream went away, the first got %d of 100 requests", got)
			}
		})
	}
}

// TestUpstreamDownFromTheStart: an upstream that no one listens for costs no request: each that
// finds it unreachable goes to the other.
func TestUpstreamDownFromTheStart(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			a := startUpstream(t, k, demo.Options{})
			cfg := testConfig(a)
			cfg.Upstreams = []string{k.scheme() + freePort(t, k)}
			f := startGateway(t, cfg)
			getAll(t, newClient(t), f.url(true)+"/bytes/10", 50)
			if got := a.Requests(); got != 50 {
				t.Errorf("the live upstream got %d of 50 requests", got)
			}
		})
	}
}

// getAll fetches url n times, one after the other, and fails the test at the first answer that
// is not 200.
func getAll(t *testing.T, c *http.Client, url string, n int) {
	t.Helper()
	for i := range n {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %s (%s), want 200", i, resp.Status, resp.Header.Get("X-Muxgate-Error"))
		}
	}
}

// TestHealthChecks: an upstream that answers its health checks with 503 gets no requests once it
// failed two in a row, and is back once it passed two; the metrics say which is healthy.
func TestHealthChecks(t *testing.T) {
	type checked struct {
		*upstream
		sick   atomic.Bool
		checks chan struct{} // one per health check answered
		served atomic.Int32  // requests other than the checks
	}
	start := func() *checked {
		c := &checked{checks: make(chan struct{}, 1000)}
		app := demo.Handler()
		c.upstream = startUpstream(t, upstreamKinds[0], demo.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				c.served.Add(1)
				app.ServeHTTP(w, r)
				return
			}
			if c.sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			c.checks <- struct{}{}
		})})
		return c
	}
	// awaitChecks waits for n more checks of u. They come one after the other: once the third
	// after a change has come, the two before it have been recorded.
	awaitChecks := func(u *checked, n int) {
		t.Helper()
		for range n {
			select {
			case <-u.checks:
			case <-time.After(rawDeadline):
				t.Fatal("no health check came")
			}
		}
	}
	a, b := start(), start()
	cfg := testConfig(a.upstream)
	cfg.Upstreams = []string{b.url}
	cfg.HealthCheck = gateway.HealthCheck{Path: "/health", Interval: 20 * time.Millisecond}
	cfg.MetricsAddr = "127.0.0.1:0"
	f := startGateway(t, cfg)
	admin := "http://" + f.g.MetricsAddr().String()
	c := newClient(t)
	healthy := func(u *checked) float64 { return scrape(t, admin)[`muxgate_upstream_healthy{upstream="`+u.url+`"}`] }

	b.sick.Store(true)
	awaitChecks(b, 1) // the check under way when b fell sick may have passed
	awaitChecks(b, 3)
	servedA, servedB := a.served.Load(), b.served.Load()
	getAll(t, c, f.url(false)+"/bytes/10", 20)
	if got := b.served.Load() - servedB; got != 0 || a.served.Load()-servedA != 20 {
		t.Errorf("b failing its checks got %d of 20 requests, want none", got)
	}
	if healthy(a) != 1 || healthy(b) != 0 {
		t.Errorf("healthy gauges %v and %v, want 1 and 0", healthy(a), healthy(b))
	}

	b.sick.Store(false)
	awaitChecks(b, 1)
	awaitChecks(b, 3)
	servedB = b.served.Load()
	// A check in flight counts in b's load, which then exceeds a's idle one, and a takes the
	// request. Once, on a loaded machine under -race, b took none of 20 requests in a row: checks
	// are the only streams b carries here, and they come every 20 ms. b must take one of 200.
	sent := 0
	for sent < 200 && b.served.Load() == servedB {
		getAll(t, c, f.url(false)+"/bytes/10", 1)
		sent++
	}
	if b.served.Load() == servedB {
		t.Errorf("b passing its checks again got none of %d requests", sent)
	}
	if healthy(b) != 1 {
		t.Errorf("healthy gauge of b %v, want 1", healthy(b))
	}
}

// TestSeveralUpstreamsPipelined: pipelined requests are spread over the upstreams too and
// answered in order; those that find an upstream down go to another. Over muxgate's own HTTP/2
// session each is sent as it is read (the balancer's Start), and one that a down upstream did
// not take goes on when its turn comes.
func TestSeveralUpstreamsPipelined(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			a := startUpstream(t, k, demo.Options{})
			b := startUpstream(t, k, demo.Options{})
			cfg := testConfig(a)
			cfg.Upstreams = []string{b.url, k.scheme() + freePort(t, k)}
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			const rounds, depth = 20, 8
			for range rounds {
				var pipeline strings.Builder
				for i := 1; i <= depth; i++ {
					fmt.Fprintf(&pipeline, "GET /bytes/%d HTTP/1.1\r\nHost: example.test\r\n\r\n", i)
				}
				c.send(pipeline.String())
				for i := 1; i <= depth; i++ {
					if resp, body := c.response("GET"); resp.StatusCode != 200 || len(body) != i {
						t.Fatalf("pipelined /bytes/%d: %s with %d bytes", i, resp.Status, len(body))
					}
				}
			}
			if ra, rb := a.Requests(), b.Requests(); ra+rb != rounds*depth || ra == 0 || rb == 0 {
				t.Errorf("the live upstreams got %d and %d requests, want %d spread over both", ra, rb, rounds*depth)
			}
		})
	}
}
