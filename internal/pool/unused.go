package pool

import (
	"fmt"
	"slices"
	"time"
)

// Sessions that the upstream ends before they carry a stream (endedLocked).
const (
	// unusedWithin is how soon after its dial a session must end to count: an upstream's idle
	// timeout, which ends sessions that Limits.MinSessions keeps without streams, takes longer.
	unusedWithin = time.Second
	// unusedEndsFail is how many in a row count as a failed dial; the ones before are replaced
	// at once.
	unusedEndsFail = 2
)

// endedLocked notes that e, just dropped, ended by its upstream's doing (a GOAWAY, or a close),
// and judges it (judgeEndedLocked) once no stream of it is in flight: only then is it known
// whether the upstream took any of them.
func (p *Pool) endedLocked(e *entry) {
	e.ended = true
	e.endedEarly = time.Since(e.dialed) < unusedWithin
	if e.inflight == 0 {
		p.judgeEndedLocked(e)
	}
}

// judgeEndedLocked deals with e, ended by its upstream with no stream left in flight. If it
// ended within unusedWithin of its dial, no stream of it taken, no other session serving and
// none with streams still out (a session that drains may yet answer them: an upstream that
// restarts drains the old sessions while it ends the new ones its old processes took), the
// upstream took the connection and refused the session, as a server does that still
// accepts connections while it shuts down, or one of Apache's old children in a graceful
// restart. The first such is replaced at once, as h2's dial replaces a connection ended in its
// handshake. Each one after it counts as a failed dial: the next dial waits for the back-off,
// which grows, and the requests waiting for a session fail as after a failed dial. Without
// that, each end started the next dial at once, and such an upstream got dozens of connections
// for one request.
func (p *Pool) judgeEndedLocked(e *entry) {
	if e.used.Load() || slices.ContainsFunc(p.sessions, func(o *entry) bool { return o.used.Load() }) {
		p.unusedEnds = 0 // the upstream serves
		return
	}
	if !e.endedEarly || len(p.dropped) > 0 {
		return
	}
	p.unusedEnds++
	if p.unusedEnds < unusedEndsFail {
		return
	}
	p.unreachableLocked(ErrSessionsRefused, "upstream ends its sessions before they carry a stream")
	if len(p.sessions) == 0 && !p.dialing {
		p.failWaitersLocked(fmt.Errorf("%w: %w", ErrUnavailable, ErrSessionsRefused))
	}
}
