package pool

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// queuePoll is how often the queue looks for requests whose context ended: such a request
// stops waiting within it. The queue timeout itself is exact.
const queuePoll = 100 * time.Millisecond

// waiter is one request queued for a stream.
type waiter struct {
	// granted hands g to wait: whoever takes the waiter out of Pool.waiters, with mu held, sets
	// g and calls Done once. Unlike a channel, it costs no allocation of its own.
	granted  sync.WaitGroup
	g        grant
	tried    []*entry        // sessions the request used already; see pickLocked
	ctx      context.Context // the request's: when it ends, the wait does
	deadline time.Time       // when the wait fails with ErrQueueTimeout
}

// grant is a stream counted on e, or the error that ends the wait.
type grant struct {
	e   *entry
	err error
}

// enqueueLocked queues a request for a stream. Queued requests have the same timeout, so the
// oldest has the nearest deadline: one timer, the pool's, serves them all, where a timer and a
// select per request cost more than the rest of the wait.
func (p *Pool) enqueueLocked(ctx context.Context, tried []*entry) *waiter {
	w := &waiter{
		tried:    slices.Clone(tried), // tried is on the caller's stack
		ctx:      ctx,
		deadline: time.Now().Add(p.cfg.QueueTimeout),
	}
	w.granted.Add(1)
	p.waiters = append(p.waiters, w)
	if len(p.waiters) == 1 {
		p.armQueueLocked()
	}
	return w
}

// armQueueLocked sets the pool's timer to sweep the queue at the oldest request's deadline, or
// sooner to look for ended contexts.
func (p *Pool) armQueueLocked() {
	d := min(time.Until(p.waiters[0].deadline), queuePoll)
	if p.queueTimer == nil {
		p.queueTimer = time.AfterFunc(d, p.sweepQueue)
		return
	}
	p.queueTimer.Reset(d)
}

// sweepQueue fails the queued requests whose context ended or whose deadline passed, and
// re-arms the timer while requests wait.
func (p *Pool) sweepQueue() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.waiters) == 0 {
		return
	}
	now := time.Now()
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		switch {
		case w.ctx.Err() != nil:
			w.grant(grant{err: waitCanceled(w.ctx)})
		case !now.Before(w.deadline):
			w.grant(grant{err: ErrQueueTimeout})
		default:
			kept = append(kept, w)
		}
	}
	clear(p.waiters[len(kept):])
	p.waiters = kept
	if len(p.waiters) > 0 {
		p.armQueueLocked()
	}
}

// grant ends w's wait with g. Called with mu held, once, by whoever took w out of the queue.
func (w *waiter) grant(g grant) {
	w.g = g
	w.granted.Done()
}

// wait blocks until w is granted a stream or fails. A stream granted to a request whose
// context ended meanwhile goes back to its session.
func (p *Pool) wait(w *waiter) (*entry, error) {
	w.granted.Wait()
	g := w.g // written before Done
	if g.e != nil && w.ctx.Err() != nil {
		p.mu.Lock()
		p.releaseLocked(g.e)
		p.mu.Unlock()
		return nil, waitCanceled(w.ctx)
	}
	return g.e, g.err
}

func waitCanceled(ctx context.Context) error {
	return fmt.Errorf("pool: waiting for a stream: %w", ctx.Err())
}

// grantLocked hands streams to waiters, oldest first, while a session has
// room, and dials when waiters remain.
func (p *Pool) grantLocked() {
	for len(p.waiters) > 0 {
		e := p.pickLocked(p.waiters[0].tried)
		if e == nil {
			break
		}
		p.countLocked(e)
		w := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		w.grant(grant{e: e})
	}
	if len(p.waiters) > 0 {
		p.dialLocked()
	}
}

func (p *Pool) failWaitersLocked(err error) {
	for _, w := range p.waiters {
		w.grant(grant{err: err})
	}
	p.waiters = nil
}
