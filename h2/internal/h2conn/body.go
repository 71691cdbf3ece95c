package h2conn

import (
	"io"
	"net/http"
	"sync"

	"golang.org/x/net/http2"
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
	for s.buf.size == 0 && s.rerr == nil {
		if s.readc == nil {
			s.readc = make(chan struct{}, 1)
		}
		ch := s.readc
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
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

// sendBuf is what a request body sender reads into.
const sendBufSize = 16 << 10

var sendBufPool = sync.Pool{New: func() any { return new([sendBufSize]byte) }}

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
		bp := sendBufPool.Get().(*[sendBufSize]byte)
		defer sendBufPool.Put(bp)
		body := s.req.Body
		remain := bodyLen // < 0: unknown, read to EOF
		for {
			buf := bp[:]
			if remain > 0 && remain < int64(len(buf)) {
				buf = buf[:remain]
			}
			n, rerr := body.Read(buf)
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
	c.hbuf.Reset()
	for k, vv := range s.req.Trailer {
		name := lowerKey(k)
		for _, v := range vv {
			c.encodeField(name, v)
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
// stream's memory follows what is buffered, at most one window.
type dataBuffer struct {
	chunks [][]byte
	inline [2][]byte // backs chunks while it is short
	r      int       // read offset in chunks[0]
	size   int       // unread bytes
}

var (
	chunkPool1k  = sync.Pool{New: func() any { return new([1 << 10]byte) }}
	chunkPool4k  = sync.Pool{New: func() any { return new([4 << 10]byte) }}
	chunkPool16k = sync.Pool{New: func() any { return new([16 << 10]byte) }}
)

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
	}
}

func (b *dataBuffer) write(p []byte) {
	b.size += len(p)
	for len(p) > 0 {
		if n := len(b.chunks); n > 0 {
			last := b.chunks[n-1]
			if room := cap(last) - len(last); room > 0 {
				k := min(room, len(p))
				b.chunks[n-1] = append(last, p[:k]...)
				p = p[k:]
				continue
			}
		}
		if b.chunks == nil {
			b.chunks = b.inline[:0]
		}
		b.chunks = append(b.chunks, getChunk(len(p)))
	}
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
			putChunk(ch)
			b.chunks[0] = nil
			b.chunks = append(b.chunks[:0], b.chunks[1:]...)
			b.r = 0
		}
	}
	return n
}

// release drops all buffered bytes.
func (b *dataBuffer) release() {
	for i, ch := range b.chunks {
		putChunk(ch)
		b.chunks[i] = nil
	}
	b.chunks = b.chunks[:0]
	b.r, b.size = 0, 0
}
