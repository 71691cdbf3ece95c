package h1

import (
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
//   - the background read, which keeps a read pending while a handler runs so that the request
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

	// stash, stashed and gone are owned by the background read while one runs (from
	// startBackgroundRead until stopBackgroundRead returns), and otherwise by the goroutine that
	// reads the connection: the serve goroutine, or the handler through the request body.
	stash   [1]byte
	stashed bool
	gone    error // why the background read found the connection dead; nil while it lives

	// running is written only by startBackgroundRead and stopBackgroundRead. The first runs under
	// the request body's lock or on the serve goroutine before the handler starts, the second on
	// the serve goroutine after the body has been closed under its lock, so the two never overlap.
	running  bool
	done     sync.WaitGroup // the background goroutine, while it runs
	aborting atomic.Bool    // set by stopBackgroundRead while it interrupts the read
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

// startBackgroundRead starts watching the connection while a handler runs, once the request's
// content has been read entirely and nothing more is buffered. The goroutine is owned by the
// connection: stopBackgroundRead, called by the serve goroutine before it touches the connection
// again, waits for it.
func (r *connReader) startBackgroundRead() {
	if r.running || r.buffered() {
		return
	}
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

// stopBackgroundRead interrupts the background read, if one runs, and waits for it to return.
// The read deadline is cleared on return.
func (r *connReader) stopBackgroundRead() {
	if !r.running {
		return
	}
	r.aborting.Store(true)
	r.conn.SetReadDeadline(aLongTimeAgo)
	r.done.Wait()
	r.aborting.Store(false)
	r.running = false
	r.conn.SetReadDeadline(time.Time{})
}

// aLongTimeAgo is a deadline in the past, which interrupts a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isEOF reports whether err says the client closed its side of the connection.
func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }
