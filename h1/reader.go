package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// connReader is the io.Reader under a connection's bufio.Reader. It can hold one byte read ahead
// of the bufio.Reader, which two things need:
//
//   - the background read, which keeps a read pending while a handler runs so that the request
//     context is cancelled when the client goes away (any byte it gets is the start of the next
//     pipelined request, kept for the bufio.Reader);
//   - the wait for the next request on an idle connection that has released its bufio.Reader
//     (see conn.waitByte).
type connReader struct {
	conn   net.Conn
	cancel context.CancelCauseFunc // cancels the connection's context; safe from any goroutine

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
	done     chan struct{} // capacity 1; the background goroutine sends once as it returns
	aborting atomic.Bool   // set by stopBackgroundRead while it interrupts the read
}

func newConnReader(c net.Conn, cancel context.CancelCauseFunc) connReader {
	return connReader{conn: c, cancel: cancel, done: make(chan struct{}, 1)}
}

// Read returns the stashed byte if there is one, else reads the connection.
func (r *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.stashed {
		p[0] = r.stash[0]
		r.stashed = false
		return 1, nil
	}
	return r.conn.Read(p)
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

// startBackgroundRead starts watching the connection while a handler runs, once the request's
// content has been read entirely and nothing more is buffered. The goroutine is owned by the
// connection: stopBackgroundRead, called by the serve goroutine before it touches the connection
// again, waits for it.
func (r *connReader) startBackgroundRead() {
	if r.running || r.stashed {
		return
	}
	r.running = true
	go r.backgroundRead()
}

func (r *connReader) backgroundRead() {
	n, err := r.conn.Read(r.stash[:])
	r.stashed = n == 1
	if !r.stashed && err != nil && !(r.aborting.Load() && isTimeout(err)) {
		// The client closed or reset the connection: the handler's work is wasted.
		r.gone = err
		r.cancel(errPeerGone)
	}
	r.done <- struct{}{}
}

// stopBackgroundRead interrupts the background read, if one runs, and waits for it to return.
// The read deadline is cleared on return.
func (r *connReader) stopBackgroundRead() {
	if !r.running {
		return
	}
	r.aborting.Store(true)
	r.conn.SetReadDeadline(aLongTimeAgo)
	<-r.done
	r.aborting.Store(false)
	r.running = false
	r.conn.SetReadDeadline(time.Time{})
}

// aLongTimeAgo is a deadline in the past, which interrupts a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isEOF reports whether err says the client closed its side of the connection.
func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }
