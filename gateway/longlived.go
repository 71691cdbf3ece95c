package gateway

import "sync"

// drainer is a long-lived exchange that a drain ends at a boundary of its own, rather than cut at
// the drain's deadline: a WebSocket (drainWriter), an event stream (eventWriter). goAway may block
// on the client; a failed write shows in the exchange's own copy.
type drainer interface {
	goAway() error
}

// longLived are the drainers open, for a drain to end.
type longLived struct {
	mu    sync.Mutex
	open  map[drainer]struct{} // guarded by mu
	going bool                 // guarded by mu: the drain began; a drainer added now goes away at once
	wg    sync.WaitGroup       // goAway's goroutines; wait waits for them
}

// add counts d among the open drainers; after the drain began, it ends d at once. A nil l (a
// proxy made without a gateway) counts nothing, as remove.
func (l *longLived) add(d drainer) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.open == nil {
		l.open = make(map[drainer]struct{})
	}
	l.open[d] = struct{}{}
	going := l.going
	l.mu.Unlock()
	if going {
		d.goAway() // on the exchange's own goroutine, before it copies anything
	}
}

func (l *longLived) remove(d drainer) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.open, d)
	l.mu.Unlock()
}

// goAway ends every open drainer, each on a goroutine of its own: a client that does not read
// holds its writer, and must not hold up the others. It does not wait for them (wait does).
func (l *longLived) goAway() {
	l.mu.Lock()
	l.going = true
	open := make([]drainer, 0, len(l.open))
	for d := range l.open {
		open = append(open, d)
	}
	l.mu.Unlock()
	for _, d := range open {
		l.wg.Go(func() { d.goAway() })
	}
}

// wait waits for goAway's goroutines: each ends once its drainer has gone away, or its
// connection, closed at the drain's deadline at the latest, fails the write.
func (l *longLived) wait() { l.wg.Wait() }
