package pool

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// acquire returns a session with one stream counted and reserved on it. It
// prefers sessions not in tried, the ones a retried request already used.
func (p *Pool) acquire(ctx context.Context, tried []*entry) (*entry, error) {
	for {
		e, err := p.take(ctx, tried)
		if err != nil {
			return nil, err
		}
		if e.s.Reserve() {
			return e, nil
		}
		p.mu.Lock()
		p.refusedLocked(e)
		p.releaseLocked(e)
		p.mu.Unlock()
	}
}

// refusedLocked deals with a session whose Reserve refused the stream the pool counted on it.
// One that began to drain or died is dropped. One that is live but full by its own count (its
// peer lowered MAX_CONCURRENT_STREAMS, or a stream the pool already released still ends on the
// wire) is passed over until one of its streams ends, rather than replaced: dropping it would
// cost a dial and a drain for a moment's difference in counting. A live session with no other
// stream in flight would never see one end, so it is dropped after all.
func (p *Pool) refusedLocked(e *entry) {
	if e.dropped {
		return
	}
	if st := e.s.State(); !st.Closed && !st.Draining && e.inflight > 1 {
		e.full = true
		return
	}
	p.dropLocked(e, EndRefused)
	p.endedLocked(e)
}

// take counts a stream on the least-loaded session with room, or queues the
// request until one has room.
func (p *Pool) take(ctx context.Context, tried []*entry) (*entry, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if e := p.pickLocked(tried); e != nil {
		p.countLocked(e)
		if p.belowMinLocked() {
			p.dialLocked()
		}
		p.mu.Unlock()
		return e, nil
	}
	if len(p.sessions) == 0 && p.dial.err != nil && p.failFastLocked() {
		err := p.dial.err
		p.dialLocked()
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(p.waiters) >= p.cfg.QueueLength {
		p.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := p.enqueueLocked(ctx, tried)
	p.dialLocked()
	p.mu.Unlock()
	return p.wait(w)
}

// failFastLocked reports whether a request fails at once while the upstream is unreachable (no
// session, and the last dial failed): within the back-off after the failed dial nothing could
// serve it sooner. Past the back-off it waits for the dial it starts (or one under way) and gets
// its outcome, so that the first request after an outage is not failed with the outage's error;
// with FailWhileUnreachable it fails, and the dial serves the requests that follow.
func (p *Pool) failFastLocked() bool {
	return p.cfg.FailWhileUnreachable || !p.dialing && time.Now().Before(p.dial.next)
}

// pickLocked returns the session with room and the fewest streams in
// flight, of those the one that took a stream least lately, dropping the draining and dead
// ones it meets. A session in tried
// is used only when no other has room and no session can be added now.
func (p *Pool) pickLocked(tried []*entry) *entry {
	var best, fallback *entry
	var now time.Time
	if p.cfg.MaxSessionAge > 0 {
		now = time.Now()
	}
	for i := 0; i < len(p.sessions); {
		e := p.sessions[i]
		if !now.IsZero() && !now.Before(e.retireAt) && p.retireLocked(e, now) {
			continue
		}
		st := e.s.State()
		if st.Closed || st.Draining {
			reason := EndGoAway
			switch {
			case st.Silent:
				reason = EndSilent
			case st.Closed:
				reason = EndClosed
			}
			p.dropLocked(e, reason)
			if st.Silent && p.cfg.FailWhileUnreachable {
				// Its host may be gone: as after a failed dial, requests go elsewhere at
				// once rather than wait for one to it.
				p.unreachableLocked(ErrPeerSilent, "session's peer stopped answering")
			} else {
				p.endedLocked(e)
			}
			continue
		}
		i++
		if e.full || e.inflight >= p.limit(st) {
			continue
		}
		if slices.Contains(tried, e) {
			if fallback == nil || e.inflight < fallback.inflight {
				fallback = e
			}
			continue
		}
		if best == nil || e.inflight < best.inflight || e.inflight == best.inflight && e.picked < best.picked {
			best = e
		}
	}
	if best == nil && fallback != nil && !p.canGrowLocked() {
		return fallback
	}
	return best
}

// countLocked counts a stream on e, which pickLocked chose.
func (p *Pool) countLocked(e *entry) {
	e.inflight++
	p.streams++
	p.peak = max(p.peak, p.streams)
	p.picks++
	e.picked = p.picks
}

// retireLocked deals with e, past its age (Limits.MaxSessionAge), and reports whether it
// dropped it: it does once another session that is not past its own age takes new streams (with
// Limits.MinSessions, one in e's slot, so that e's address keeps its share), or where no session
// may be added; else e serves on while the dial of its replacement runs (or waits for its
// back-off: an upstream that cannot be reached keeps the sessions it has).
func (p *Pool) retireLocked(e *entry, now time.Time) bool {
	replaced := slices.ContainsFunc(p.sessions, func(o *entry) bool {
		if o == e || !now.Before(o.retireAt) || p.cfg.MinSessions > 1 && o.slot != e.slot {
			return false
		}
		st := o.s.State()
		return !st.Closed && !st.Draining
	})
	if !replaced && len(p.sessions) < p.cfg.MaxSessions {
		p.dialLocked()
		return false
	}
	e.retired = true
	p.dropLocked(e, EndAge)
	return true
}

// canGrowLocked reports whether a session is being added or may be added
// now.
func (p *Pool) canGrowLocked() bool {
	return len(p.sessions) < p.cfg.MaxSessions && (p.dialing || !time.Now().Before(p.dial.next))
}

// limit is how many streams the pool puts on a session in state st.
func (p *Pool) limit(st SessionState) int {
	n := st.MaxStreams
	if n < 0 {
		n = math.MaxInt
	}
	if c := p.cfg.MaxStreamsPerSession; c > 0 {
		n = min(n, c)
	}
	return n
}

// release returns a stream counted by acquire, once the stream ended: the session may take
// another even if it refused one before (see refusedLocked).
func (p *Pool) release(e *entry) {
	p.mu.Lock()
	e.full = false
	p.releaseLocked(e)
	p.mu.Unlock()
}

func (p *Pool) releaseLocked(e *entry) {
	e.inflight--
	p.streams--
	if e.inflight == 0 {
		e.lastIdle = time.Now()
	}
	if !e.dropped {
		p.grantLocked()
		return
	}
	if e.inflight == 0 {
		if i := slices.Index(p.dropped, e); i >= 0 {
			p.dropped = slices.Delete(p.dropped, i, i+1)
			p.closeLocked(e)
		}
		if e.ended {
			p.judgeEndedLocked(e)
		}
	}
}

// dropLocked takes e out of the sessions that take new streams, for reason. It is closed
// once its last stream is released.
func (p *Pool) dropLocked(e *entry, reason EndReason) {
	if i := slices.Index(p.sessions, e); i >= 0 {
		p.sessions = slices.Delete(p.sessions, i, i+1)
	}
	e.dropped = true
	p.ends[reason]++
	p.log.Debug().Uint64("session", e.id).Stringer("reason", reason).Int("in_flight", e.inflight).
		Msg("session dropped")
	if e.inflight == 0 {
		p.closeLocked(e)
		return
	}
	p.dropped = append(p.dropped, e)
}

// closeLocked closes e on a goroutine of the pool. After Shutdown started,
// Shutdown closes the sessions itself.
func (p *Pool) closeLocked(e *entry) {
	if p.closed {
		return
	}
	if e.retired {
		// It works: its GOAWAY tells the upstream that it ends on purpose, with no stream
		// left behind (RFC 9113 6.8).
		p.wg.Go(func() {
			if e.s.Shutdown(p.ctx) != nil {
				e.s.Close()
			}
		})
		return
	}
	p.wg.Go(func() { e.s.Close() })
}
