package h1

import (
	"crypto/tls"
	"runtime"
	"time"
)

// A goroutine that served a connection until it parked or closed goes on to serve the next
// connection that needs a goroutine, one woken from parking or a new one, rather than ending.
// A fresh goroutine starts with the smallest stack and grows it, copying it each time, to what a
// request needs: that and its start and end cost a connection woken from parking about as much
// as the rest of its request. Up to maxIdleServers goroutines wait so, each for serverIdle at
// most, and none once the Server shuts down.
//
// A connection that cannot park still moves to a fresh goroutine after ParkAfter (conn.resume),
// and the goroutine it leaves ends: there the point is to free the stack.

// serverIdle is how long a goroutine waits for another connection to serve before it ends.
const serverIdle = time.Second

// maxIdleServers bounds the goroutines waiting for a connection: a few per processor.
var maxIdleServers = int32(4 * runtime.GOMAXPROCS(0))

// start serves c on a waiting goroutine, or on a new one if none waits.
func (s *Server) start(c *conn) {
	select {
	case s.next <- c:
	default:
		go s.serveNew(c)
	}
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
	var t *time.Timer
	for c.serve() {
		if s.idleServers.Add(1) > maxIdleServers {
			s.idleServers.Add(-1)
			return
		}
		if t == nil {
			t = time.NewTimer(serverIdle)
		} else {
			t.Reset(serverIdle)
		}
		if s.hook != nil {
			s.hook("waiting")
		}
		select {
		case c = <-s.next:
		case <-t.C:
			c = nil
		case <-s.done:
			c = nil
		}
		s.idleServers.Add(-1)
		if c == nil {
			return
		}
	}
}
