package h1

import "time"

// The watch notices a client that goes away while its request's handler runs, and cancels the
// request (an upstream stream is then reset rather than read to its end). Most requests end
// within a millisecond, and a background read under each would cost a goroutine, a read that
// finds nothing and two deadline changes per request for a close that almost never comes. So a
// connection is only armed while its handler runs (connReader.arm), and one goroutine per Server
// starts the background read under handlers that have run for more than a watchTick: a client
// that leaves is noticed within two ticks, and a short request pays two uncontended locks.

// watchLoop ticks every watchTick until shutdown begins, setting the coarse clock, sweeping the
// connections and ending the goroutines that have waited serverIdle for one (servers.go) at
// each tick.
func (s *Server) watchLoop() {
	defer s.wg.Done()
	defer s.clock.stop()
	s.watchTicks.Store(1)
	s.clock.set(time.Now())
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.clock.set(time.Now())
			ticks := s.watchTicks.Add(1)
			s.sweep(ticks)
			if ticks > serverIdleTicks {
				s.idle.retire(ticks - serverIdleTicks)
			}
			if s.rates != nil && ticks%rateSweepTicks == 0 {
				s.rates.sweep()
			}
		case <-s.done:
			return
		}
	}
}

// sweep starts the watch on the armed connections that were armed before the last tick. It
// copies the busy connections out under the lock and sweeps them after, so that accepting and
// closing connections never wait for the sweep.
func (s *Server) sweep(now uint64) {
	if s.active.Load() == 0 {
		return
	}
	s.mu.Lock()
	for c := range s.conns {
		if c.state.Load() == stateActive {
			s.sweepList = append(s.sweepList, c)
		}
	}
	s.mu.Unlock()
	for i, c := range s.sweepList {
		c.cr.sweep(now)
		s.sweepList[i] = nil
	}
	s.sweepList = s.sweepList[:0]
}
