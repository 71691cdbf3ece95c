// Package sendbuf picks the buffers that a request body's sender reads into, for muxgate's
// HTTP/2 and HTTP/3 sessions alike. Most bodies keep one buffer of Size for the whole copy. A body
// that can wait for its next bytes without reading (a ReadWaiter: a tunnel's, the client's side of
// an extended CONNECT, RFC 8441 and RFC 9220) gets it only once it has bytes to read, so that a
// tunnel that carries nothing for hours holds no buffer; one whose wait cannot tell (a tunnel over
// TLS) waits in a small one, and reads into the big one after a Read that filled the small one.
package sendbuf

import (
	"io"
	"sync"
)

// ReadWaiter is a body that can wait for something to read without a buffer: WaitRead returns
// when a Read would not block, and reports true; or false, at once, where it cannot tell without
// reading.
type ReadWaiter interface{ WaitRead() bool }

const (
	// Size is the buffer a sender reads into while there are bytes to send.
	Size = 16 << 10
	// SmallSize is the buffer a ReadWaiter's Read waits in where WaitRead cannot wait.
	SmallSize = 1 << 10
)

var (
	bigPool   = sync.Pool{New: func() any { return new([Size]byte) }}
	smallPool = sync.Pool{New: func() any { return new([SmallSize]byte) }}
)

// Buffers are the buffers of one body's sender (see the package comment). The zero value reads
// a body that is no ReadWaiter; For makes them for any body.
type Buffers struct {
	waiter ReadWaiter // nil for most bodies
	big    *[Size]byte
	small  *[SmallSize]byte
	full   bool // the last Read filled its buffer
}

// For returns the Buffers for reading body.
func For(body io.Reader) Buffers {
	w, _ := body.(ReadWaiter)
	return Buffers{waiter: w}
}

// Next returns the buffer for the next Read, after the body's wait if it can wait.
func (b *Buffers) Next() []byte {
	if b.waiter != nil {
		b.Release()
		if !b.waiter.WaitRead() && !b.full {
			b.small = smallPool.Get().(*[SmallSize]byte)
			return b.small[:]
		}
	}
	if b.big == nil {
		b.big = bigPool.Get().(*[Size]byte)
	}
	return b.big[:]
}

// Read reads body into p, Next's buffer or a part of it, and notes whether the Read filled it.
func (b *Buffers) Read(body io.Reader, p []byte) (int, error) {
	n, err := body.Read(p)
	b.full = n == len(p)
	return n, err
}

// Release gives the buffers back to their pools.
func (b *Buffers) Release() {
	if b.big != nil {
		bigPool.Put(b.big)
		b.big = nil
	}
	if b.small != nil {
		smallPool.Put(b.small)
		b.small = nil
	}
}

// Copy writes body to w until the body ends, with b made For body, and gives the buffers back
// before it returns. It returns the error of the Read that failed (nil at EOF), or else of the
// Write that failed.
func (b *Buffers) Copy(w io.Writer, body io.Reader) (rerr, werr error) {
	*b = For(body)
	defer b.Release()
	for {
		buf := b.Next()
		n, err := b.Read(body, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}
