package h2conn

import (
	"net/http"
	"time"
)

// watchTick is the period of the watch: how late a stream may notice that its request's
// context ended (twice that for an overdue response head, see headOverdueLocked).
const watchTick = 100 * time.Millisecond

// watch ends, every tick until the connection closes, the streams whose request context ended
// and those whose response head is overdue (Config.ResponseTimeout). One goroutine per
// connection polls them, rather than a context.AfterFunc and a timer per stream: those cost
// allocations, a lock hand-off with the context and a timer heap operation on every request,
// for events that almost never come, and that nobody needs noticed sooner than a tick.
func (c *Conn) watch() {
	defer c.wg.Done()
	tick := watchTick
	for _, d := range []time.Duration{c.cfg.ResponseTimeout, c.cfg.BodyIdleTimeout} {
		if d > 0 {
			tick = min(tick, max(d/4, time.Millisecond))
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var ended []*stream
	var why []error
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			ended, why = c.overdue(now.UnixNano(), ended[:0], why[:0])
			for i, s := range ended {
				s.cancel(why[i])
				ended[i] = nil
			}
		}
	}
}

// overdue appends to ended the open streams to end now, and to why the reason for each: the
// request context's error, ErrResponseTimeout or ErrBodyIdle.
func (c *Conn) overdue(now int64, ended []*stream, why []error) ([]*stream, []error) {
	timeout, idle := int64(c.cfg.ResponseTimeout), int64(c.cfg.BodyIdleTimeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.streams.all() {
		if err := s.ctx.Err(); err != nil {
			ended, why = append(ended, s), append(why, err)
		} else if timeout > 0 && !s.delivered && s.headOverdueLocked(now, timeout) {
			ended, why = append(ended, s), append(why, ErrResponseTimeout)
		} else if idle > 0 && s.delivered && s.bodyIdleLocked(now, idle) {
			ended, why = append(ended, s), append(why, ErrBodyIdle)
		}
	}
	return ended, why
}

// bodyIdleLocked reports whether s's body reader has waited idle for body bytes at now. The
// wait counts from the first tick that sees the reader waiting, and starts anew with each
// DATA frame (acceptDataLocked); a reader that is not waiting stops it. So a stream is reset no
// sooner than idle after its last bytes, and up to two ticks after the reader began to wait.
func (s *stream) bodyIdleLocked(now, idle int64) bool {
	if !s.waiting || s.req.Method == http.MethodConnect {
		s.headBy = 0
		return false
	}
	if s.headBy == 0 {
		s.headBy = now + idle
		return false
	}
	return now >= s.headBy
}

// headOverdueLocked reports whether s's response head is overdue at now. The deadline runs
// from the first tick that sees s rather than from when its HEADERS were queued, so that
// RoundTrip reads no clock: a stream is reset no sooner than the timeout and up to two ticks
// after it.
func (s *stream) headOverdueLocked(now, timeout int64) bool {
	if s.headBy == 0 {
		s.headBy = now + timeout
		return false
	}
	return now >= s.headBy
}
