package h1

import (
	"net/http"
)

// PipelineStarter is a Handler that can split its work on a pipelined request in two: what
// starts it (sending it upstream, say), done as soon as the request is read, and what answers
// it, done in its turn. A pipeline of such requests then needs no goroutine per request: the
// serve goroutine starts each dispatchable request (a GET or HEAD without content, see
// conn.dispatchable) as it reads it, and one goroutine per connection, the finisher, answers
// them in request order into one buffer, written to the socket whenever the next answer is not
// ready yet. Other requests, and every request of a handler whose StartsPipelined is false, run
// through ServeHTTP as usual.
type PipelineStarter interface {
	http.Handler
	// StartsPipelined reports whether StartPipelined is to be used. It must not change.
	StartsPipelined() bool
	// StartPipelined starts r and returns what answers it. It may wait for a resource (an
	// upstream stream) but not for the answer itself. r's context ends if the connection
	// closes first.
	StartPipelined(r *http.Request) PipelinedExchange
}

// PipelinedExchange is a request that a PipelineStarter started. Exactly one of Finish and
// Abort is called, on the connection's finisher goroutine (Abort perhaps on the serve
// goroutine).
type PipelinedExchange interface {
	// Ready reports whether Finish would begin to write at once, without waiting. It never
	// blocks.
	Ready() bool
	// Finish answers the request through w, as ServeHTTP would; a panic is treated as
	// ServeHTTP's.
	Finish(w http.ResponseWriter)
	// Abort drops the request, whose context has ended: the connection is closing.
	Abort()
}

// dispatchBatch starts w with ps and queues it for the connection's finisher, which it starts
// if none runs. It waits while the pipeline is at its depth, and reports false, after aborting
// w, if the pipeline has closed. Called by the serve goroutine.
func (p *pipeline) dispatchBatch(w *response, ps PipelineStarter) bool {
	p.mu.Lock()
	if !p.awaitRoomLocked() {
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()

	w.fin = startPipelined(ps, w.req)

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		w.rctx.cancel(errPipelineClosed)
		w.fin.Abort()
		return false
	}
	p.c.s.active.Add(1)
	p.queue = append(p.queue, w)
	start := !p.writing
	if start {
		p.writing = true
		if p.finIdle {
			start = false
			p.cond.Broadcast() // the finisher that waits takes it
		} else {
			p.handlers.Add(1)
		}
	}
	p.mu.Unlock()
	if start {
		go p.finishLoop()
	}
	return true
}

// finishLoop is the finisher: it answers the queued exchanges in order and, once the queue is
// empty, waits for dispatchBatch to queue more, until the pipeline closes or its connection goes
// idle (retire). While it answers it holds the pipeline's writing flag, so busy, drain and
// awaitByte see its exchanges as unwritten; while it waits it does not. Each batch of a client
// that pipelines in turns (h2load -m 8) so finds a goroutine whose stack has grown to what
// answering needs, rather than start one that grows it again, copying it each time.
func (p *pipeline) finishLoop() {
	defer p.handlers.Done()
	p.mu.Lock()
	for p.finishQueuedLocked() && p.awaitQueuedLocked() {
	}
	if p.closed {
		// What is still queued is dropped (closeLocked ended its contexts). Nothing is queued
		// once the pipeline has closed, so the lock may go while the exchanges end.
		dropped := p.queue
		p.queue = nil
		p.mu.Unlock()
		for _, w := range dropped {
			w.rctx.cancel(errPipelineClosed)
			w.fin.Abort()
			p.c.s.active.Add(-1)
		}
		p.mu.Lock()
	}
	p.writing = false
	p.wakeLocked()
	p.cond.Broadcast()
	p.mu.Unlock()
}

// finishQueuedLocked answers the queued exchanges in order, with p.mu held but released while
// each is answered. The answers go into one writer, flushed when the next exchange is not
// ready, the queue is empty, or the connection is to close after an answer. It reports whether
// the pipeline is still open.
func (p *pipeline) finishQueuedLocked() bool {
	c := p.c
	bw := getWriter(c)
	p.bbw = bw
	for len(p.queue) > 0 && !p.closed {
		w := p.queue[0]
		p.mu.Unlock()

		w.bw = bw
		panicked := c.runFinish(w)
		w.rctx.cancel(errHandlerDone)
		cut := false
		if panicked {
			w.done = true
			if !w.wroteHeader {
				w.closeAfter = true
				writeErrorReply(bw, errHandlerPanic, c.s.clock.dateLine())
			} else {
				cut = true
			}
		} else {
			w.finish(nil)
		}
		c.s.requests.Add(1)
		c.s.active.Add(-1)

		p.mu.Lock()
		n := copy(p.queue, p.queue[1:])
		p.queue[n] = nil
		p.queue = p.queue[:n]
		p.cond.Broadcast() // room below the depth
		stop := w.closeAfter || cut
		if !panicked {
			// Finish has returned, and nothing else holds w: the serve goroutine let go of it
			// when it queued it, and a dispatchable request has no body.
			recycle(w)
		}
		if stop || len(p.queue) == 0 || !p.queue[0].fin.Ready() {
			if bw.Buffered() > 0 {
				p.mu.Unlock()
				err := bw.Flush()
				p.mu.Lock()
				if err != nil {
					p.closeLocked(true)
					break
				}
			}
		}
		if stop {
			p.closeLocked(cut)
			break
		}
	}
	p.bbw = nil
	putWriter(bw)
	return !p.closed
}

// awaitQueuedLocked waits, with p.mu held but released while it waits and the writing flag
// unset, until dispatchBatch queues an exchange (and sets the flag again), and reports true
// then; false if the pipeline closed or retire ended the wait first.
func (p *pipeline) awaitQueuedLocked() bool {
	p.writing = false
	p.wakeLocked()
	p.cond.Broadcast()
	p.finIdle = true
	for len(p.queue) == 0 && !p.closed && !p.finRetire {
		p.cond.Wait()
	}
	p.finIdle, p.finRetire = false, false
	return len(p.queue) > 0 && !p.closed
}

// retire ends the finisher's wait for more exchanges, if it waits: the connection is going
// idle, and the goroutine's stack, grown answering, is freed with it. Called by the serve
// goroutine.
func (p *pipeline) retire() {
	p.mu.Lock()
	if p.finIdle {
		p.finRetire = true
		p.cond.Broadcast()
	}
	p.mu.Unlock()
}

// startPipelined calls ps.StartPipelined on the serve goroutine, which has no recovery of its
// own: a panic there becomes an exchange whose Finish panics in its turn, so that it is answered
// and logged as a handler's panic is (500, then the connection closes).
func startPipelined(ps PipelineStarter, r *http.Request) (x PipelinedExchange) {
	defer func() {
		if v := recover(); v != nil {
			x = panickedStart{v}
		}
	}()
	return ps.StartPipelined(r)
}

// panickedStart is the exchange of a StartPipelined that panicked with v.
type panickedStart struct{ v any }

func (x panickedStart) Ready() bool                { return true }
func (x panickedStart) Finish(http.ResponseWriter) { panic(x.v) }
func (x panickedStart) Abort()                     {}

// runFinish calls w's Finish and recovers its panic, which it logs unless it is
// http.ErrAbortHandler.
func (c *conn) runFinish(w *response) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if p != http.ErrAbortHandler {
				c.s.log.Error().Str("remote", c.remoteAddr).Interface("panic", p).Msg("h1: pipelined finish panicked")
			}
		}
	}()
	w.fin.Finish(w)
	return false
}
