package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/pool"
)

// newTestBalancer is a balancer over fake pools named a, b, ...
func newTestBalancer(n int) (*balancer, []*fakePool) {
	var members []*member
	var fakes []*fakePool
	for i := range n {
		name := string(rune('a' + i))
		p := &fakePool{proto: name}
		fakes = append(fakes, p)
		members = append(members, &member{name: name, up: p})
	}
	return newBalancer(members, HealthCheck{}, Ejection{}, zerolog.Nop()), fakes
}

// chosen is the name of the member info says carried its request, or "" if none.
func chosen(b *balancer, info *pool.Info) string {
	if info.Upstream == 0 {
		return ""
	}
	return b.members[info.Upstream-1].name
}

func TestBalancerLeastLoaded(t *testing.T) {
	b, fakes := newTestBalancer(3)
	fakes[0].load, fakes[1].load, fakes[2].load = 5, 2, 7
	for range 4 {
		if got, info, err := send(t, b, "x"); err != nil || got != "b x" || chosen(b, info) != "b" {
			t.Fatalf("got %q, %+v, %v; want the least loaded, b", got, info, err)
		}
	}
	// Equal loads take turns.
	fakes[0].load, fakes[1].load, fakes[2].load = 0, 0, 0
	seen := map[string]int{}
	for range 30 {
		_, info, err := send(t, b, "")
		if err != nil {
			t.Fatal(err)
		}
		seen[chosen(b, info)]++
	}
	if seen["a"] != 10 || seen["b"] != 10 || seen["c"] != 10 {
		t.Errorf("equal loads: %v, want 10 each", seen)
	}
}

// TestBalancerUnreachable: a request an unreachable member could not take goes to the next one,
// body and all; the member is passed over for memberRetry, then tried again, and is back once
// it answers.
func TestBalancerUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, fakes := newTestBalancer(2)
		a, bb := fakes[0], fakes[1]
		bb.load = 1 // a is chosen first while it is up
		a.set(fails(errUnreachable))
		got, info, err := send(t, b, "body")
		if err != nil || got != "b body" || chosen(b, info) != "b" || info.Attempts != 2 {
			t.Fatalf("got %q, %+v, %v; want b body from b after 2 attempts", got, info, err)
		}
		for range 5 {
			if got, _, err := send(t, b, "more"); err != nil || got != "b more" {
				t.Fatalf("while a is down: %q, %v; want b more", got, err)
			}
		}
		if n := a.callCount(); n != 1 {
			t.Errorf("a was asked %d times while down, want 1", n)
		}
		time.Sleep(memberRetry)
		a.set(nil)
		if got, info, err := send(t, b, "back"); err != nil || got != "a back" || info.Attempts != 1 {
			t.Errorf("after memberRetry: %q, %+v, %v; want a back", got, info, err)
		}
		if at := b.members[0].downUntil.Load(); at != 0 {
			t.Errorf("a still down until %v after it answered", time.Unix(0, at))
		}
	})
}

// TestBalancerNoResend: what a member may have taken goes nowhere else: a body it read from, a
// request it may have processed, one whose client left; with every member unreachable, the
// last error comes back.
func TestBalancerNoResend(t *testing.T) {
	readsThenFails := func(req *http.Request) (*http.Response, error) {
		io.ReadFull(req.Body, make([]byte, 2))
		req.Body.Close()
		return nil, pool.NotProcessed(errors.New("reset"))
	}
	maybe := fmt.Errorf("%w: %w", pool.ErrMaybeProcessed, pool.ErrSessionFailed)
	for _, tc := range []struct {
		name string
		rt   func(*http.Request) (*http.Response, error)
		want error
	}{
		{"body read", readsThenFails, pool.ErrNotProcessed},
		{"maybe processed", fails(maybe), pool.ErrMaybeProcessed},
		{"response timeout", fails(pool.ErrResponseTimeout), pool.ErrResponseTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, fakes := newTestBalancer(2)
			fakes[1].load = 1
			fakes[0].set(tc.rt)
			if _, _, err := send(t, b, "body"); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if n := fakes[1].callCount(); n != 0 {
				t.Errorf("the other member was asked %d times, want 0", n)
			}
		})
	}
	t.Run("maybe processed, then unreachable", func(t *testing.T) {
		// The member's pool sent the idempotent request once more, to no upstream: the next
		// member gets it instead, and no member after that one.
		b, fakes := newTestBalancer(3)
		fakes[1].load, fakes[2].load = 1, 2
		gone := fmt.Errorf("%w: %w", pool.ErrMaybeProcessed, errUnreachable)
		fakes[0].set(fails(gone))
		fakes[1].set(fails(gone))
		if _, info, err := send(t, b, ""); !errors.Is(err, pool.ErrMaybeProcessed) || !info.Resent {
			t.Errorf("got %v, Resent %v; want the second member's error, Resent", err, info.Resent)
		}
		if n := fakes[1].callCount(); n != 1 {
			t.Errorf("the second member was asked %d times, want 1", n)
		}
		if n := fakes[2].callCount(); n != 0 {
			t.Errorf("the third member was asked %d times, want 0", n)
		}
	})
	t.Run("all unreachable", func(t *testing.T) {
		b, fakes := newTestBalancer(3)
		for _, f := range fakes {
			f.set(fails(errUnreachable))
		}
		_, info, err := send(t, b, "body")
		if !errors.Is(err, pool.ErrUnavailable) || info.Attempts != 3 {
			t.Errorf("got %v after %d attempts, want ErrUnavailable after 3", err, info.Attempts)
		}
		for i, f := range fakes {
			if n := f.callCount(); n != 1 {
				t.Errorf("member %d asked %d times, want 1", i, n)
			}
		}
		// Every member down: requests still try them, the first to come back first.
		if _, _, err := send(t, b, ""); !errors.Is(err, pool.ErrUnavailable) {
			t.Errorf("second request: got %v, want ErrUnavailable", err)
		}
	})
	t.Run("client left", func(t *testing.T) {
		b, fakes := newTestBalancer(2)
		fakes[1].load = 1
		ctx, cancel := context.WithCancel(context.Background())
		fakes[0].set(func(req *http.Request) (*http.Response, error) {
			cancel()
			return nil, fmt.Errorf("%w: %w", pool.ErrQueueTimeout, context.Canceled)
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://up.test/", nil)
		if _, err := b.RoundTrip(req); err == nil || fakes[1].callCount() != 0 {
			t.Errorf("got %v, other member asked %d times; want an error and 0", err, fakes[1].callCount())
		}
	})
}

func TestNewUpstreamsChecks(t *testing.T) {
	many := make([]string, maxMembers)
	for i := range many {
		many[i] = fmt.Sprintf("h2c://127.0.0.1:%d", i+2)
	}
	for _, tc := range []struct {
		first string
		more  []string
		want  string
	}{
		{"h2c://127.0.0.1:1", []string{"https://127.0.0.1:2"}, "scheme"},
		{"h2c://127.0.0.1:1", []string{"h2c://127.0.0.1:1"}, "twice"},
		{"h2c://127.0.0.1:1", many, "at most"},
		{"h2c://127.0.0.1:1", []string{"h2c://127.0.0.1"}, "port"},
	} {
		cfg := &Config{Upstream: tc.first, Upstreams: tc.more}
		if _, err := newRouter(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s + %d more: got %v, want ErrConfig saying %q", tc.first, len(tc.more), err, tc.want)
		}
	}
	for _, path := range []string{"healthz", "/a b", "http://a/"} {
		cfg := &Config{Upstream: "h2c://127.0.0.1:1", Upstreams: []string{"h2c://127.0.0.1:2"}, HealthCheck: HealthCheck{Path: path}}
		if _, err := newRouter(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("health check path %q: got %v, want ErrConfig", path, err)
		}
	}
	// https, h3 and h3+h2 all send :scheme https, and mix.
	cfg := &Config{Upstream: "https://127.0.0.1:1", Upstreams: []string{"h3://127.0.0.1:2", "h3+h2://127.0.0.1:3"}}
	rt, err := newRouter(cfg)
	if err != nil {
		t.Fatalf("https + h3 + h3+h2: %v", err)
	}
	up := rt.def.up
	if b, ok := up.(*balancer); !ok || len(b.members) != 3 {
		t.Errorf("got %T, want a balancer of 3", up)
	}
	up.Shutdown(context.Background())
}

// TestBalancerStarts: the balancer starts pipelined requests where every member's pool does
// (muxgate's own HTTP/2 sessions), and not otherwise.
func TestBalancerStarts(t *testing.T) {
	for _, c := range []struct {
		upstreams []string
		engine    string
		want      bool
	}{
		{[]string{"h2c://127.0.0.1:1", "h2c://127.0.0.1:2"}, "", true},
		{[]string{"https://127.0.0.1:1", "https://127.0.0.1:2"}, "", true},
		{[]string{"h2c://127.0.0.1:1", "h2c://127.0.0.1:2"}, "x/net", false},
		{[]string{"https://127.0.0.1:1", "h3://127.0.0.1:2"}, "", false},
	} {
		cfg := Config{Upstream: c.upstreams[0], Upstreams: c.upstreams[1:], Pool: PoolConfig{H2Engine: c.engine}}
		rt, err := newRouter(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		up := rt.def.up
		b, ok := up.(*balancer)
		if !ok || b.Starts() != c.want {
			t.Errorf("%v, engine %q: a balancer %v that starts %v, want %v", c.upstreams, c.engine, ok, ok && b.Starts(), c.want)
		}
		up.Shutdown(context.Background())
	}
}
