package pool

import (
	"math"
	"time"
)

// spareShare: the pool closes a session only if its streams in flight stayed within 1/spareShare
// of what the sessions it keeps can take, so that the load that is left does not fill them at
// its next peak and have the pool dial again.
const spareShare = 2

// keepLocked is how many sessions the pool never closes for being spare: Limits.MinSessions,
// and at least one.
func (p *Pool) keepLocked() int { return max(p.cfg.MinSessions, 1) }

// armSpareLocked starts a period of Limits.SessionIdleTimeout, unless one runs, while the pool
// holds more sessions than it keeps. A period's peak counts from the streams in flight now.
func (p *Pool) armSpareLocked() {
	if p.cfg.SessionIdleTimeout <= 0 || p.spareArmed || p.closed || len(p.sessions) <= p.keepLocked() {
		return
	}
	p.spareArmed = true
	p.peak = p.streams
	if p.spareTimer == nil {
		p.spareTimer = time.AfterFunc(p.cfg.SessionIdleTimeout, p.endSparePeriod)
		return
	}
	p.spareTimer.Reset(p.cfg.SessionIdleTimeout)
}

// endSparePeriod closes the session spareLocked finds, and starts the next period: sessions
// opened for a burst go one per period once it has passed.
func (p *Pool) endSparePeriod() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spareArmed = false
	if p.closed {
		return
	}
	if e := p.spareLocked(); e != nil {
		// Retired, it is shut down with a GOAWAY once its streams end (RFC 9113 6.8), as a
		// session past its age is.
		e.retired = true
		p.dropLocked(e, EndSpare)
	}
	p.armSpareLocked()
}

// spareLocked returns the live session, beyond the ones the pool keeps, with the fewest streams
// in flight (the youngest of those), if the period's peak of streams stayed within
// 1/spareShare of what the other live sessions can take; else nil. With Limits.MinSessions
// above one, the sessions in its slots stay, each to its address.
func (p *Pool) spareLocked() *entry {
	var spare *entry
	live := 0
	for _, e := range p.sessions {
		if st := e.s.State(); st.Closed || st.Draining {
			continue // pickLocked drops it
		}
		live++
		if p.cfg.MinSessions > 1 && e.slot < p.cfg.MinSessions {
			continue
		}
		if spare == nil || e.inflight < spare.inflight || e.inflight == spare.inflight && e.id > spare.id {
			spare = e
		}
	}
	if spare == nil || live <= p.keepLocked() {
		return nil
	}
	room := 0
	for _, e := range p.sessions {
		if st := e.s.State(); e != spare && !st.Closed && !st.Draining {
			room += min(p.limit(st), math.MaxInt-room)
		}
	}
	if p.peak > room/spareShare {
		return nil
	}
	return spare
}
