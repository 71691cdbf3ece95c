package h1

import (
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
		go s.serveConns(c)
	}
}

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
