package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// healthAnswers makes a fake pool answer its health checks (GET /health) with *status and other
// requests as usual.
func healthAnswers(p *fakePool, status *atomic.Int32) {
	p.set(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path == "/health" && req.URL.RawQuery == "deep=1" {
			if ua := req.Header.Get("User-Agent"); ua != "muxgate-health-check" {
				return &http.Response{StatusCode: 400, Body: http.NoBody}, nil
			}
			return &http.Response{StatusCode: int(status.Load()), Body: io.NopCloser(strings.NewReader("check"))}, nil
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(p.proto + " "))}, nil
	})
}

// servedBy sends n requests through bal, one after another, and counts them by the member that
// answered (the fake pools answer with their name).
func servedBy(t *testing.T, bal *balancer, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		got, _, err := send(t, bal, "")
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimSpace(got)]++
	}
	return seen
}

// TestHealthChecks: an upstream that fails healthFall checks in a row gets no requests while
// the others pass theirs, and is back after healthRise passed ones; a single failure changes
// nothing. With every upstream unhealthy, requests still go.
func TestHealthChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &fakePool{proto: "a"}, &fakePool{proto: "b"}
		var statusA, statusB atomic.Int32
		statusA.Store(200)
		statusB.Store(200)
		healthAnswers(a, &statusA)
		healthAnswers(b, &statusB)
		bal := newBalancer([]*member{{name: "a", up: a}, {name: "b", up: b}}, HealthCheck{Path: "/health?deep=1", Interval: time.Second}, Ejection{}, zerolog.Nop())
		defer bal.Shutdown(context.Background())
		served := func() map[string]int { return servedBy(t, bal, 10) }
		synctest.Wait()
		statusA.Store(503)
		time.Sleep(time.Second) // one failed check
		synctest.Wait()
		if seen := served(); seen["a"] == 0 {
			t.Errorf("after one failed check: %v, want a still served", seen)
		}
		time.Sleep(time.Second) // the second in a row
		synctest.Wait()
		if seen := served(); seen["a"] != 0 || seen["b"] != 10 {
			t.Errorf("after %d failed checks: %v, want all on b", healthFall, seen)
		}
		statusB.Store(500)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if seen := served(); seen["a"]+seen["b"] != 10 || seen["a"] == 0 || seen["b"] == 0 {
			t.Errorf("both unhealthy: %v, want requests on both", seen)
		}
		statusA.Store(200)
		statusB.Store(200)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if seen := served(); seen["a"] == 0 || seen["b"] == 0 {
			t.Errorf("after %d passed checks: %v, want both served", healthRise, seen)
		}
	})
}

// slowChecks makes p hold its health checks (GET /health) in flight, counted in its Load as
// pool.Pool counts a stream, until the returned channel is closed or the check's context ends;
// it answers other requests with its name.
func slowChecks(p *fakePool) chan struct{} {
	release := make(chan struct{})
	p.set(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path != "/health" {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(p.proto))}, nil
		}
		p.mu.Lock()
		p.load++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.load--
			p.mu.Unlock()
		}()
		select {
		case <-release:
		case <-req.Context().Done():
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	return release
}

// TestHealthCheckNoLoad: a health check in flight does not count as a member's load, whichever
// balancer sent it (two routes balanced over the same upstreams share their pools, and so their
// checks' count). b answers its checks late, so one is always in flight on its pool (which
// counts it, as pool.Pool does); requests still go to a and b in turn, through the balancer
// that checks b and through another that checks nothing.
func TestHealthCheckNoLoad(t *testing.T) {
	for _, through := range []string{"checker", "other route"} {
		t.Run(through, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := &fakePool{proto: "a"}, &fakePool{proto: "b"}
				release := slowChecks(b)
				var checksA, checksB atomic.Int32
				members := func(health string) []*member {
					return []*member{{name: "a", up: a, checking: &checksA}, {name: "b", up: b, checking: &checksB, healthPath: health}}
				}
				bal := newBalancer(members("/health"), HealthCheck{Interval: time.Minute}, Ejection{}, zerolog.Nop())
				defer bal.Shutdown(context.Background())
				defer close(release)
				if through != "checker" {
					bal = newBalancer(members(""), HealthCheck{}, Ejection{}, zerolog.Nop())
					defer bal.Shutdown(context.Background())
				}
				synctest.Wait() // b's first check is in flight
				if b.Load() != 1 {
					t.Fatalf("b's pool carries %d, want the check", b.Load())
				}
				if seen := servedBy(t, bal, 10); seen["a"] != 5 || seen["b"] != 5 {
					t.Errorf("with b's check in flight: %v, want 5 each", seen)
				}
			})
		})
	}
}

// TestHealthPathOfItsOwn: a member with a health path of its own (;health=) is checked there, and
// only it where there is no HealthCheck.Path: the other is neither checked nor reported.
func TestHealthPathOfItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &fakePool{proto: "a"}, &fakePool{proto: "b"}
		var paths sync.Map
		for _, p := range []*fakePool{a, b} {
			p.set(func(req *http.Request) (*http.Response, error) {
				paths.Store(p.proto+" "+req.URL.RequestURI(), true)
				return &http.Response{StatusCode: 503, Body: http.NoBody}, nil
			})
		}
		bal := newBalancer([]*member{{name: "a", up: a, healthPath: "/ready"}, {name: "b", up: b}}, HealthCheck{Interval: time.Second}, Ejection{}, zerolog.Nop())
		defer bal.Shutdown(context.Background())
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var got []string
		paths.Range(func(k, _ any) bool { got = append(got, k.(string)); return true })
		if len(got) != 1 || got[0] != "a /ready" {
			t.Errorf("checks sent: %q, want a's to /ready alone", got)
		}
		if !bal.members[0].health.unhealthy.Load() || bal.members[1].checked {
			t.Errorf("a unhealthy %v, b checked %v; want a unhealthy after two failed checks, b not checked", bal.members[0].health.unhealthy.Load(), bal.members[1].checked)
		}
	})
}

// TestHealthChecksOff: Check builds the upstreams with the checks off (HealthCheck.off), so that
// an upstream's own health path starts no checker, which would dial it.
func TestHealthChecksOff(t *testing.T) {
	cfg := &Config{Upstream: "h2c://127.0.0.1:1;health=/ready", Upstreams: []string{"h2c://127.0.0.1:2"},
		HealthCheck: HealthCheck{Path: "/healthz", off: true}}
	rt, err := newRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.shutdown(context.Background())
	b := rt.def.up.(*balancer)
	if b.stopChecks != nil || b.members[0].checked || b.members[1].checked {
		t.Error("checks started with HealthCheck.off")
	}
}
