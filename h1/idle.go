package h1

import (
	"sync"
	"sync/atomic"
	"time"
)

// idleWatch calls its function once no touch has come for its time: the idle limit of a tunnel,
// a switched HTTP/1.1 connection's (Tunnel) or an HTTP/2 extended CONNECT's alike
// (TunnelIdleTimeout). A touch reads the server's coarse clock, which may be up to its slack
// behind: the call comes between the time and the time plus that slack after the last touch,
// never before.
type idleWatch struct {
	clock *clock
	idle  time.Duration
	last  atomic.Int64 // Unix nanoseconds of the last touch
	fired func()       // called with mu held, once, unless stop came first

	mu    sync.Mutex
	timer *time.Timer // guarded by mu; nil once fired or stopped
}

func newIdleWatch(k *clock, idle time.Duration, fired func()) *idleWatch {
	w := &idleWatch{clock: k, idle: idle, fired: fired}
	w.touch()
	w.timer = time.AfterFunc(idle, w.check)
	return w
}

func (w *idleWatch) touch() {
	now, _ := w.clock.now(w.idle)
	w.last.Store(now.UnixNano())
}

// check runs on the timer: it fires where the time has passed since the last touch, and
// otherwise sets the timer for when it will have, if nothing moves by then.
func (w *idleWatch) check() {
	_, slack := w.clock.now(w.idle)
	left := w.idle + slack - time.Since(time.Unix(0, w.last.Load()))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer == nil {
		return
	}
	if left > 0 {
		w.timer.Reset(left)
		return
	}
	w.timer = nil
	w.fired()
}

// stop ends the watch: once it returns, the function has run or never will.
func (w *idleWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}
