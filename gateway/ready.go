package gateway

import (
	"slices"
	"time"

	"muxgate/internal/pool"
)

// ready reports whether the gateway would serve a request now, for GET /readyz: it is not
// draining, and some upstream (of any route) can take requests, as far as what muxgate has seen tells. An
// upstream that no request has needed yet counts as reachable: nothing says otherwise.
func (g *Gateway) ready() (bool, string) {
	if g.draining.Load() {
		return false, "draining"
	}
	if !slices.ContainsFunc(g.routes.all, func(r *route) bool { return reachable(r.up) }) {
		return false, "no upstream reachable"
	}
	return true, "ok"
}

// reachable reports whether up can take requests: a pool with a session open or whose last dial
// did not fail; a fallback one of whose pools can; a balancer a member of which serves (not
// down, unhealthy or ejected) and can.
func reachable(up upstream) bool {
	switch up := up.(type) {
	case *balancer:
		now := time.Now().UnixNano()
		for _, m := range up.members {
			if m.serves(now) && reachable(m.up) {
				return true
			}
		}
		return false
	case *fallback:
		_, primary, secondary := up.State()
		return poolReachable(primary) || poolReachable(secondary)
	case statePool:
		return poolReachable(up.State())
	}
	return true
}

// poolReachable reports whether a pool in state st has a session that takes streams, or did not
// fail its last dial.
func poolReachable(st pool.State) bool {
	if st.DialError == nil {
		return true
	}
	open, _, _ := sessionCounts(st)
	return open > 0
}
