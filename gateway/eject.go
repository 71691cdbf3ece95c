package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"muxgate/internal/pool"
)

// Ejection takes one of several upstreams out of the balancer for a while once it has failed
// requests in a row (Config.Eject), so that an upstream that answers but fails (a broken
// application answering 503, a backend behind it that is down) stops taking its share of the
// requests, as Envoy's outlier detection and HAProxy's observe layer7 do. Health checks find
// the same only if the path they ask for fails too, and only at their interval.
type Ejection struct {
	// After is how many failures in a row eject an upstream: responses with status 502, 503
	// or 504 from it, and attempts it failed without a response (a reset stream, no head in
	// time), not those the client or muxgate's own limits caused. 0: no ejection.
	After int
	// For is how long the first ejection lasts; each one that follows the upstream's return
	// without a success in between lasts twice as long as the one before, up to 8 times For.
	// 0: 30s.
	For time.Duration
}

const (
	defaultEjectFor = 30 * time.Second
	maxEjectFactor  = 8
)

// outlier is a member's record of its failures in a row and its ejections.
type outlier struct {
	fails   atomic.Int32  // failures in a row
	until   atomic.Int64  // UnixNano until which the member is ejected; 0: not
	streak  atomic.Int32  // ejections since the member last served a success
	ejected atomic.Uint64 // ejections since the start, for the metrics
}

// ejectedAt reports whether m is ejected at now (UnixNano).
func (o *outlier) ejectedAt(now int64) bool {
	at := o.until.Load()
	return at != 0 && now < at
}

// observe counts the outcome of an attempt m made: a response with status (0 where err, the
// attempt's error, is set). It ejects m once it has failed b.eject.After times in a row, unless
// no other member would be left to serve.
func (b *balancer) observe(m *member, status int, err error) {
	if b.eject.After == 0 {
		return
	}
	if !ejectionFailure(status, err) {
		if m.out.fails.Load() != 0 {
			m.out.fails.Store(0)
		}
		if err == nil && m.out.streak.Load() != 0 {
			m.out.streak.Store(0)
		}
		return
	}
	if int(m.out.fails.Add(1)) < b.eject.After {
		return
	}
	now := time.Now()
	if m.out.ejectedAt(now.UnixNano()) || !b.othersServe(m, now.UnixNano()) {
		return
	}
	k := min(int64(1)<<min(m.out.streak.Add(1)-1, 3), maxEjectFactor)
	d := time.Duration(k) * b.eject.For
	m.out.until.Store(now.Add(d).UnixNano())
	m.out.fails.Store(0)
	m.out.ejected.Add(1)
	b.log.Warn().Str("upstream", m.name).Int("failures", b.eject.After).Dur("for_ms", d).Msg("upstream ejected: it failed requests in a row")
}

// ejectionFailure reports whether an attempt's outcome counts against its upstream: a 502, 503
// or 504 from it, or an error of its own doing. The client's leaving, muxgate's shutdown and its
// own queue limits do not; an unreachable upstream is passed over already (member.down).
func ejectionFailure(status int, err error) bool {
	if err == nil {
		return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, pool.ErrClosed) && !errors.Is(err, pool.ErrQueueFull) &&
		!errors.Is(err, pool.ErrQueueTimeout) && !errors.Is(err, pool.ErrUnavailable) && !errors.Is(err, pool.ErrNotProcessed) &&
		!errors.Is(err, pool.ErrNoExtendedConnect)
}

// othersServe reports whether a member other than m is up, healthy and not ejected at now: an
// ejection must leave one to serve.
func (b *balancer) othersServe(m *member, now int64) bool {
	for _, o := range b.members {
		if o != m && o.serves(now) {
			return true
		}
	}
	return false
}

// serves reports whether m takes requests at now: not down, not unhealthy, not ejected.
func (m *member) serves(now int64) bool {
	at := m.downUntil.Load()
	return (at == 0 || now >= at) && !m.health.unhealthy.Load() && !m.out.ejectedAt(now)
}
