package h2conn

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"

	"muxgate/internal/sendbuf"
)

// body is the response Body: the stream itself, read by the caller.
type body stream

// Read returns buffered response body bytes, waiting for the reader
// goroutine when none are buffered. It credits what it consumes to the
// flow-control windows (see flow.go). At EOF it fills Response.Trailer.
func (b *body) Read(p []byte) (int, error) {
	s := (*stream)(b)
	c := s.c
	c.mu.Lock()
	s.awaitBodyLocked()
	if s.buf.size == 0 || len(p) == 0 {
		err := s.rerr
		if s.buf.size > 0 {
			err = nil
		} else if err == io.EOF {
			s.moveTrailersLocked()
		}
		c.mu.Unlock()
		return 0, err
	}
	n := s.buf.read(p)
	wake := c.consumedLocked(s, n)
	var err error
	if s.buf.size == 0 && s.rerr == io.EOF {
		err = io.EOF
		s.moveTrailersLocked()
	}
	c.mu.Unlock()
	if wake {
		c.wakeWriter()
	}
	return n, err
}

// buffersWriter is a writer that takes several buffers in one call, as h1's ResponseWriter does
// (one writev on a clear-text connection). It must neither keep bufs nor change it.
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// flusher is a writer that buffers what it is given until Flush, as h1's ResponseWriter does.
type flusher interface {
	Flush()
}

// WriteTo writes the response body to w until EOF, as a loop of Read and Write would, but
// without copying the bytes out of the stream: it passes w the chunks the stream holds, all
// those buffered at the time in one call to WriteBuffers when w has that method (each to Write
// otherwise), then puts them back in their pools and credits them to the flow-control windows,
// as Read does the bytes it consumes (see flow.go). Crediting them only once written keeps what
// the stream holds within one window, lent chunks included. It waits for bytes as Read does and
// fills Response.Trailer at EOF, where it returns nil; otherwise it returns Read's error or w's.
// w is called without the connection's lock.
//
// When w has a Flush method, WriteTo calls it before it waits for more of the body, if it wrote
// anything since, and before its first wait: what came is passed on before the wait (and what w
// held before WriteTo was called, the response's head, before the body's first bytes are
// awaited), and nothing sooner, so that the pieces that come together, and a body's last piece
// with the end of the response, leave together. A body complete by its Content-Length whose
// END_STREAM is late is so passed on at once.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	s := (*stream)(b)
	bw, _ := w.(buffersWriter)
	f, _ := w.(flusher)
	unflushed := f // f while w may hold what was not flushed: the head, until the first flush
	var l loan
	defer l.free()
	var total int64
	for {
		err := s.lendBody(&l, unflushed)
		if l.size == 0 {
			return total, err
		}
		if l.flushed {
			unflushed = nil
		}
		n, err := writeChunks(w, bw, l.bufs)
		total += n
		if err == nil && n < int64(l.size) {
			err = io.ErrShortWrite
		}
		s.returnBody(&l)
		if err != nil {
			return total, err
		}
		unflushed = f
	}
}

// awaitBodyLocked waits, with c.mu held but released while it waits, until
// the stream buffers body bytes or its body has ended (rerr is set).
func (s *stream) awaitBodyLocked() {
	c := s.c
	for s.buf.size == 0 && s.rerr == nil {
		if s.readc == nil {
			s.readc = make(chan struct{}, 1)
		}
		ch := s.readc
		s.waiting = true
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
		s.waiting = false
	}
}

// loan is what a stream's buffer lends to Body.WriteTo: chunks taken out of the buffer, which
// are WriteTo's until it gives them back. Meanwhile the reader fills new chunks, and a reset
// drops only those.
type loan struct {
	bufs   [][]byte // the chunks, the first from the buffer's read offset on
	head   []byte   // bufs[0] whole, for its pool
	owners []*block // owners[i]: the block bufs[i] is a view of, or nil (see dataBuffer)
	views  int      // bufs that are views
	size   int      // bytes in bufs
	pooled *loanLists

	flushed bool // lendBody flushed the writer before it waited for these chunks
}

// loanLists are the lists a loan keeps its chunks and their owners in, pooled: a body written
// out costs no allocation. (A list backed by an array in the loan itself would move the loan to
// the heap.)
type loanLists struct {
	bufs   [][]byte
	owners []*block
}

var loanPool = sync.Pool{New: func() any {
	return &loanLists{bufs: make([][]byte, 0, 16), owners: make([]*block, 0, 16)}
}}

// free gives the lists back to their pool once the last chunks are returned.
func (l *loan) free() {
	if l.pooled != nil {
		l.pooled.bufs, l.pooled.owners = l.bufs[:0], l.owners[:0]
		loanPool.Put(l.pooled)
	}
}

// lendBody waits, as Read does, for body bytes or the end of the body, and lends the buffered
// chunks in l. At the end of the body it lends none (l.size is 0) and returns Read's error, or
// nil at EOF, when Response.Trailer is filled. If it must wait and f is not nil, it calls
// f.Flush first, without the lock, and sets l.flushed.
func (s *stream) lendBody(l *loan, f flusher) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	l.flushed = false
	if f != nil && s.buf.size == 0 && s.rerr == nil {
		c.mu.Unlock()
		f.Flush()
		c.mu.Lock()
		l.flushed = true
	}
	s.awaitBodyLocked()
	if s.buf.size > 0 {
		s.buf.lend(l)
		return nil
	}
	if s.rerr != io.EOF {
		return s.rerr
	}
	s.moveTrailersLocked()
	return nil
}

// returnBody puts the chunks of l back in their pools and credits their bytes to the windows.
func (s *stream) returnBody(l *loan) {
	c := s.c
	l.bufs[0] = l.head
	for i, ch := range l.bufs {
		freeChunk(ch, l.owners[i])
		l.bufs[i] = nil
	}
	clear(l.owners)
	n, views := l.size, l.views
	l.bufs, l.head, l.size, l.views = l.bufs[:0], nil, 0, 0
	c.mu.Lock()
	s.buf.views -= views
	wake := c.consumedLocked(s, n)
	c.mu.Unlock()
	if wake {
		c.wakeWriter()
	}
}

// writeChunks writes bufs to w: in one call if w is a buffersWriter (bw), one by one otherwise.
func writeChunks(w io.Writer, bw buffersWriter, bufs [][]byte) (int64, error) {
	if bw != nil {
		return bw.WriteBuffers(bufs)
	}
	var n int64
	for _, b := range bufs {
		k, err := w.Write(b)
		n += int64(k)
		if err == nil && k < len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close ends the response. Before EOF it resets the stream with
// RST_STREAM(CANCEL). Unread bytes are dropped; the connection window had
// them back when they arrived.
func (b *body) Close() error {
	s := (*stream)(b)
	c := s.c
	c.mu.Lock()
	if s.bodyClosed {
		c.mu.Unlock()
		return nil
	}
	s.bodyClosed = true
	rst := !s.closed
	if rst {
		c.resetLocked(s, errBodyClosed)
	} else {
		s.buf.release()
	}
	s.rerr = errBodyClosed
	c.mu.Unlock()
	if rst {
		c.queueRST(s, http2.ErrCodeCancel)
	}
	return nil
}

func (s *stream) moveTrailersLocked() {
	if s.trailer == nil {
		return
	}
	if s.res.Trailer == nil {
		s.res.Trailer = make(http.Header, len(s.trailer))
	}
	for k, vv := range s.trailer {
		s.res.Trailer[k] = vv
	}
	s.trailer = nil
}

// sendBody is the body sender goroutine of a request with a body or
// trailers: it copies the body into DATA frames within the send windows
// and ends the stream.
func (s *stream) sendBody(bodyLen int64) {
	c := s.c
	defer c.wg.Done()
	err := s.copyBody(bodyLen)
	s.closeReqBody()
	c.mu.Lock()
	s.sending = false
	c.mu.Unlock()
	if err != nil && err != errStreamDone {
		c.abort(s, err, http2.ErrCodeCancel)
	}
}

func (s *stream) copyBody(bodyLen int64) error {
	if bodyLen != 0 {
		body := s.req.Body
		// A tunnel's body (an extended CONNECT's, RFC 8441) can wait for its bytes without a
		// buffer: one that carries nothing for hours then holds none, or a small one.
		bufs := sendbuf.For(body)
		defer bufs.Release()
		remain := bodyLen // < 0: unknown, read to EOF
		for {
			buf := bufs.Next()
			if remain > 0 && remain < int64(len(buf)) {
				buf = buf[:remain]
			}
			n, rerr := bufs.Read(body, buf)
			if remain > 0 {
				remain -= int64(n)
			}
			// A body of known length ends with its last byte, so END_STREAM
			// rides on the last DATA frame instead of an empty one.
			eof := rerr == io.EOF || remain == 0
			if rerr != nil && rerr != io.EOF {
				return &wrapError{"h2conn: request body", rerr}
			}
			if rerr == io.EOF && remain > 0 {
				return errReqBodyShort
			}
			if err := s.sendData(buf[:n], eof && len(s.req.Trailer) == 0); err != nil {
				return err
			}
			if eof {
				break
			}
		}
	}
	if len(s.req.Trailer) > 0 {
		return s.sendTrailers()
	}
	return nil
}

// sendData queues p within the send windows, ending the stream if end.
func (s *stream) sendData(p []byte, end bool) error {
	c := s.c
	for {
		n := 0
		if len(p) > 0 {
			var err error
			if n, err = c.takeSendWindow(s, len(p)); err != nil {
				return err
			}
		}
		fin := end && n == len(p)
		if n > 0 || fin {
			if err := c.writeData(s, p[:n], fin); err != nil {
				return err
			}
		}
		if p = p[n:]; len(p) == 0 {
			break
		}
	}
	if end {
		c.mu.Lock()
		c.endLocalLocked(s)
		c.mu.Unlock()
	}
	return nil
}

// sendTrailers queues the request trailers as the stream's last HEADERS.
// Their values are read now: the body may set them until EOF.
func (s *stream) sendTrailers() error {
	c := s.c
	if err := checkFields(s.req.Trailer, "trailer"); err != nil {
		return err
	}
	c.wmu.Lock()
	if s.rstQueued {
		c.wmu.Unlock()
		return errStreamDone
	}
	c.enc.reset()
	for k, vv := range s.req.Trailer {
		name := lowerKey(k)
		for _, v := range vv {
			c.enc.field(name, v)
		}
	}
	c.writeHeaderBlockLocked(s.id, true)
	s.endQueued = true
	c.wmu.Unlock()
	c.wakeWriter()
	c.mu.Lock()
	c.endLocalLocked(s)
	c.mu.Unlock()
	return nil
}

// dataBuffer holds response body bytes in chunks from pools, so that a
// stream's memory follows what is buffered, at most one window. Its chunks
// may be lent to Body.WriteTo (see loan).
type dataBuffer struct {
	chunks [][]byte
	owners []*block  // owners[i]: the block chunks[i] is a view of (addView), or nil for a chunk of its own
	inline [2][]byte // backs chunks while it is short
	inown  [2]*block // backs owners while it is short
	r      int       // read offset in chunks[0]
	size   int       // unread bytes, lent ones not counted
	views  int       // views it holds, the lent ones too (see loan)
}

// block is a 64 KiB chunk that the reader's buffer lends out in views (inbuf.share): a
// stream's buffer keeps a view of a DATA payload instead of a copy. The buffer and each view
// hold a reference; the last one dropped returns the chunk to its pool.
type block struct {
	arr  *[bigChunk]byte
	refs atomic.Int32
}

// blockPool holds blocks without their chunks, which go back to chunkPool64k.
var blockPool = sync.Pool{New: func() any { return new(block) }}

// newBlock returns a block with a chunk from the pool, and one reference: its taker's.
func newBlock() *block {
	b := blockPool.Get().(*block)
	b.arr = chunkPool64k.Get().(*[bigChunk]byte)
	b.refs.Store(1)
	return b
}

// shared reports whether views of b are out besides the reader buffer's reference.
func (b *block) shared() bool { return b.refs.Load() > 1 }

// drop releases a reference to b; the last returns its chunk to the pool.
func (b *block) drop() {
	if b.refs.Add(-1) == 0 {
		chunkPool64k.Put(b.arr)
		b.free()
	}
}

// free returns b, whose chunk is gone and which nobody refers to, to its pool.
func (b *block) free() {
	b.arr = nil
	blockPool.Put(b)
}

// freeChunk gives back a chunk of a dataBuffer: a view drops its block, any other returns
// to its pool.
func freeChunk(ch []byte, owner *block) {
	if owner != nil {
		owner.drop()
		return
	}
	putChunk(ch)
}

// maxViews is the most views one stream holds, buffered or lent: each keeps a 64 KiB block
// from the pool whatever the size of the payload it shows, so a stream whose client reads
// slowly copies once it has this many.
const maxViews = 4

// push appends ch, whose block is owner (nil: its own chunk).
func (b *dataBuffer) push(ch []byte, owner *block) {
	if b.chunks == nil {
		b.chunks, b.owners = b.inline[:0], b.inown[:0]
	}
	b.chunks = append(b.chunks, ch)
	b.owners = append(b.owners, owner)
}

// addView appends view, a DATA payload that stays in the reader's buffer (inbuf.share), taking
// over the reference it holds to blk.
func (b *dataBuffer) addView(view []byte, blk *block) {
	b.size += len(view)
	b.views++
	b.push(view, blk)
}

// canView reports whether b may keep n more bytes as a view rather than a copy.
func (b *dataBuffer) canView(n int) bool { return n >= minView && b.views < maxViews }

// minView is the smallest payload a stream keeps as a view: servers that frame their DATA at
// 16 KiB, most of them, fill the reader's buffer with several.
const minView = 8 << 10

var (
	chunkPool1k  = sync.Pool{New: func() any { return new([1 << 10]byte) }}
	chunkPool4k  = sync.Pool{New: func() any { return new([4 << 10]byte) }}
	chunkPool16k = sync.Pool{New: func() any { return new([16 << 10]byte) }}
	chunkPool64k = sync.Pool{New: func() any { return new([bigChunk]byte) }}
)

// bigChunk is the size of the chunks that the reader fills from the
// connection itself (readDirect): the rest of a 64 KiB frame in one read.
const bigChunk = 64 << 10

// getBigChunk returns an empty chunk of bigChunk bytes' capacity.
func getBigChunk() []byte { return chunkPool64k.Get().(*[bigChunk]byte)[:0] }

func getChunk(n int) []byte {
	switch {
	case n <= 1<<10:
		return chunkPool1k.Get().(*[1 << 10]byte)[:0]
	case n <= 4<<10:
		return chunkPool4k.Get().(*[4 << 10]byte)[:0]
	}
	return chunkPool16k.Get().(*[16 << 10]byte)[:0]
}

func putChunk(b []byte) {
	switch cap(b) {
	case 1 << 10:
		chunkPool1k.Put((*[1 << 10]byte)(b[:1<<10]))
	case 4 << 10:
		chunkPool4k.Put((*[4 << 10]byte)(b[:4<<10]))
	case 16 << 10:
		chunkPool16k.Put((*[16 << 10]byte)(b[:16<<10]))
	case bigChunk:
		chunkPool64k.Put((*[bigChunk]byte)(b[:bigChunk]))
	}
}

func (b *dataBuffer) write(p []byte) {
	b.size += len(p)
	for len(p) > 0 {
		if n := len(b.chunks); n > 0 && b.owners[n-1] == nil { // a view has no room of its own
			last := b.chunks[n-1]
			if room := cap(last) - len(last); room > 0 {
				k := min(room, len(p))
				b.chunks[n-1] = append(last, p[:k]...)
				p = p[k:]
				continue
			}
		}
		b.push(getChunk(len(p)), nil)
	}
}

// add appends ch, a chunk from a pool, taking it over. A chunk less than
// half full is copied instead and returned to its pool, so that a stream
// holds at most about twice as much memory as bytes, however few each read
// brings (a TLS connection's read brings one record, 16 KiB at most).
func (b *dataBuffer) add(ch []byte) {
	if len(ch) < cap(ch)/2 {
		b.write(ch)
		putChunk(ch)
		return
	}
	b.size += len(ch)
	b.push(ch, nil)
}

// empty reports whether b holds no chunk.
func (b *dataBuffer) empty() bool { return len(b.chunks) == 0 }

// adopt takes over chunk, a big chunk from its pool whose bytes from off on are body bytes, as
// the buffer's only chunk: b must be empty. Later bytes are written after them, into its room.
func (b *dataBuffer) adopt(chunk []byte, off int) {
	b.chunks, b.owners = append(b.inline[:0], chunk), append(b.inown[:0], nil)
	b.r = off
	b.size = len(chunk) - off
}

func (b *dataBuffer) read(p []byte) int {
	n := 0
	for n < len(p) && b.size > 0 {
		ch := b.chunks[0]
		k := copy(p[n:], ch[b.r:])
		n += k
		b.r += k
		b.size -= k
		if b.r == len(ch) {
			b.dropFirst()
		}
	}
	return n
}

// dropFirst frees the first chunk, read to its end.
func (b *dataBuffer) dropFirst() {
	if b.owners[0] != nil {
		b.views--
	}
	freeChunk(b.chunks[0], b.owners[0])
	b.chunks[0], b.owners[0] = nil, nil
	b.chunks = append(b.chunks[:0], b.chunks[1:]...)
	b.owners = append(b.owners[:0], b.owners[1:]...)
	b.r = 0
}

// lend moves all buffered chunks into l (see loan), which must hold none.
func (b *dataBuffer) lend(l *loan) {
	if l.pooled == nil {
		l.pooled = loanPool.Get().(*loanLists)
		l.bufs, l.owners = l.pooled.bufs, l.pooled.owners
	}
	l.head = b.chunks[0]
	l.bufs = append(l.bufs[:0], b.chunks...)
	l.bufs[0] = l.head[b.r:]
	l.owners = append(l.owners[:0], b.owners...)
	l.views = 0
	for _, o := range b.owners {
		if o != nil {
			l.views++
		}
	}
	l.size = b.size
	clear(b.chunks)
	clear(b.owners)
	b.chunks, b.owners = b.chunks[:0], b.owners[:0]
	b.r, b.size = 0, 0
}

// release drops all buffered bytes.
func (b *dataBuffer) release() {
	for i, ch := range b.chunks {
		if b.owners[i] != nil {
			b.views--
		}
		freeChunk(ch, b.owners[i])
		b.chunks[i], b.owners[i] = nil, nil
	}
	b.chunks, b.owners = b.chunks[:0], b.owners[:0]
	b.r, b.size = 0, 0
}
