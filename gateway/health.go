package gateway

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// HealthCheck asks a balancer's upstreams for a path now and then (Config.HealthCheck), so that
// one that answers but is not fit to serve (an application that is starting or draining, a
// broken dependency) is passed over as an unreachable one is.
type HealthCheck struct {
	// Path is the target of the checks' GET, such as /healthz; empty: no checks.
	Path string
	// Interval is the time between the checks of one upstream, and the most each may take.
	// Zero means 5s.
	Interval time.Duration

	off bool // no check starts, whatever the paths: Check builds the upstreams to dial none
}

const (
	defaultHealthInterval = 5 * time.Second

	// An upstream is unhealthy after healthFall failed checks in a row, and healthy again after
	// healthRise passed ones, so that one lost check does not take it out, nor one lucky check
	// bring it back (HAProxy's fall and rise, 3 and 2 by default).
	healthFall = 2
	healthRise = 2
)

// health is a member's record of its checks: written by the member's checker alone, read by
// every request's choice.
type health struct {
	unhealthy atomic.Bool
	streak    int // the checker's own: checks in a row that disagree with unhealthy
}

// record counts one check's outcome and reports whether the member's health changed.
func (h *health) record(passed bool) (changed, unhealthy bool) {
	unhealthy = h.unhealthy.Load()
	if passed != unhealthy {
		h.streak = 0 // agrees with what is known
		return false, unhealthy
	}
	h.streak++
	if unhealthy && h.streak >= healthRise || !unhealthy && h.streak >= healthFall {
		h.unhealthy.Store(!unhealthy)
		h.streak = 0
		return true, !unhealthy
	}
	return false, unhealthy
}

// checkPath parses a HealthCheck's Path: an origin-form target, a path and perhaps a query, of
// visible ASCII only (RFC 9112 3.2.1; url.ParseRequestURI lets a space through).
func checkPath(path string) (*url.URL, error) {
	u, err := url.ParseRequestURI(path)
	if err != nil || !strings.HasPrefix(path, "/") || !visibleASCII(path) {
		return nil, fmt.Errorf("%w: health check path %q: want /path[?query]", ErrConfig, path)
	}
	return u, nil
}

// checkHealth checks every member of b that has a path to check (its own, or hc.Path) every
// hc.Interval until ctx ends, one goroutine per member. The paths have passed checkPath.
func (b *balancer) checkHealth(ctx context.Context, hc HealthCheck) {
	interval := hc.Interval
	if interval <= 0 {
		interval = defaultHealthInterval
	}
	for _, m := range b.members {
		target, err := checkPath(cmp.Or(m.healthPath, hc.Path))
		if err != nil {
			continue // neither has one: the member is not checked
		}
		m.checked = true
		b.checkers.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				b.checkOnce(ctx, m, target, interval)
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
		})
	}
}

// checkOnce sends one check to m and records its outcome: a 2xx or 3xx within timeout passes.
func (b *balancer) checkOnce(parent context.Context, m *member, target *url.URL, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Scheme: m.scheme, Host: m.address, Path: target.Path, RawPath: target.RawPath, RawQuery: target.RawQuery},
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     http.Header{"User-Agent": {"muxgate-health-check"}},
		Host:       m.address,
		Body:       http.NoBody,
	}
	req = req.WithContext(ctx)
	m.checking.Add(1)
	resp, err := m.up.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	m.checking.Add(-1)
	if parent.Err() != nil {
		return // the balancer shuts down: the check says nothing of the upstream
	}
	passed := err == nil && status >= 200 && status < 400
	changed, unhealthy := m.health.record(passed)
	if !changed {
		return
	}
	ev := b.log.Info()
	if unhealthy {
		ev = b.log.Warn()
	}
	ev.Str("upstream", m.name).Str("path", target.RequestURI()).Int("status", status).Err(err).Bool("healthy", !unhealthy).
		Msg("upstream health changed")
}
