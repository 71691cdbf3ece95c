package h1

import (
	"bufio"
	"net"
	"runtime"
	"sync"
	"time"
)

// pipeline runs the safe requests of a pipelined connection concurrently and writes their
// responses in request order (RFC 9112 9.3.2).
//
// The serve goroutine reads request heads. A GET or HEAD without content that arrives while more
// of the pipeline is buffered, or while earlier dispatched responses are still unwritten, is
// dispatched: its handler runs on a goroutine of its own and writes into a bufio.Writer of its
// own, whose sink is the exchange's pipedWriter. The exchange at the head of the line writes
// through to the socket ("direct"); the others hold their bytes back in memory, up to
// Config.MaxPipelineBuffer for the whole connection, after which their handlers' writes block
// until their turn. When the head completes, the goroutine that completed it writes what the
// following exchanges hold, and every following complete response with it, in one write, then
// makes the next unfinished exchange the head. Any other request (unsafe, or with content) waits
// until the pipeline has drained and then runs on the serve goroutine alone, as without
// pipelining.
//
// A handler that is a PipelineStarter has its dispatched exchanges started by the serve goroutine
// and answered in order by the pipeline's finisher instead (batch.go): the same queue, depth and
// writing flag, no goroutine or hold buffer per exchange.
//
// A pipeline is made at a connection's first dispatch and lives as long as the connection.
//
// Lock order: pipeline.mu before conn.mu, and before nothing else of this package (it is never
// held while the socket is written or read).
type pipeline struct {
	c     *conn
	depth int // Config.PipelineDepth
	limit int // Config.MaxPipelineBuffer

	mu   sync.Mutex
	cond sync.Cond // on mu; broadcast when the queue moves, held bytes shrink, a head turns direct, or the pipeline closes

	queue     []*response // guarded by mu: dispatched exchanges not yet written, in request order
	held      int         // guarded by mu: bytes held back by the queue's exchanges
	writing   bool        // guarded by mu: a goroutine is writing queued responses to the socket
	closed    bool        // guarded by mu: nothing more is written; the connection closes when its handlers returned
	cut       bool        // guarded by mu, with closed: the close must not linger (a response was cut, the socket failed)
	waiting   bool        // guarded by mu: the serve goroutine waits for a byte without deadline, and may be woken
	woken     bool        // guarded by mu: it was woken because the pipeline drained or closed
	spare     [][]byte    // guarded by mu: emptied hold buffers, for reuse while the pipeline is busy
	finIdle   bool        // guarded by mu: the finisher waits for dispatchBatch to queue more (batch.go)
	finRetire bool        // guarded by mu: that wait is to end: the connection goes idle

	// Owned by the goroutine that is writing (writing is set): what it writes, and scratch for it.
	out    [][]byte
	vecArr [][]byte // backing array of vec, which writev consumes
	vec    net.Buffers
	cat    []byte
	bbw    *bufio.Writer // the finisher's writer while it runs; set and read by the finisher only

	// handlers counts dispatched handler goroutines. The serve goroutine adds and waits; each
	// handler goroutine calls Done as it returns.
	handlers sync.WaitGroup
}

// maxSpare bounds the capacity of a hold buffer kept for reuse.
const maxSpare = 16 << 10

func newPipeline(c *conn) *pipeline {
	p := &pipeline{c: c, depth: c.s.cfg.PipelineDepth, limit: c.s.cfg.MaxPipelineBuffer}
	p.cond.L = &p.mu
	return p
}

// pipedWriter is the sink of a dispatched exchange's bufio.Writer: it writes to the socket when
// the exchange is the head of the line, and holds the bytes back otherwise.
type pipedWriter struct {
	p *pipeline
	w *response

	held     []byte // guarded by p.mu: bytes waiting for the exchange's turn
	direct   bool   // guarded by p.mu: the exchange is the head and writes to the socket itself
	complete bool   // guarded by p.mu: the handler returned and the whole response is in held
	cut      bool   // guarded by p.mu: the response broke after bytes of it were sent; close after it
	sent     int64  // guarded by p.mu while not direct: bytes of the response handed to the socket

	// flushed is the bytes the bufio.Writer has passed to the sink; owned by the handler
	// goroutine.
	flushed int64
}

// Write takes bytes from the exchange's bufio.Writer. It is called on the handler's goroutine.
// Bytes of a response that is not the head wait in memory; past the connection's bound the call
// blocks until there is room or the exchange becomes the head, which is how a held-back response
// pauses its upstream stream (the handler stops reading it, and flow control does the rest).
// The last bytes of a response (written once its handler returned) are always held, even by the
// head, so that they go out in one write with the complete responses after them.
func (o *pipedWriter) Write(b []byte) (int, error) {
	p := o.p
	p.mu.Lock()
	for {
		switch {
		case p.closed:
			p.mu.Unlock()
			return 0, errPipelineClosed
		case o.direct && !o.w.done:
			p.mu.Unlock()
			n, err := p.c.writeSocket(b) // a failure fails the connection
			o.sent += int64(n)
			o.flushed += int64(n)
			return n, err
		case o.w.done || p.held+len(b) <= p.limit:
			if o.held == nil {
				o.held = p.spareLocked()
			}
			o.held = append(o.held, b...)
			p.held += len(b)
			p.mu.Unlock()
			o.flushed += int64(len(b))
			return len(b), nil
		}
		p.cond.Wait()
	}
}

func (p *pipeline) spareLocked() []byte {
	if n := len(p.spare); n > 0 {
		b := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return b
	}
	return nil
}

// busy reports whether dispatched responses are still unwritten.
func (p *pipeline) busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && (len(p.queue) > 0 || p.writing)
}

// awaitRoomLocked waits, with p.mu held but released while it waits, until the queue is below
// the pipeline's depth, and reports whether the pipeline is still open.
func (p *pipeline) awaitRoomLocked() bool {
	for !p.closed && len(p.queue) >= p.depth {
		p.cond.Wait()
	}
	return !p.closed
}

// dispatch queues w, waiting while the pipeline is at its depth, and starts its handler on a
// goroutine of its own. It reports false, without starting anything, if the pipeline has closed.
// Called by the serve goroutine.
func (p *pipeline) dispatch(w *response) bool {
	p.mu.Lock()
	if !p.awaitRoomLocked() {
		p.mu.Unlock()
		return false
	}
	w.out = pipedWriter{p: p, w: w, direct: len(p.queue) == 0 && !p.writing}
	p.queue = append(p.queue, w)
	p.mu.Unlock()

	w.bw = getWriter(&w.out)
	p.c.s.active.Add(1)
	p.handlers.Add(1)
	go p.c.serveDispatched(w)
	return true
}

// drain waits until every dispatched response has been written, and reports false if the
// pipeline closed instead. Called by the serve goroutine.
func (p *pipeline) drain() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && (len(p.queue) > 0 || p.writing) {
		p.cond.Wait()
	}
	return !p.closed
}

// awaitByte waits, with no deadline, for the first byte of the next request while dispatched
// responses are unwritten: the connection is not idle, and its read notices a client that goes
// away. It returns nil when a byte has arrived, errDrained when the pipeline drained first (the
// connection then waits as an idle one), errPipelineClosed when it closed, or the read's error.
// Called by the serve goroutine.
func (p *pipeline) awaitByte() error {
	c := p.c
	c.rwc.SetReadDeadline(time.Time{})
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return errPipelineClosed
	case len(p.queue) == 0 && !p.writing:
		p.mu.Unlock()
		return errDrained
	}
	p.waiting = true
	p.mu.Unlock()

	_, err := c.br.Peek(1)

	p.mu.Lock()
	woken, closed := p.woken, p.closed
	p.waiting, p.woken = false, false
	p.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case closed:
		return errPipelineClosed
	case woken && isTimeout(err):
		return errDrained
	}
	// The client closed or reset the connection: the dispatched handlers' work is wasted.
	c.fail(errPeerGone)
	return err
}

// wakeLocked interrupts the serve goroutine's wait in awaitByte.
func (p *pipeline) wakeLocked() {
	if p.waiting && !p.woken {
		p.woken = true
		p.c.rwc.SetReadDeadline(aLongTimeAgo)
	}
}

// complete is called by a dispatched exchange's goroutine once the whole response is in its
// hold buffer (or cut). If the exchange is the head, the same goroutine writes it and what
// follows it.
func (p *pipeline) complete(o *pipedWriter) {
	p.mu.Lock()
	o.complete = true
	if p.gatherLocked(o) > 0 {
		p.writeLocked()
	}
	p.mu.Unlock()
}

// gatherLocked returns how many complete exchanges lead the queue when o is its head, and 0
// otherwise (o must not write). Before it returns, it yields the processor as long as that lets
// more of the following exchanges complete. Their responses often came in the same upstream read
// as the head's, so their handlers are already runnable: a moment's wait turns their writes into
// one, and the client then sends its next requests together too. It unlocks p.mu while it yields.
func (p *pipeline) gatherLocked(o *pipedWriter) int {
	n := p.readyLocked(o)
	for n > 0 && n < len(p.queue) {
		p.mu.Unlock()
		runtime.Gosched()
		p.mu.Lock()
		m := p.readyLocked(o)
		if m <= n {
			return m
		}
		n = m
	}
	return n
}

// readyLocked counts the complete exchanges at the head of the queue, or returns 0 when o is not
// the head or another goroutine is writing.
func (p *pipeline) readyLocked(o *pipedWriter) int {
	if p.writing || len(p.queue) == 0 || p.queue[0] != o.w {
		return 0
	}
	n := 0
	for n < len(p.queue) && p.queue[n].out.complete {
		n++
	}
	return n
}

// writeLocked writes the queue's held bytes in order: each complete response at the head, and
// what the first incomplete one holds so far, as one write, as long as there is something to
// write; then it makes the first incomplete exchange the head, writing directly. It unlocks
// p.mu around the write.
func (p *pipeline) writeLocked() {
	p.writing = true
	for !p.closed {
		bufs, stop, cut := p.takeLocked(p.out[:0])
		if len(bufs) == 0 && !stop {
			break
		}
		p.cond.Broadcast() // room in the hold budget, and the queue moved
		p.mu.Unlock()
		err := p.write(bufs)
		p.mu.Lock()
		for i, b := range bufs {
			if cap(b) <= maxSpare && len(p.spare) < p.depth {
				p.spare = append(p.spare, b[:0])
			}
			bufs[i] = nil
		}
		p.out = bufs[:0]
		switch {
		case err != nil:
			p.closeLocked(true)
		case stop:
			p.closeLocked(cut)
		}
	}
	if !p.closed && len(p.queue) > 0 {
		p.queue[0].out.direct = true
	}
	p.writing = false
	if len(p.queue) == 0 {
		// Drained: a pipelined connection that goes idle keeps no buffers.
		clear(p.spare)
		p.spare, p.cat = p.spare[:0], nil
		p.wakeLocked()
	}
	p.cond.Broadcast()
}

// takeLocked moves the held bytes of the complete exchanges at the head of the queue, and of the
// first incomplete one, to bufs, and removes the complete ones from the queue. stop says a
// response taken ends the connection (it said Connection: close, or it was cut, then cut is set).
func (p *pipeline) takeLocked(bufs [][]byte) (_ [][]byte, stop, cut bool) {
	for len(p.queue) > 0 {
		w := p.queue[0]
		o := &w.out
		if len(o.held) > 0 {
			bufs = append(bufs, o.held)
			o.sent += int64(len(o.held))
			p.held -= len(o.held)
			o.held = nil
		}
		if !o.complete {
			break
		}
		n := copy(p.queue, p.queue[1:])
		p.queue[n] = nil
		p.queue = p.queue[:n]
		if w.closeAfter || o.cut {
			return bufs, true, o.cut
		}
	}
	return bufs, false, false
}

// closeLocked ends the pipeline: nothing more is written, waiting handlers and the serve
// goroutine are woken, and the requests still running are cancelled.
func (p *pipeline) closeLocked(cut bool) {
	p.cut = p.cut || cut
	if p.closed {
		return
	}
	p.closed = true
	p.c.rwc.SetReadDeadline(aLongTimeAgo)
	p.woken = p.waiting
	p.cond.Broadcast()
	cause := p.c.failure()
	if cause == nil {
		cause = errPipelineClosed
	}
	for _, w := range p.queue {
		w.rctx.cancel(cause)
	}
}

// close ends the pipeline from outside a write: the connection failed, or is being closed.
func (p *pipeline) close(cut bool) {
	p.mu.Lock()
	p.closeLocked(cut)
	p.mu.Unlock()
}

// stop closes the pipeline (what it still holds is dropped), waits for the dispatched handlers
// to return, and reports whether the connection may linger on its close (false: close at once).
func (p *pipeline) stop() (linger bool) {
	p.close(false)
	p.handlers.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.cut
}

// setReadDeadline sets the serve goroutine's read deadline, unless the pipeline has closed:
// then it keeps the read interrupted.
func (p *pipeline) setReadDeadline(c net.Conn, t time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return c.SetReadDeadline(aLongTimeAgo)
	}
	return c.SetReadDeadline(t)
}

// maxGather bounds the bytes a write without writev (TLS) copies together into one buffer.
const maxGather = 64 << 10

// write writes bufs to the socket in order, with one system call where it can: writev on a TCP
// connection, one copy into a single buffer (one TLS record sequence) otherwise. Called by the
// goroutine that is writing, without p.mu.
func (p *pipeline) write(bufs [][]byte) error {
	c := p.c
	switch {
	case len(bufs) == 0:
		return nil
	case len(bufs) == 1:
		_, err := c.writeSocket(bufs[0])
		return err
	}
	if _, ok := c.rwc.(*net.TCPConn); ok {
		p.vecArr = append(p.vecArr[:0], bufs...)
		p.vec = p.vecArr
		c.armWrite()
		_, err := p.vec.WriteTo(c.rwc)
		clear(p.vecArr)
		if err != nil {
			c.fail(err)
		}
		return err
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total > maxGather {
		for _, b := range bufs {
			if _, err := c.writeSocket(b); err != nil {
				return err
			}
		}
		return nil
	}
	p.cat = p.cat[:0]
	for _, b := range bufs {
		p.cat = append(p.cat, b...)
	}
	_, err := c.writeSocket(p.cat)
	if cap(p.cat) > maxSpare {
		p.cat = nil
	}
	return err
}
