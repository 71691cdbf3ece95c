package h2conn

import (
	"context"
	"io"
	"runtime"
	"time"

	"golang.org/x/net/http2"
)

const (
	// maxPending is how many queued bytes make a request body sender wait
	// for the writer, so that a fast body and a slow network cost bounded
	// memory whatever windows the peer grants.
	maxPending = 256 << 10
	// maxBacklog is how many queued bytes make the connection give up on a
	// peer that sends frames needing an answer (PING, SETTINGS) but does not
	// read what we write.
	maxBacklog = 4 << 20
	// keepSpare is the largest buffer the writer keeps for reuse.
	keepSpare = 1 << 20
	// goAwayFlushTimeout bounds how long a failing connection tries to
	// tell the peer why.
	goAwayFlushTimeout = time.Second

	// lingerTimeout and maxLinger bound the reading and dropping of what a peer that broke
	// the protocol still sends after our GOAWAY (see closeNC).
	lingerTimeout = 500 * time.Millisecond
	maxLinger     = 256 << 10
)

// wakeWriter tells the writer that frames are queued. It never blocks.
func (c *Conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the writer goroutine: it takes everything queued and sends
// it in one Write. It closes nc when the connection closes.
func (c *Conn) writeLoop() {
	defer c.wg.Done()
	defer c.closeNC()
	var written uint32 // the highest stream whose HEADERS a finished write carried
	for {
		select {
		case <-c.wake:
		case <-c.done:
			if c.linger.Load() {
				// The GOAWAY for the peer's protocol error is sent even if
				// the connection closed before this goroutine took it
				// (RFC 9113 5.4.1).
				if buf, _, _ := c.takePending(); len(buf) > 0 {
					_, _ = c.nc.Write(buf)
				}
			}
			return
		}
		// Let the goroutines that are about to queue frames (other requests
		// woken by the same event) do so, so that one Write carries them
		// all. Measured with BenchmarkRoundTripRaw/parallel64 on 2 CPUs:
		// 0.06 writes per request with this yield, 0.62 without, and
		// 8 us against 10-13 us per request; serial requests are unchanged.
		runtime.Gosched()
		buf, gen, sent := c.takePending()
		if len(buf) == 0 {
			continue
		}
		n, err := c.nc.Write(buf)
		c.wmu.Lock()
		if cap(buf) <= keepSpare {
			c.spare = buf[:0]
		}
		c.wrote = gen
		if c.wflush != nil {
			close(c.wflush)
			c.wflush = nil
		}
		c.wmu.Unlock()
		if err != nil {
			c.writeFailed(n, err, written)
			return
		}
		written = sent
	}
}

// writeFailed fails the connection after a write that failed having
// written n bytes. One that wrote nothing sent none of the HEADERS it
// carried: the streams above written, the highest stream whose HEADERS a
// finished write carried, are told they were not processed (RFC 9113
// 8.7). Where the connection failed for another cause first, its streams
// were told already, as possibly processed.
func (c *Conn) writeFailed(n int, err error, written uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	c.log.Debug().Err(err).Msg("h2conn: write failed")
	if n == 0 {
		c.sentID = written
	}
	c.failLocked(&opError{"write", err})
}

// takePending queues the window updates that are due and swaps the
// pending buffer out for the writer. It returns the buffer, its generation
// number and sentID: every stream up to it has its HEADERS in the buffer
// or before.
func (c *Conn) takePending() (buf []byte, gen uint64, sent uint32) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	c.queueCreditLocked()
	if c.nextID > 1 {
		c.sentID = c.nextID - 2
	}
	sent = c.sentID
	c.mu.Unlock()
	buf = c.wbuf.b
	if len(buf) == 0 {
		return nil, c.takes, sent
	}
	c.wbuf.b, c.spare = c.spare, nil
	c.takes++
	if c.wfull != nil {
		close(c.wfull)
		c.wfull = nil
	}
	return buf, c.takes, sent
}

// flush waits until everything queued so far has been written.
func (c *Conn) flush(ctx context.Context) error {
	c.wmu.Lock()
	target := c.takes
	if len(c.wbuf.b) > 0 {
		target++
	}
	for c.wrote < target {
		if c.wflush == nil {
			c.wflush = make(chan struct{})
		}
		ch := c.wflush
		c.wmu.Unlock()
		c.wakeWriter()
		select {
		case <-ch:
		case <-c.done:
			return c.closeErr()
		case <-ctx.Done():
			return ctx.Err()
		}
		c.wmu.Lock()
	}
	c.wmu.Unlock()
	return nil
}

// writeHeaderBlockLocked queues the block just encoded as HEADERS and,
// when it exceeds the peer's frame size, CONTINUATION frames (RFC 9113
// 6.2, 6.10). It appends them to the queue itself: the Framer would build
// each in a buffer of its own first, and a request's HEADERS is on every
// request's path.
func (c *Conn) writeHeaderBlockLocked(id uint32, endStream bool) {
	block := c.enc.buf
	n := min(len(block), c.maxFrame)
	var flags http2.Flags
	if endStream {
		flags |= http2.FlagHeadersEndStream
	}
	if n == len(block) {
		flags |= http2.FlagHeadersEndHeaders
	}
	c.wbuf.b = append(appendFrameHeader(c.wbuf.b, n, http2.FrameHeaders, flags, id), block[:n]...)
	for block = block[n:]; len(block) > 0; block = block[n:] {
		n, flags = min(len(block), c.maxFrame), 0
		if n == len(block) {
			flags = http2.FlagContinuationEndHeaders
		}
		c.wbuf.b = append(appendFrameHeader(c.wbuf.b, n, http2.FrameContinuation, flags, id), block[:n]...)
	}
}

// appendFrameHeader appends the 9-byte header of a frame whose payload is
// length bytes (RFC 9113 4.1); length is at most the peer's frame size.
func appendFrameHeader(b []byte, length int, t http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(t), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// queueRST queues RST_STREAM for s once.
func (c *Conn) queueRST(s *stream, code http2.ErrCode) {
	c.wmu.Lock()
	if !s.rstQueued {
		s.rstQueued = true
		_ = c.wfr.WriteRSTStream(s.id, code)
	}
	c.wmu.Unlock()
	c.wakeWriter()
}

// queueControl queues a frame the reader owes the peer (a PING ACK, an
// RST_STREAM). It fails when the peer lets our frames pile up unread.
func (c *Conn) queueControl(write func(*http2.Framer)) error {
	c.wmu.Lock()
	backlog := len(c.wbuf.b)
	if backlog <= maxBacklog {
		write(c.wfr)
	}
	c.wmu.Unlock()
	c.wakeWriter()
	if backlog > maxBacklog {
		return connError(http2.ErrCodeEnhanceYourCalm, "peer does not read")
	}
	return nil
}

// queueGoAway queues our GOAWAY for a connection error and waits briefly
// for it to be written, so that the peer learns why.
func (c *Conn) queueGoAway(code http2.ErrCode, reason string) {
	c.wmu.Lock()
	_ = c.wfr.WriteGoAway(0, code, []byte(reason))
	c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), goAwayFlushTimeout)
	_ = c.flush(ctx)
	cancel()
}

// writeData queues p as DATA frames for s, ending the stream if end. The
// caller has taken len(p) bytes of send window. It waits while the queue
// is full. It returns errStreamDone if s was reset meanwhile.
func (c *Conn) writeData(s *stream, p []byte, end bool) error {
	c.wmu.Lock()
	for len(c.wbuf.b) >= maxPending && !s.rstQueued {
		if c.wfull == nil {
			c.wfull = make(chan struct{})
		}
		ch := c.wfull
		c.wmu.Unlock()
		c.wakeWriter()
		select {
		case <-ch:
		case <-s.sendc:
			if s.isDone() {
				return errStreamDone
			}
		case <-c.done:
			return errStreamDone
		}
		c.wmu.Lock()
	}
	if s.rstQueued {
		c.wmu.Unlock()
		return errStreamDone
	}
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), c.maxFrame)
		var flags http2.Flags
		if end && n == len(p) {
			flags = http2.FlagDataEndStream
		}
		// Appended here, as HEADERS is: through the Framer, every byte of a request body
		// was copied twice.
		c.wbuf.b = append(appendFrameHeader(c.wbuf.b, n, http2.FrameData, flags, s.id), p[:n]...)
		p = p[n:]
	}
	if end {
		s.endQueued = true
	}
	c.wmu.Unlock()
	c.wakeWriter()
	return nil
}

// closeNC closes nc as the writer leaves. After a protocol error of the peer's, the GOAWAY that
// says why has been written, but the peer may still be sending; closing with its bytes unread
// would make the kernel reset the connection, which can destroy the GOAWAY before the peer reads
// it (RFC 9113 5.4.1 asks that it be sent first). So the sending side is shut down, and what the
// peer still sends is read and dropped for a short while, as in HTTP/1.1's lingering close.
func (c *Conn) closeNC() {
	if c.linger.Load() {
		c.nc.SetDeadline(time.Now().Add(lingerTimeout))
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			io.CopyN(io.Discard, c.nc, maxLinger)
		}
	}
	c.nc.Close()
}
