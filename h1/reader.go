package h1

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// connReader is the io.Reader under a connection's bufio.Reader. It can hold bytes read ahead of
// the bufio.Reader, which two things need:
//
//   - the watch, a background read kept pending while a long handler runs so that the request
//     context is cancelled when the client goes away (any byte it gets is the start of the next
//     pipelined request, kept for the bufio.Reader);
//   - the wait for the next request on an idle connection, which holds no bufio.Reader (see
//     waitIdle).
type connReader struct {
	c    *conn
	conn net.Conn
	raw  syscall.RawConn // the socket of a TCP connection, for waitIdle; nil otherwise

	// Owned by the serve goroutine: what waitIdle read, in a buffer from stashPool (box), until
	// Read hands it on; and waitIdle's callback and its error.
	box         *[]byte
	pending     []byte
	readable    func(fd uintptr) bool // r.onReadable, bound once
	readIdleErr error
	// lazyDeadline, when not zero, is the read deadline of waitIdle's wait, which its callback
	// sets, and then clears this, only if the socket has nothing to read at once (see
	// conn.armIdleWait).
	lazyDeadline time.Time

	// stash, stashed and gone are owned by the background read while one runs (from the sweep
	// that starts it until disarm returns), and otherwise by the goroutine that reads the
	// connection: the serve goroutine, or the handler through the request body.
	stash   [1]byte
	stashed bool
	gone    error // why the background read found the connection dead; nil while it lives

	// The watch. arm runs under the request body's lock or on the serve goroutine before the
	// handler starts, disarm on the serve goroutine after the body has been closed under its
	// lock, so the two never overlap; the sweep runs on the Server's watch goroutine.
	wmu      sync.Mutex
	armedAt  uint64         // guarded by wmu: the watch tick at which arm ran; 0 when disarmed
	running  bool           // guarded by wmu: a background read runs
	done     sync.WaitGroup // the background goroutine, while it runs
	aborting atomic.Bool    // set by disarm while it interrupts the read
}

// init prepares r, in place, to read c's connection.
func (r *connReader) init(c *conn) {
	r.c, r.conn = c, c.rwc
	if tc, ok := c.rwc.(*net.TCPConn); ok && rawIdleWait {
		if raw, err := tc.SyscallConn(); err == nil {
			r.raw, r.readable = raw, r.onReadable
		}
	}
}

// Read returns what was read ahead, if anything, else reads the connection.
func (r *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.stashed {
		p[0] = r.stash[0]
		r.stashed = false
		return 1, nil
	}
	if r.box != nil {
		n := copy(p, r.pending)
		if r.pending = r.pending[n:]; len(r.pending) == 0 {
			r.release()
		}
		return n, nil
	}
	return r.conn.Read(p)
}

// buffered reports whether bytes read ahead wait for the bufio.Reader.
func (r *connReader) buffered() bool { return r.stashed || r.box != nil }

// holdsHead reports whether the bytes waitIdle read hold a whole request head.
func (r *connReader) holdsHead() bool {
	return r.box != nil && holdsHead(r.pending)
}

// holdsHead reports whether b, the bytes that start a request, holds its whole head: past the
// empty lines that may precede it (RFC 9112 2.2), through the CRLF CRLF that ends it
// (RFC 9112 2.1). Most clients write a head with one write, which one read takes whole, so b
// most often ends with the CRLF CRLF: a look at its last bytes saves a search of them all (about
// 480 instructions for h2load's request, callgrind).
func holdsHead(b []byte) bool {
	for len(b) >= 2 && b[0] == '\r' && b[1] == '\n' {
		b = b[2:]
	}
	return bytes.HasSuffix(b, crlfCRLF) || bytes.Contains(b, crlfCRLF)
}

var crlfCRLF = []byte("\r\n\r\n")

// waitIdle blocks until bytes arrive, or the read deadline passes, holding no buffer while it
// waits, and keeps what it read for Read. On a TCP connection it waits for the socket to become
// readable and then reads what is there into a pooled buffer: the same two read system calls as a
// plain blocking read (one that finds nothing, one after the wake-up), and no buffer held while
// parked. On another connection (TLS, which buffers records itself) it reads one byte.
func (r *connReader) waitIdle() error {
	if r.raw == nil {
		return r.fill()
	}
	r.readIdleErr = nil
	if err := r.raw.Read(r.readable); err != nil {
		return err // the deadline passed, or the connection was closed
	}
	return r.readIdleErr
}

// waitReadable blocks, on a TCP connection, until ready, called with the socket when it may be
// readable, reports true: a tunnel's wait for bytes, which holds no buffer (Tunnel.WaitRead). It
// returns at once where bytes were read ahead. It reports false, at once, where the connection is
// not a TCP one (TLS, whose records only a read can tell).
func (r *connReader) waitReadable(ready func(fd uintptr) bool) bool {
	switch {
	case r.buffered():
		return true
	case r.raw == nil:
		return false
	}
	r.raw.Read(ready)
	return true
}

// fill blocks until one byte arrives and stashes it, without a bufio.Reader.
func (r *connReader) fill() error {
	for !r.stashed {
		n, err := r.conn.Read(r.stash[:])
		r.stashed = n == 1
		if err != nil && !r.stashed {
			return err
		}
	}
	return nil
}

// release gives back the buffer of what waitIdle read.
func (r *connReader) release() {
	if r.box != nil {
		stashPool.Put(r.box)
		r.box, r.pending = nil, nil
	}
}

// arm makes the connection watchable while the handler runs, once the request's content has
// been read entirely and nothing more is buffered: the Server's sweep starts a background read
// under a handler still running a tick later. Until then nothing reads the connection, so a
// short request costs no goroutine and no system call for the watch.
func (r *connReader) arm() {
	if r.buffered() {
		return
	}
	r.wmu.Lock()
	r.armedAt = max(r.c.s.watchTicks.Load(), 1)
	r.wmu.Unlock()
}

// sweep starts the background read if the connection was armed before the tick before now. The
// goroutine is owned by the connection: disarm, called by the serve goroutine before it touches
// the connection again, waits for it.
func (r *connReader) sweep(now uint64) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.running || r.armedAt == 0 || now-r.armedAt < 2 {
		return
	}
	// The request head's deadline may still be on the socket: the watch waits without one.
	r.conn.SetReadDeadline(time.Time{})
	r.running = true
	r.done.Add(1)
	go r.backgroundRead()
}

func (r *connReader) backgroundRead() {
	n, err := r.conn.Read(r.stash[:])
	r.stashed = n == 1
	if !r.stashed && err != nil && !(r.aborting.Load() && isTimeout(err)) {
		// The client closed or reset the connection: the handler's work is wasted.
		r.gone = err
		r.c.fail(errPeerGone)
	}
	r.done.Done()
}

// disarm ends the watch: it interrupts the background read, if one runs, and waits for it to
// return; the read deadline is then cleared. It reports whether a background read ran.
func (r *connReader) disarm() bool {
	r.wmu.Lock()
	r.armedAt = 0
	running := r.running
	r.wmu.Unlock()
	if !running {
		return false
	}
	r.aborting.Store(true)
	r.conn.SetReadDeadline(aLongTimeAgo)
	r.done.Wait()
	r.aborting.Store(false)
	r.wmu.Lock()
	r.running = false
	r.wmu.Unlock()
	r.conn.SetReadDeadline(time.Time{})
	return true
}

// aLongTimeAgo is a deadline in the past, which interrupts a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isEOF reports whether err says the client closed its side of the connection.
func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }
