package demo

import (
	"net/http"
	"sync/atomic"
)

// counter wraps the server's handler and counts the requests it serves: all of them, those in
// progress, and the most ever in progress at once. The gateway's tests use them to check that a
// rejected request never reached the upstream, and how many sessions a load needed.
type counter struct {
	next http.Handler

	total  atomic.Int64 // requests whose handler started
	active atomic.Int64 // requests whose handler has not returned
	peak   atomic.Int64 // the highest value active reached
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.total.Add(1)
	n := c.active.Add(1)
	defer c.active.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	c.next.ServeHTTP(w, r)
}
