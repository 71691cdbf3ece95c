package h1

import (
	"crypto/tls"
	"math"
	"sync"
	"time"
)

// A goroutine that served a connection until it parked or closed goes on to serve the next
// connection that needs a goroutine, one woken from parking or a new one, rather than ending.
// A fresh goroutine starts with the smallest stack and grows it, copying it each time, to what a
// request needs: that and its start and end cost a connection woken from parking about as much
// as the rest of its request. Up to maxIdleServers goroutines wait so, each on a channel of its
// own, on a stack whose top start takes first (its stack and caches are the likeliest warm); the
// watch goroutine ends those that have waited serverIdle, and shutdown all of them. Waiting in
// a select over a shared channel, a timer of its own and shutdown, as before, cost about 2,500
// instructions more a connection with one request (under callgrind: 47,418 against 44,511).
//
// A connection that cannot park still moves to a fresh goroutine after ParkAfter (conn.resume),
// and the goroutine it leaves ends: there the point is to free the stack.

// serverIdle is how long a goroutine waits for another connection to serve before the watch
// goroutine ends it, to within a watchTick.
const serverIdle = time.Second

// serverIdleTicks is serverIdle in watch ticks.
const serverIdleTicks = uint64(serverIdle / watchTick)

// maxIdleServers bounds the goroutines waiting for a connection, each with a stack of 8 KiB or
// so: enough for a burst of connections handed over at once. With 4 a processor (one), 16
// clients making one-request connections got a fresh goroutine for 71% of them, at about 4,000
// instructions each (its start, its stack's growth and its end).
const maxIdleServers = 64

// idleServer is a goroutine waiting for a connection to serve.
type idleServer struct {
	next chan *conn // capacity 1: the connection to serve, or nil to end; empty while listed
	tick uint64     // Server.watchTicks when it began to wait
}

// idleServers is the stack of waiting goroutines, the one that began to wait last on top.
type idleServers struct {
	mu     sync.Mutex
	list   []*idleServer // guarded by mu
	closed bool          // guarded by mu: set by close
}

// push lists w, unless the stack is closed or maxIdleServers wait already.
func (p *idleServers) push(w *idleServer, tick uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.list) >= maxIdleServers {
		return false
	}
	w.tick = tick
	p.list = append(p.list, w)
	return true
}

// pop takes the goroutine on top off the stack, or returns nil if none waits.
func (p *idleServers) pop() *idleServer {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.list)
	if n == 0 {
		return nil
	}
	w := p.list[n-1]
	p.list[n-1] = nil
	p.list = p.list[:n-1]
	return w
}

// retire ends the goroutines that began to wait before tick: those at the bottom of the stack.
func (p *idleServers) retire(tick uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retireLocked(tick)
}

// close ends every waiting goroutine, and those that would wait from now on.
func (p *idleServers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.retireLocked(math.MaxUint64)
}

func (p *idleServers) retireLocked(tick uint64) {
	n := 0
	for n < len(p.list) && p.list[n].tick < tick {
		p.list[n].next <- nil
		n++
	}
	kept := copy(p.list, p.list[n:])
	clear(p.list[kept:])
	p.list = p.list[:kept]
}

// start serves c on a waiting goroutine, or on a new one if none waits.
func (s *Server) start(c *conn) {
	if w := s.idle.pop(); w != nil {
		w.next <- c
		return
	}
	go s.serveNew(c)
}

// serveNew is serveConns on a new goroutine, for a connection with a request or a handshake to
// serve (not one that moved for its idle wait: conn.resume), whose stack it first grows to what
// serving it takes. The runtime starts a goroutine with the average stack in use at the last
// garbage collection, mostly idle waits' 2 KiB, and a request's path grew it twice, to 8 KiB, a
// TLS handshake's three times, to 16 KiB: each growth copies the stack and adjusts every frame
// on it. Grown at once, with a single frame on it, the stack is copied once and cheaply. With a
// one-request connection at a time, from 200 clients (h2load --h1 -c 200 -n 200, nghttpd
// upstream), the runtime's growth took 11% of muxgate's CPU before, 4% after, and its count
// fell from 1.9 to 1.0 a connection (2.2 to 1.3 with TLS).
func (s *Server) serveNew(c *conn) {
	if _, ok := c.rwc.(*tls.Conn); ok && !c.started {
		growStack16K()
	} else {
		growStack8K()
	}
	s.serveConns(c)
}

// growStack8K and growStack16K grow the calling goroutine's stack to at least 8 KiB and 16 KiB:
// the runtime doubles a stack until it holds the frame of the function called, the guard below
// it and the frames above it, and each frame here is half that size.
//
//go:noinline
func growStack8K() {
	var frame [4 << 10]byte
	keepFrame(frame[:])
}

//go:noinline
func growStack16K() {
	var frame [8 << 10]byte
	keepFrame(frame[:])
}

// keepFrame uses frame, so that the compiler keeps it on the stack.
//
//go:noinline
func keepFrame(frame []byte) {}

// serveConns serves c, and then the connections that start hands it, until it waits serverIdle
// for one in vain, too many goroutines wait already, the Server shuts down, or a connection it
// served moved to a fresh goroutine.
func (s *Server) serveConns(c *conn) {
	var w *idleServer
	for c.serve() {
		if w == nil {
			w = &idleServer{next: make(chan *conn, 1)}
		}
		if !s.idle.push(w, s.watchTicks.Load()) {
			return
		}
		if s.hook != nil {
			s.hook("waiting")
		}
		if c = <-w.next; c == nil {
			return
		}
	}
}
