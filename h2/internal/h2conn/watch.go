package h2conn

import "time"

// watchTick is the period of the watch: how late a stream may notice that its request's
// context ended, or that its response head is overdue.
const watchTick = 100 * time.Millisecond

// watch ends, every tick until the connection closes, the streams whose request context ended
// and those whose response head is overdue (Config.ResponseTimeout). One goroutine per
// connection polls them, rather than a context.AfterFunc and a timer per stream: those cost
// allocations, a lock hand-off with the context and a timer heap operation on every request,
// for events that almost never come, and that nobody needs noticed sooner than a tick.
func (c *Conn) watch() {
	defer c.wg.Done()
	tick := watchTick
	if d := c.cfg.ResponseTimeout; d > 0 {
		tick = min(tick, max(d/4, time.Millisecond))
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
// request context's error, or ErrResponseTimeout.
func (c *Conn) overdue(now int64, ended []*stream, why []error) ([]*stream, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.streams {
		if err := s.ctx.Err(); err != nil {
			ended, why = append(ended, s), append(why, err)
		} else if s.headBy != 0 && !s.delivered && now >= s.headBy {
			ended, why = append(ended, s), append(why, ErrResponseTimeout)
		}
	}
	return ended, why
}
