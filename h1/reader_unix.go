//go:build unix

package h1

import (
	"io"
	"os"
	"syscall"
	"time"
)

// onReadable is waitIdle's callback: it reads what the socket holds, or reports false to wait.
func (r *connReader) onReadable(fd uintptr) bool {
	box := stashPool.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *box)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			stashPool.Put(box)
			if !r.lazyDeadline.IsZero() {
				// Set before the wait that follows, which it then bounds.
				r.conn.SetReadDeadline(r.lazyDeadline)
				r.lazyDeadline = time.Time{}
			}
			return false // wait until the socket is readable
		case err != nil:
			r.readIdleErr = os.NewSyscallError("read", err)
		case n == 0:
			r.readIdleErr = io.EOF
		default:
			r.box, r.pending = box, (*box)[:n]
			return true
		}
		stashPool.Put(box)
		return true
	}
}

// onWritable is writeNow's callback: it writes what of c.unwritten the socket takes at once, and
// reports true, so that writeNow never waits.
func (c *conn) onWritable(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), c.unwritten)
		if err == syscall.EINTR {
			continue
		}
		c.wroteNow = max(n, 0)
		return true
	}
}

// rawIdleWait says whether waitIdle can wait on the socket itself on this system.
const rawIdleWait = true

// peekSocket copies into b what the socket fd holds, without taking it, and reports how many
// bytes it copied, whether the socket was ready (it had a byte, or has ended or failed) and the
// failure the peek took, which the kernel reports only once (a reset, say). It is the core of a
// tunnel's wait (Tunnel.WaitRead, with one byte) and of the PROXY header's first look.
func peekSocket(fd uintptr, b []byte) (n int, ready bool, err error) {
	for {
		n, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, false, nil
		case nil:
			return n, true, nil
		}
		return 0, true, os.NewSyscallError("recvfrom", err)
	}
}
