package h2conn

import (
	"errors"
	"io"
)

// inbuf is the reader's buffer over the connection: what it uses of bufio.Reader (Read, Peek,
// Discard, Buffered), on a buffer that is a 64 KiB chunk from the pool, which the DATA payload
// at its front may take over (take). A server that sends 64 KiB DATA frames (Go's does, up to
// our SETTINGS_MAX_FRAME_SIZE) then has most of each frame read into the buffer that the
// stream keeps, instead of copied out of it.
//
// A smaller payload may instead be lent to its stream as a view of the buffer (share), as
// servers that send 16 KiB frames would otherwise have every body byte copied. The buffer is a
// block then, which the views keep from the pool until the last of them is dropped; the reader
// moves on to a fresh block rather than overwrite bytes a view still shows.
type inbuf struct {
	src  io.Reader
	blk  *block // what buf is; nil until the first read
	buf  []byte // blk's bytes (len == cap == bigChunk)
	r, w int    // unread bytes are buf[r:w]
	err  error  // the read error, returned once the buffered bytes are used
}

// readBufferSize is the size of the reader's buffer, one per session: it holds a 64 KiB
// response's DATA frames (16 KiB each from most servers) in one read, where 16 KiB took four.
const readBufferSize = bigChunk

// maxEmptyReads bounds the reads in a row that may bring nothing, as in bufio.
const maxEmptyReads = 100

// errFullPeek is Peek's error for more bytes than the buffer holds.
var errFullPeek = errors.New("h2conn: peek beyond the read buffer")

func newInbuf(src io.Reader) *inbuf { return &inbuf{src: src} }

// Buffered is the number of bytes that can be read without reading the connection.
func (b *inbuf) Buffered() int { return b.w - b.r }

// fill reads once more into the buffer, first moving the unread bytes to its front: to the
// front of a fresh block where views of this one are out.
func (b *inbuf) fill() {
	switch {
	case b.blk == nil:
		b.use(newBlock())
	case b.blk.shared():
		old, unread := b.blk, b.buf[b.r:b.w]
		b.use(newBlock())
		b.w = copy(b.buf, unread)
		old.drop()
	case b.r > 0:
		copy(b.buf, b.buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	for range maxEmptyReads {
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if err != nil {
			b.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	b.err = io.ErrNoProgress
}

// use makes blk, whose reference the buffer holds, the buffer, empty.
func (b *inbuf) use(blk *block) {
	b.blk, b.buf = blk, blk.arr[:]
	b.r, b.w = 0, 0
}

// readErr returns the pending read error and clears it.
func (b *inbuf) readErr() error {
	err := b.err
	b.err = nil
	return err
}

// Read reads buffered bytes, or what one read of the connection brings.
func (b *inbuf) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if b.err != nil {
			return 0, b.readErr()
		}
		b.r, b.w = 0, 0
		b.fill()
		if b.r == b.w {
			return 0, b.readErr()
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// Peek returns the next n bytes without consuming them, reading until they are buffered; with
// fewer, it returns them and the error that stopped it.
func (b *inbuf) Peek(n int) ([]byte, error) {
	if n > readBufferSize {
		return nil, errFullPeek
	}
	for b.w-b.r < n && b.err == nil {
		b.fill()
	}
	if b.w-b.r < n {
		return b.buf[b.r:b.w], b.readErr()
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard skips the next n bytes, reading as needed, and returns how many it skipped.
func (b *inbuf) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if b.r == b.w {
			if b.err != nil {
				return done, b.readErr()
			}
			b.r, b.w = 0, 0
			b.fill()
			continue
		}
		k := min(n-done, b.w-b.r)
		b.r += k
		done += k
	}
	return done, nil
}

// canTake reports whether p is the front of the buffered bytes and worth taking over rather
// than copying: at least half the buffer, so that whoever keeps it holds at most twice the
// memory, and no view of the buffer is out.
func (b *inbuf) canTake(p []byte) bool {
	return len(p) >= readBufferSize/2 && len(p) <= b.w-b.r && &p[0] == &b.buf[b.r] && !b.blk.shared()
}

// take consumes the next n buffered bytes (canTake must hold) and gives away the buffer that
// holds them: they are chunk[off:], and the chunk's capacity is all of the buffer, so it goes
// back to its pool as any other. The bytes after them move to a fresh buffer.
func (b *inbuf) take(n int) (chunk []byte, off int) {
	chunk, off = b.buf[:b.r+n], b.r
	old, rest := b.blk, b.buf[b.r+n:b.w]
	b.use(newBlock())
	b.w = copy(b.buf, rest)
	old.free() // its only reference was the buffer's, and its chunk is chunk now
	return chunk, off
}

// share returns a view of p, buffered bytes, for a stream to keep in place of a copy, with the
// block it holds a reference to (see dataBuffer.addView). The bytes stay buffered: the caller
// discards them as any others.
func (b *inbuf) share(p []byte) (view []byte, blk *block) {
	b.blk.refs.Add(1)
	return p[:len(p):len(p)], b.blk
}
