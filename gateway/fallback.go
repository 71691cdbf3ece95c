package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/pool"
)

// The fallback's fixed policy.
const (
	// fallbackFailures is how many primary failures in a row, with live
	// sessions, make the fallback switch; an unreachable primary switches at
	// once.
	fallbackFailures = 3

	// After a switch the primary is tried again after a back-off that doubles
	// from fallbackMinBackoff to fallbackMaxBackoff while it keeps failing.
	fallbackMinBackoff = time.Second
	fallbackMaxBackoff = time.Minute
)

// statePool is a pool that reports its state and load: h2.Pool and h3.Pool.
type statePool interface {
	loadPool
	State() pool.State
}

// fallback is the upstream of h3+h2://host:port. It sends requests to its primary pool (HTTP/3)
// and switches to its secondary (HTTP/2 over TLS to the same host and port) when the primary
// cannot connect (a UDP path that is blocked or refused shows as a failed dial) or its
// connections fail requests fallbackFailures times in a row (see failed). While switched, one
// request at a time tries the primary again once the back-off has passed; its success switches
// back. A request that the primary provably
// did not take (no session, or not processed, with no byte of its body read) is sent on the
// secondary at once, so that a switch costs the client nothing, as is a WebSocket whose extended
// CONNECT the primary does not take; one that the primary may have
// processed (pool.ErrMaybeProcessed), whose retry the pool has made already, is not.
//
// Which pool served a request is in pool.Info.Protocol, as for a single pool.
type fallback struct {
	primary   statePool
	secondary statePool
	log       zerolog.Logger

	mu    sync.Mutex
	state fallbackState // guarded by mu
}

// fallbackState is a snapshot of a fallback's choice.
type fallbackState struct {
	OnSecondary bool          // requests go to the secondary pool
	Failures    int           // primary failures in a row
	Switches    int           // switches to the secondary so far
	Backoff     time.Duration // the wait before the primary is tried again; 0 on the primary
	Retry       time.Time     // when the primary is tried again, while on the secondary
	Probing     bool          // a request is trying the primary while on the secondary
}

func newFallback(primary, secondary statePool, log zerolog.Logger) *fallback {
	return &fallback{primary: primary, secondary: secondary, log: log}
}

// State returns the fallback's choice and the state of both pools.
func (f *fallback) State() (fallbackState, pool.State, pool.State) {
	f.mu.Lock()
	st := f.state
	f.mu.Unlock()
	return st, f.primary.State(), f.secondary.State()
}

// RoundTrip sends req on the pool the fallback currently chooses, and on the secondary as well
// when the primary provably did not take it.
func (f *fallback) RoundTrip(req *http.Request) (*http.Response, error) {
	primary, probe := f.choose()
	if !primary {
		return f.secondary.RoundTrip(req)
	}
	r, body := holdBody(req) // so that it can still go to the secondary
	res, err := f.primary.RoundTrip(r)
	if err == nil {
		body.commit()
		f.succeeded(probe)
		return res, nil
	}
	resend := f.failed(req.Context(), err, probe)
	if resend && body.detach() {
		info := pool.InfoFrom(req.Context())
		var tried int
		if info != nil {
			tried = info.Attempts
		}
		res, err := f.secondary.RoundTrip(req)
		if info != nil && info.Attempts > 0 {
			info.Attempts += tried
		}
		return res, err
	}
	body.commit()
	return nil, err
}

// choose reports whether a request goes to the primary, and whether it is the one request
// that tries the primary again while on the secondary.
func (f *fallback) choose() (primary, probe bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &f.state
	switch {
	case !st.OnSecondary:
		return true, false
	case !st.Probing && !time.Now().Before(st.Retry):
		st.Probing = true
		return true, true
	}
	return false, false
}

func (f *fallback) succeeded(probe bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &f.state
	st.Failures = 0
	if probe {
		f.log.Info().Int("switches", st.Switches).Msg("upstream: primary protocol answers again; switching back")
		*st = fallbackState{Switches: st.Switches}
	}
}

// failed counts a failure of the primary when err says its path or connections fail (it is
// unreachable, a connection failed, or a request was not processed), switches to the secondary
// when the policy says so, and reports whether req may go to the secondary: the primary provably
// did not take it.
func (f *fallback) failed(ctx context.Context, err error, probe bool) (resend bool) {
	unreachable := errors.Is(err, pool.ErrUnavailable) ||
		errors.Is(err, pool.ErrQueueTimeout) && !live(f.primary.State())
	notProcessed := errors.Is(err, pool.ErrNotProcessed)
	counts := unreachable || notProcessed || connectionFailed(err)
	// An extended CONNECT (a WebSocket) that the primary's SETTINGS do not allow (RFC 9220 3)
	// was not sent, and the secondary's may allow it (RFC 8441 3); it says nothing of the path.
	noConnect := errors.Is(err, pool.ErrNoExtendedConnect)
	if ctx.Err() != nil || errors.Is(err, pool.ErrClosed) || errors.Is(err, pool.ErrResponseTimeout) {
		// The client left, the request timed out, or the gateway is shutting down: nothing
		// is learnt about the primary, and nothing is resent.
		counts, unreachable, notProcessed, noConnect = false, false, false, false
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	st := &f.state
	if probe {
		st.Probing = false
	}
	if !counts {
		return noConnect
	}
	st.Failures++
	switch {
	case probe:
		st.Backoff = min(2*st.Backoff, fallbackMaxBackoff)
		st.Retry = time.Now().Add(st.Backoff)
	case !st.OnSecondary && (unreachable || st.Failures >= fallbackFailures):
		st.OnSecondary = true
		st.Switches++
		st.Backoff = fallbackMinBackoff
		st.Retry = time.Now().Add(st.Backoff)
		f.log.Warn().Err(err).Int("failures", st.Failures).Dur("retry_in_ms", st.Backoff).
			Msg("upstream: primary protocol failing; switching to the secondary")
	}
	// A request one of whose attempts the primary may have processed goes nowhere else, even
	// if its last attempt found the primary unreachable or was not processed.
	return (unreachable || notProcessed) && !errors.Is(err, pool.ErrMaybeProcessed)
}

// connectionFailed reports whether err says that a primary's connection failed under the
// request: it died after the request was sent (pool.ErrMaybeProcessed, pool.ErrSessionFailed).
// A failure of the request alone on a live connection says nothing of the path: a stream the
// upstream reset because its handler failed (H3_INTERNAL_ERROR, RFC 9114 8.1), or a response
// past quic-go's bound on 1xx responses, would fail over HTTP/2 as well, and three of them must
// not switch every request to HTTP/2.
func connectionFailed(err error) bool {
	return errors.Is(err, pool.ErrMaybeProcessed) || errors.Is(err, pool.ErrSessionFailed)
}

// live reports whether a pool has a session that takes streams.
func live(st pool.State) bool {
	for _, s := range st.Sessions {
		if !s.Closed && !s.Draining {
			return true
		}
	}
	return false
}

// Load is the requests both pools carry.
func (f *fallback) Load() int { return f.primary.Load() + f.secondary.Load() }

// Shutdown shuts both pools down at once.
func (f *fallback) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	var perr, serr error
	wg.Go(func() { perr = f.primary.Shutdown(ctx) })
	wg.Go(func() { serr = f.secondary.Shutdown(ctx) })
	wg.Wait()
	return errors.Join(perr, serr)
}
