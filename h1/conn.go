package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
)

// connState says whether Shutdown may close a connection at once.
type connState = int32

const (
	stateIdle   connState = iota // waiting for the first byte of a request (new or kept alive)
	stateActive                  // reading a request head, running a handler, writing a response
	stateClosed                  // closed by Shutdown or Close, or finished
)

// conn is one client connection. Its serve goroutine, owned by the Server, reads requests and
// runs the handler for each, one at a time, in order.
//
// The loop is split so that pipelined dispatch can be added without reshaping it: readRequest
// produces an exchange (a *response holding its request) and serveRequest runs and completes it.
// Concurrent dispatch of safe pipelined requests (RFC 9112 9.3.2: GET and HEAD without content)
// would keep reading heads while earlier exchanges run, give every exchange that is not at the
// head of the line a writer of its own in place of the connection's bufio.Writer, and copy each
// held-back response to the connection when the one before it completes. The background read
// would then be the reader of the next head itself.
type conn struct {
	s          *Server
	rwc        net.Conn
	remoteAddr string
	start      time.Time       // when it was accepted
	ctx        context.Context // parent of request contexts; cancelled when the connection ends or dies
	cancel     context.CancelCauseFunc
	state      atomic.Int32 // connState; idle <-> active by the serve goroutine, -> closed by anyone

	// Owned by the serve goroutine, and lent to the exchange while its handler runs.
	tlsState *tls.ConnectionState // set by the handshake
	cr       connReader
	br       *bufio.Reader // nil while released during a long idle wait
	bw       *bufio.Writer // taken from the pool for an exchange, nil between exchanges
	headBuf  []byte        // reused for each request head
	served   int           // exchanges finished

	// wired counts bytes written to the socket. It is written by whoever writes through bw (the
	// handler, or a body reader sending 100 Continue under the response's lock) and read by the
	// serve goroutine after the handler returned.
	wired int64
}

func newConn(s *Server, rwc net.Conn) *conn {
	ctx := context.WithValue(s.ctx, http.LocalAddrContextKey, rwc.LocalAddr())
	ctx, cancel := context.WithCancelCause(ctx)
	c := &conn{s: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String(), start: time.Now(), ctx: ctx, cancel: cancel}
	c.cr = newConnReader(rwc, cancel)
	return c
}

// Write is the sink of the connection's bufio.Writer.
func (c *conn) Write(p []byte) (int, error) {
	n, err := c.rwc.Write(p)
	c.wired += int64(n)
	if err != nil {
		// The client is unreachable: stop the handler's work.
		c.cancel(err)
	}
	return n, err
}

// serve runs the connection until it closes. Every path out of it closes rwc.
func (c *conn) serve() {
	defer c.s.dropConn(c)
	defer c.release()
	defer c.cancel(errConnDone)
	if !c.handshake() {
		c.rwc.Close()
		return
	}
	c.br = getReader(&c.cr)
	for {
		w, err := c.readRequest()
		if err != nil {
			c.abandon(err)
			return
		}
		if !c.serveRequest(w) {
			return
		}
	}
}

// handshake completes a TLS handshake within HeaderTimeout of the accept, and accepts only
// connections that negotiated http/1.1, http/1.0 or no protocol with ALPN.
func (c *conn) handshake() bool {
	tc, ok := c.rwc.(*tls.Conn)
	if !ok {
		return true
	}
	c.rwc.SetDeadline(c.start.Add(c.s.cfg.HeaderTimeout))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.s.log.Debug().Str("remote", c.remoteAddr).Err(err).Msg("h1: TLS handshake failed")
		return false
	}
	c.rwc.SetWriteDeadline(time.Time{})
	st := tc.ConnectionState()
	if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" && p != "http/1.0" {
		// ALPN chose a protocol this package does not speak (the listener's tls.Config offered
		// it): answering in HTTP/1.1 would only confuse the client.
		c.s.log.Warn().Str("remote", c.remoteAddr).Str("alpn", p).Msg("h1: TLS connection negotiated a protocol other than HTTP/1.x")
		return false
	}
	c.tlsState = &st
	return true
}

// readRequest waits for the next request and reads and parses its head. Errors: errIdleClose
// for a connection to close silently, a *statusError to answer, or the connection's error.
func (c *conn) readRequest() (*response, error) {
	if err := c.awaitRequest(); err != nil {
		return nil, err
	}
	raw, err := readHead(c.br, c.headBuf, c.s.lim)
	if err != nil {
		switch {
		case isTimeout(err):
			// RFC 9110 15.5.9; a request is never answered with a bare close.
			return nil, errRequestTimeout
		case isEOF(err):
			return nil, errIncompleteHead
		}
		return nil, err
	}
	if cap(raw) <= maxKeptHeadBuf {
		c.headBuf = raw[:0]
	} else {
		c.headBuf = nil // a rare large head should not stay with the connection
	}
	c.rwc.SetReadDeadline(time.Time{})
	w := &response{c: c}
	if err := parseHead(&w.head, string(raw)); err != nil {
		return nil, err
	}
	c.newRequest(w)
	return w, nil
}

// awaitRequest waits for the first byte of the next request and arms the head's deadline. A new
// connection has HeaderTimeout from its accept for that; a kept-alive one IdleTimeout, and then
// HeaderTimeout from the first byte. A connection closing while idle, for a timeout, the client's
// close or Shutdown, returns errIdleClose.
func (c *conn) awaitRequest() error {
	cfg := &c.s.cfg
	if c.br.Buffered() > 0 || c.cr.stashed {
		// Pipelined: the next head has begun already.
		return c.rwc.SetReadDeadline(time.Now().Add(cfg.HeaderTimeout))
	}
	if !c.state.CompareAndSwap(stateActive, stateIdle) && c.state.Load() != stateIdle {
		return errIdleClose
	}
	// Shutdown sets closing before it closes idle connections; checking after becoming idle
	// means one of the two sees the other.
	if c.s.closing.Load() {
		return errIdleClose
	}
	fresh := c.served == 0
	deadline := time.Now().Add(cfg.IdleTimeout)
	if fresh {
		deadline = c.start.Add(cfg.HeaderTimeout)
	}
	if err := c.waitByte(deadline); err != nil {
		return errIdleClose
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return errIdleClose
	}
	if !fresh {
		deadline = time.Now().Add(cfg.HeaderTimeout)
	}
	return c.rwc.SetReadDeadline(deadline)
}

// waitByte blocks until a byte arrives or the deadline passes. After idleRelease it gives the
// bufio.Reader back to the pool and waits with a one-byte read, so that an idle connection holds
// no read buffer; a busy one pays nothing for this.
func (c *conn) waitByte(deadline time.Time) error {
	if c.br != nil {
		if soft := time.Now().Add(idleRelease); soft.Before(deadline) {
			c.rwc.SetReadDeadline(soft)
			_, err := c.br.Peek(1)
			if err == nil || !isTimeout(err) {
				return err
			}
			putReader(c.br)
			c.br, c.headBuf = nil, nil
		}
	}
	c.rwc.SetReadDeadline(deadline)
	if c.br != nil {
		_, err := c.br.Peek(1)
		return err
	}
	if err := c.cr.fill(); err != nil {
		return err
	}
	c.br = getReader(&c.cr)
	return nil
}

// newRequest builds the *http.Request for the parsed head in w.
func (c *conn) newRequest(w *response) {
	h := &w.head
	ctx, cancel := context.WithCancel(c.ctx)
	w.cancel = cancel
	w.header = make(http.Header)
	r := &http.Request{
		Method:        h.method,
		URL:           h.url,
		Proto:         h.proto,
		ProtoMajor:    1,
		ProtoMinor:    h.minor,
		Header:        h.header,
		Body:          http.NoBody,
		ContentLength: h.length,
		Close:         h.close,
		Host:          h.host,
		RemoteAddr:    c.remoteAddr,
		RequestURI:    h.target,
		TLS:           c.tlsState,
	}
	if h.framing != framingNone {
		w.hasBody = true
		w.body.init(w, h, c.br, c.s.lim)
		r.Body = &w.body
	}
	if h.framing == framingChunked {
		r.TransferEncoding = []string{"chunked"}
		// As net/http: the declared trailer names are present, with nil values, before the body
		// is read; the values arrive at its end.
		for _, k := range declaredTrailers(h.header["Trailer"]) {
			if r.Trailer == nil {
				r.Trailer = make(http.Header)
			}
			r.Trailer[k] = nil
		}
	}
	w.req = r.WithContext(ctx)
}

// serveRequest runs the handler for w and completes the exchange. It reports whether the
// connection stays open for another request; if not, it has closed it.
func (c *conn) serveRequest(w *response) bool {
	s := c.s
	s.active.Add(1)
	defer s.active.Add(-1)
	c.bw = getWriter(c)
	if !w.hasBody && c.br.Buffered() == 0 {
		c.cr.startBackgroundRead()
	}
	panicked := c.runHandler(w)
	var bodyErr error
	if w.hasBody {
		bodyErr = w.body.closeForServer()
	}
	c.cr.stopBackgroundRead()
	w.cancel()
	c.served++
	s.requests.Add(1)

	switch {
	case panicked:
		c.afterPanic(w)
		return false
	case !w.finish(bodyErr):
		c.replyError(errBadBody)
		c.closeGracefully()
		return false
	case c.cr.gone != nil:
		c.rwc.Close()
		return false
	case w.closeAfter:
		c.closeGracefully()
		return false
	}
	if w.hasBody {
		c.rwc.SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
		if !w.body.discard() {
			c.closeGracefully()
			return false
		}
	}
	putWriter(c.bw)
	c.bw = nil
	return true
}

// runHandler calls the handler and recovers its panic.
func (c *conn) runHandler(w *response) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if p != http.ErrAbortHandler {
				c.s.log.Error().Str("remote", c.remoteAddr).Str("method", w.head.method).
					Str("target", w.head.target).Interface("panic", p).
					Str("stack", string(debug.Stack())).Msg("h1: handler panicked")
			}
		}
	}()
	c.s.handler.ServeHTTP(w, w.req)
	return false
}

// afterPanic answers 500 if nothing of the response has reached the client yet (what was
// buffered is dropped); otherwise the response cannot be repaired and the connection is closed.
func (c *conn) afterPanic(w *response) {
	w.done = true
	if !w.wroteHeader || c.wired <= w.headerMark {
		c.bw.Reset(c)
		c.replyError(errHandlerPanic)
		c.closeGracefully()
		return
	}
	c.rwc.Close()
}

// abandon ends a connection whose next request could not be read: a *statusError is answered,
// anything else (idle close, I/O error) closes silently.
func (c *conn) abandon(err error) {
	var se *statusError
	if !errors.As(err, &se) {
		c.rwc.Close()
		return
	}
	c.s.log.Debug().Str("remote", c.remoteAddr).Int("status", se.code).Str("reason", se.reason).
		Msg("h1: request refused")
	c.replyError(se)
	c.closeGracefully()
}

// replyError writes the server's own answer to a refused request, with Connection: close.
func (c *conn) replyError(e *statusError) {
	if c.bw == nil {
		c.bw = getWriter(c)
	}
	c.rwc.SetWriteDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
	bw := c.bw
	writeStatusLine(bw, e.code)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nDate: ")
	bw.Write(c.s.date.get(time.Now()))
	bw.WriteString("\r\nContent-Length: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(e.reason)+1), 10))
	bw.WriteString("\r\n\r\n")
	bw.WriteString(e.reason)
	bw.WriteString("\n")
	bw.Flush()
}

// closeGracefully closes after a complete response: it half-closes, then reads and drops what the
// client still sends for a short while (RFC 9112 9.6), so that unread request bytes do not make
// the kernel reset the connection and destroy the response before the client has read it.
func (c *conn) closeGracefully() {
	if halfClose(c.rwc) {
		c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.CopyN(io.Discard, c.rwc, maxLinger)
	}
	c.rwc.Close()
}

// halfClose shuts down the writing side of c (after TLS close_notify), if it can.
func halfClose(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		if tc.CloseWrite() != nil {
			return false
		}
		c = tc.NetConn()
	}
	cw, ok := c.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}

// release gives the connection's buffers back to their pools once it is closed.
func (c *conn) release() {
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	if c.bw != nil {
		putWriter(c.bw)
		c.bw = nil
	}
}

// closeIfIdle closes the connection if it is waiting for a request, for Shutdown.
func (c *conn) closeIfIdle() {
	if c.state.CompareAndSwap(stateIdle, stateClosed) {
		c.rwc.Close()
	}
}

// abort closes the connection whatever it is doing and cancels its requests, for Close.
func (c *conn) abort() {
	c.state.Store(stateClosed)
	c.cancel(http.ErrServerClosed)
	c.rwc.Close()
}
