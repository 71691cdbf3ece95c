package pool

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// dialState is the outcome of past dials. Owned by Pool.mu.
type dialState struct {
	err      error         // the last dial error; nil after a success
	failures int           // failed dials since the last success
	backoff  time.Duration // the wait after the last failure; 0 after a success
	next     time.Time     // no dial starts before this
}

// dialLocked starts a dial if none is running, a session may be added and
// the back-off has passed. Dials are driven by demand: callers are requests
// that found no room.
func (p *Pool) dialLocked() {
	if p.closed || p.dialing || len(p.sessions) >= p.cfg.MaxSessions || time.Now().Before(p.dial.next) {
		return
	}
	p.dialing = true
	p.nextID++
	id := p.nextID
	p.dialSlot = p.freeSlotLocked()
	turn := id
	if p.cfg.MinSessions > 1 {
		turn = uint64(p.dialSlot)
	}
	p.wg.Go(func() { p.runDial(id, turn) })
}

// freeSlotLocked is the lowest slot that no session taking streams holds. A session that
// drains, or is past its age (Limits.MaxSessionAge), gives its slot up for its replacement.
func (p *Pool) freeSlotLocked() int {
	var now time.Time
	if p.cfg.MaxSessionAge > 0 {
		now = time.Now()
	}
	for slot := 0; ; slot++ {
		if !slices.ContainsFunc(p.sessions, func(e *entry) bool {
			return e.slot == slot && (now.IsZero() || now.Before(e.retireAt))
		}) {
			return slot
		}
	}
}

// belowMinLocked reports whether the pool keeps fewer sessions than Limits.MinSessions.
func (p *Pool) belowMinLocked() bool { return len(p.sessions) < p.cfg.MinSessions }

// runDial dials one session and adds it to the pool. It runs on a
// goroutine started by dialLocked.
func (p *Pool) runDial(id, turn uint64) {
	s, err := p.cfg.Dial(p.ctx, id, turn)
	p.mu.Lock()
	p.dialing = false
	if p.closed {
		p.mu.Unlock()
		if err == nil {
			s.Close()
		}
		return
	}
	if err != nil {
		p.dialFailedLocked(err)
		p.mu.Unlock()
		return
	}
	if p.dial.err != nil {
		p.log.Info().Int("failures", p.dial.failures).Msg("upstream reachable again")
	}
	backoff := p.dial.backoff
	p.dial = dialState{}
	if p.unusedEnds >= unusedEndsFail {
		p.dial.backoff = backoff // it grows until a session carries a stream (judgeEndedLocked)
	}
	now := time.Now()
	p.opened++
	p.sessions = append(p.sessions, &entry{id: id, s: s, slot: p.dialSlot, lastIdle: now, retireAt: p.retireAt(now), dialed: now})
	p.log.Debug().Uint64("session", id).Int("sessions", len(p.sessions)).Msg("session up")
	p.grantLocked()
	if p.belowMinLocked() {
		p.dialLocked()
	}
	p.armSpareLocked()
	p.mu.Unlock()
}

func (p *Pool) dialFailedLocked(err error) {
	p.unreachableLocked(err, "dial failed")
	// Retried requests that avoided the live sessions for a new one now take what there is.
	// On the way the grant drops the sessions that ended since the pool last looked at them:
	// with none live, no dial comes before the back-off, and the waiters fail now rather than
	// at the queue timeout.
	p.grantLocked()
	if len(p.sessions) == 0 {
		p.failWaitersLocked(fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
}

// unreachableLocked records err as the upstream's latest failure, a dial's or a session's
// (ErrPeerSilent): no dial starts before its back-off, and with FailWhileUnreachable requests
// that find no session fail at once. It leaves the waiters be, for its callers inside the
// grant (pickLocked).
func (p *Pool) unreachableLocked(err error, msg string) {
	d := &p.dial
	d.backoff = min(max(2*d.backoff, minBackoff), maxBackoff)
	d.next = time.Now().Add(d.backoff)
	d.failures++
	// Log once per change of error, not once per attempt.
	if d.err == nil || d.err.Error() != err.Error() {
		p.log.Error().Err(err).Dur("backoff_ms", d.backoff).Msg(msg)
	}
	d.err = err
}

// retireAt is when a session dialed now retires (Limits.MaxSessionAge): its age less up to a
// tenth of it at random; zero without an age.
func (p *Pool) retireAt(now time.Time) time.Time {
	age := p.cfg.MaxSessionAge
	if age <= 0 {
		return time.Time{}
	}
	return now.Add(age - time.Duration(rand.Int64N(int64(age)/10+1)))
}
