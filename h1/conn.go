package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// connState says whether Shutdown may close a connection at once.
type connState = int32

const (
	stateNew    connState = iota // waiting for the first byte of its first request
	stateIdle                    // kept alive, waiting for the first byte of its next request
	stateActive                  // reading a request head, running a handler, writing a response
	stateClosed                  // closed by Shutdown or Close, or finished
)

// conn is one client connection. Its serve goroutine, owned by the Server, reads requests and
// runs the handler for each on its own stack, one at a time, in order; that is the common case,
// and it costs no goroutine per request. Safe requests that arrive pipelined are dispatched to
// goroutines of their own and answered in order through the connection's pipeline (see
// pipeline.go); any other request waits for the pipeline to drain and then runs on the serve
// goroutine again.
type conn struct {
	s          *Server
	rwc        net.Conn
	remoteAddr string          // the client's address: the socket's peer, or the one a PROXY header named
	start      time.Time       // when it was accepted
	base       context.Context // parent of the request contexts (with the local address); never cancelled
	local      connContext     // what base points to

	// Set by Server.addConn before the serve goroutine starts, or for a proxied connection by
	// the serve goroutine once it has read the PROXY header; read-only after.
	ip      netip.Addr // the client address counted against MaxConnsPerIP; zero if not counted
	refused bool       // the address is at MaxConnsPerIP: refuse the connection
	rate    *ipRate    // the pace of the client address's requests (RequestRatePerIP); nil if none

	state atomic.Int32 // connState; idle <-> active by the serve goroutine, -> closed by anyone

	// Request contexts are not children of a per-connection cancelable context, which would keep
	// a map of children (and a channel) for the connection's life, idle or not. The connection
	// cancels its running requests itself: the one run by the serve goroutine (cur), and the
	// dispatched ones through the pipeline.
	mu     sync.Mutex
	failed error       // guarded by mu: why the connection failed; the cause for every request context, later ones too
	cur    *reqContext // guarded by mu: the context of the exchange the serve goroutine runs, while it runs

	// pipe is set once, by the serve goroutine at the first dispatch, and read by anyone.
	pipe atomic.Pointer[pipeline]

	// park is the connection's place among the parked ones; guarded by the parking lot's mu.
	park parkState

	// Owned by the serve goroutine, and lent to the exchange while its handler runs.
	tlsState *tls.ConnectionState // set by the handshake
	cr       connReader
	br       *bufio.Reader // nil while released during a long idle wait
	bw       *bufio.Writer // taken from the pool for an exchange run by the serve goroutine, nil between exchanges
	headBuf  []byte        // reused for each request head
	reqs     atomic.Int64  // requests read; written by the serve goroutine, read by the responses (mustClose)
	proxied  bool          // it begins with a PROXY header (Server.ServeProxyProtocol); set before the serve goroutine starts
	started  bool          // the first serve goroutine has begun (and done the TLS handshake)
	shed     bool          // the idle wait moved to a fresh goroutine, which resumes it
	parks    bool          // a long idle wait parks the connection (park_linux.go) rather than shed

	// headUnarmed says the head being read came whole with its first bytes, so awaitRequest left
	// the read deadline as it was. readRequest then arms HeaderTimeout for a request with
	// content: a body Read that finds bytes buffered sets no deadline of its own, yet may wait
	// for the client for the rest of a chunk line.
	headUnarmed bool

	// shortReply says the last response the serve goroutine served had a body shorter than a
	// write buffer, so that it went out whole, usually in one write, when it ended (see
	// awaitRequest).
	shortReply bool

	stack    uint64        // the runtime's starting stack size when the last shed started the serve goroutine
	restack  time.Duration // the next wait before checking whether a fresh goroutine would get a smaller stack
	idleEnd  time.Time     // when the current wait for a request ends
	idleFrom time.Time     // when it began, for its first armIdleWait, which clears it; zero after

	// wired counts bytes written to the socket through bw. It is written by whoever writes
	// through bw (the handler, or a body reader sending 100 Continue under the response's lock)
	// and read by the serve goroutine after the handler returned.
	wired int64

	// A body write that goes out in one writev (see writeThrough and writeVectored): iovs is its
	// list, slot 0 left for what bw holds while gathering says bw's next flush sends the list,
	// and gathered says it did; iov is the list a writev consumes, so that it costs no
	// allocation. Owned, like wired, by whoever writes through bw.
	iovs      [][]byte
	iov       net.Buffers
	gathering bool
	gathered  bool

	// writeNow's callback (c.onWritable, bound once; nil where the socket is not a TCP one), what
	// it is to write and what it wrote. Owned, like wdl, by whoever writes to the socket.
	writable  func(fd uintptr) bool
	unwritten []byte
	wroteNow  int

	// wdl is the socket's write deadline; owned by whoever writes to the socket (one at a time:
	// the exchange run by the serve goroutine, or the pipeline's head or writer).
	wdl time.Time

	// rdl is the read deadline the serve goroutine last set, while it is known to be the
	// socket's; zero once something else may have moved it (a body read, the watch, a pipeline,
	// the TLS handshake). Owned by the serve goroutine. See waitByte.
	rdl time.Time
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{s: s, rwc: rwc, remoteAddr: addrString(rwc.RemoteAddr()), start: time.Now()}
	c.local = connContext{s.ctx, rwc.LocalAddr()}
	c.base = &c.local
	c.cr.init(c)
	if c.cr.raw != nil {
		c.writable = c.onWritable
	}
	c.parks = parkable(rwc)
	return c
}

// connContext is a connection's base context: the Server's, with the connection's local address
// under http.LocalAddrContextKey, as net/http's. A field of the conn, it costs no allocation,
// where context.WithValue took one a connection.
type connContext struct {
	context.Context          // the Server's
	addr            net.Addr // the connection's local address
}

func (c *connContext) Value(key any) any {
	if key == http.LocalAddrContextKey {
		return c.addr
	}
	return c.Context.Value(key)
}

// addrString is a.String(), formatted by net/netip for a TCP address: an IPv4 one, mapped or not,
// as a.b.c.d:port, as net does. It takes half the instructions of net's (which formats the IP
// and the port apart and joins them): 700 fewer a connection under callgrind.
func addrString(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ap := ta.AddrPort(); ap.Addr().IsValid() {
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
		}
	}
	return a.String()
}

// Write is the sink of the connection's bufio.Writer. With a gathered body write pending, p (what
// bw held) and the body leave in one writev.
func (c *conn) Write(p []byte) (int, error) {
	if c.gathering {
		return c.writeGathered(p)
	}
	n, err := c.writeSocket(p)
	c.wired += int64(n)
	return n, err
}

// writeThrough writes p, which is larger than what bw has room for, on a TCP connection, while
// bw holds bytes (the response head, say): the two leave in one writev instead of bw filling
// itself from p, writing that, and writing the rest of p on its own, which cost most large
// responses an extra 4 KiB write system call. It reports false, having written nothing, where
// that does not apply.
func (c *conn) writeThrough(bw *bufio.Writer, p []byte) (bool, error) {
	if bw.Buffered() == 0 || len(p) <= bw.Available() || !c.writesThrough(bw) {
		return false, nil
	}
	c.iovs = append(c.iovs[:0], nil, p)
	return true, c.flushGathered(bw)
}

// writeVectored writes bufs and then tail, n bytes in all, on a TCP connection, after what bw
// holds, in one writev: none of them is copied into bw. It reports false, having written
// nothing, where that does not apply: bw is a pipelined exchange's, the connection is TLS (which
// writes each buffer as records of its own anyway), or n fits in bw, which then sends it with
// what follows.
func (c *conn) writeVectored(bw *bufio.Writer, bufs [][]byte, tail []byte, n int) (bool, error) {
	if n <= bw.Available() || !c.writesThrough(bw) {
		return false, nil
	}
	direct := bw.Buffered() == 0
	c.iovs = c.iovs[:0]
	if !direct {
		c.iovs = append(c.iovs, nil)
	}
	c.iovs = append(c.iovs, bufs...)
	if len(tail) > 0 {
		c.iovs = append(c.iovs, tail)
	}
	if direct {
		_, err := c.writev()
		return true, err
	}
	return true, c.flushGathered(bw)
}

// writesThrough reports whether a body write may bypass bw: bw writes to the socket itself (it
// is the connection's own, or the pipeline finisher's), on TCP.
func (c *conn) writesThrough(bw *bufio.Writer) bool {
	if _, ok := c.rwc.(*net.TCPConn); !ok {
		return false
	}
	if bw == c.bw {
		return true
	}
	p := c.pipe.Load()
	return p != nil && bw == p.bbw
}

// flushGathered flushes bw, whose bytes leave with c.iovs[1:] in one writev (see writeGathered).
func (c *conn) flushGathered(bw *bufio.Writer) error {
	c.gathering, c.gathered = true, false
	err := bw.Flush()
	c.gathering = false
	if err == nil && !c.gathered {
		err = io.ErrShortWrite
	}
	return err
}

// writeGathered writes p and then c.iovs[1:] in one writev, and reports p written: bw's Flush,
// which called it, knows nothing of the body.
func (c *conn) writeGathered(p []byte) (int, error) {
	c.iovs[0] = p
	n, err := c.writev()
	if err != nil {
		return int(min(n, int64(len(p)))), err
	}
	c.gathered = true
	return len(p), nil
}

// writev writes c.iovs to the socket within WriteTimeout and drops the list; a failed write
// fails the connection, as in writeSocket.
func (c *conn) writev() (int64, error) {
	c.armWrite()
	c.iov = c.iovs
	n, err := c.iov.WriteTo(c.rwc)
	c.wired += n
	clear(c.iovs) // the buffers go back to their owners
	c.iovs, c.iov = c.iovs[:0], nil
	if err != nil {
		if isTimeout(err) {
			err = errWriteTimeout
		}
		c.fail(err)
	}
	return n, err
}

// writeSocket writes p to the socket within WriteTimeout. A failed write (the client is gone,
// or stopped reading) fails the connection: the handlers' work stops.
func (c *conn) writeSocket(p []byte) (int, error) {
	n := c.writeNow(p)
	if n == len(p) {
		return n, nil
	}
	c.armWrite()
	m, err := c.rwc.Write(p[n:])
	n += m
	if err != nil {
		if isTimeout(err) {
			err = errWriteTimeout
		}
		c.fail(err)
	}
	return n, err
}

// writeNow writes what of p the socket takes without waiting, and returns how much that was. A
// write the socket takes whole needs no write deadline, since nothing waited: a connection whose
// writes all go so arms none, and spares its timer (about 1,000 instructions to set and clear).
// It writes nothing where the socket is not a TCP one, has failed, or has a write deadline that
// has passed: the write after it then reports that.
func (c *conn) writeNow(p []byte) int {
	if c.writable == nil {
		return 0
	}
	c.unwritten, c.wroteNow = p, 0
	c.cr.raw.Write(c.writable)
	c.unwritten = nil
	return c.wroteNow
}

// armWrite sets the write deadline for the next write to WriteTimeout from now. To spare a
// system call per write, a deadline that is still more than half the timeout away is kept, so a
// write that makes no progress is cut after between half the timeout and all of it. To spare a
// clock read per write, now is the coarse clock's: a kept deadline is still more than half the
// timeout plus the coarse clock's slack away by it, and a new one is no later than the timeout.
func (c *conn) armWrite() {
	d := c.s.cfg.WriteTimeout
	now, slack := c.s.clock.now(d)
	if c.wdl.Sub(now) < d/2+slack {
		c.wdl = now.Add(d)
		c.rwc.SetWriteDeadline(c.wdl)
	}
}

// fail cancels the connection's requests, and those it may still start, with the cause it failed
// with first (cause, if this is the first), and stops its pipeline: nothing more is written. Safe
// from any goroutine.
func (c *conn) fail(cause error) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = cause
	}
	cause = c.failed // the first cause stands, as for the exchanges that start later (track)
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		cur.cancel(cause)
	}
	if p := c.pipe.Load(); p != nil {
		p.close(true)
	}
}

// failure is why the connection failed, or nil.
func (c *conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// track registers (or, with nil, forgets) the context of the exchange the serve goroutine runs,
// for fail; an exchange that starts on a failed connection starts cancelled.
func (c *conn) track(ctx *reqContext) {
	c.mu.Lock()
	c.cur = ctx
	failed := c.failed
	c.mu.Unlock()
	if failed != nil && ctx != nil {
		ctx.cancel(failed)
	}
}

// setReadDeadline sets the serve goroutine's read deadline, unless a pipeline has closed and
// keeps the reads interrupted, and remembers it in rdl while no other goroutine may move it.
func (c *conn) setReadDeadline(t time.Time) error {
	if p := c.pipe.Load(); p != nil {
		c.rdl = time.Time{}
		return p.setReadDeadline(c.rwc, t)
	}
	c.rdl = t
	return c.rwc.SetReadDeadline(t)
}

// serve runs the connection until it closes, then frees what it holds. Every path out of it
// closes rwc, after every dispatched handler has returned. A connection that waits long for its
// next request is parked, without a goroutine, until it has bytes, its deadline passes or the
// Server shuts down (park_linux.go); where it cannot park, it continues on a fresh goroutine,
// started here (see waitByte).
//
// It reports whether the goroutine may serve another connection (see serveConns): false when the
// connection went on on a fresh goroutine.
func (c *conn) serve() (reusable bool) {
	if c.run() {
		if p := c.pipe.Load(); p != nil {
			p.retire()
		}
		if c.parks && c.s.park(c) {
			return true
		}
		c.parks = false // it sheds as where it cannot park
		c.resume()
		return false
	}
	c.waitHandlers()
	c.release()
	c.s.dropConn(c)
	return true
}

// run reads and serves requests until the connection closes, and reports true instead if it is
// to go on on a fresh goroutine.
func (c *conn) run() (shed bool) {
	if !c.started {
		c.started = true
		if c.proxied && !c.readProxy() {
			c.rwc.Close()
			return false
		}
		if c.refused {
			c.refuse()
			return false
		}
		if !c.handshake() {
			c.rwc.Close()
			return false
		}
		if c.tlsState != nil && c.tlsState.NegotiatedProtocol == "h2" {
			c.serveH2()
			return false
		}
	}
	for {
		// The wait is called from here, not from readRequest, to keep the stack of an idle
		// connection shallow (see waitByte).
		err := c.awaitRequest()
		if err == nil && c.s.closing.Load() && c.pipelineBusy() {
			// A drain: the requests read so far are answered, the last with Connection:
			// close (response.mustClose), and none after them.
			c.closePipelined()
			return false
		}
		var w *response
		if err == nil {
			w, err = c.readRequest()
		}
		if err == errShed {
			return true
		}
		if err != nil {
			c.abandon(err, w)
			return false
		}
		if c.dispatchable(w) {
			// Read before w is handed on: a finisher recycles it once answered.
			last := w.head.close || c.lastRequest(w)
			if !c.dispatch(w) || last {
				// Nothing is read after a request that ends the connection.
				c.closePipelined()
				return false
			}
			continue
		}
		if p := c.pipe.Load(); p != nil && !p.drain() {
			c.closePipelined()
			return false
		}
		if !c.serveRequest(w) {
			return false
		}
	}
}

// lastRequest reports whether w is the last request MaxRequestsPerConn allows.
func (c *conn) lastRequest(w *response) bool {
	m := c.s.cfg.MaxRequestsPerConn
	return m > 0 && w.seq+1 >= m
}

// dispatchable reports whether w runs concurrently with the requests around it: a GET or HEAD
// without content (RFC 9110 9.2.1: safe, so running it early changes nothing), with pipelining
// allowed, while more of the pipeline is buffered or earlier dispatched responses are unwritten.
// A request that may switch protocols (Upgrade) is not: what follows it may be the other
// protocol's.
func (c *conn) dispatchable(w *response) bool {
	if c.s.cfg.PipelineDepth < 2 || w.hasBody || w.head.upgrade ||
		(w.head.method != http.MethodGet && w.head.method != http.MethodHead) {
		return false
	}
	if c.readAhead() {
		return true
	}
	return c.pipelineBusy()
}

// pipelineBusy reports whether dispatched responses are still to be written.
func (c *conn) pipelineBusy() bool {
	p := c.pipe.Load()
	return p != nil && p.busy()
}

// dispatch runs w on a goroutine of its own through the pipeline, made at the first dispatch.
// It reports false if the pipeline has closed.
func (c *conn) dispatch(w *response) bool {
	p := c.pipe.Load()
	if p == nil {
		p = newPipeline(c)
		c.pipe.Store(p)
	}
	// After the pipeline is stored, a failure closes it; before, it is seen here.
	if c.failure() != nil {
		p.close(true)
		return false
	}
	if ps, ok := c.s.handler.(PipelineStarter); ok && ps.StartsPipelined() {
		return p.dispatchBatch(w, ps)
	}
	return p.dispatch(w)
}

// serveDispatched runs a dispatched exchange: the handler, then the end of its response, which
// the pipeline writes in turn.
func (c *conn) serveDispatched(w *response) {
	p := w.out.p
	defer p.handlers.Done()
	panicked := c.runHandler(w)
	w.rctx.cancel(errHandlerDone)
	if panicked {
		w.afterDispatchedPanic()
	} else {
		w.finish(nil)
	}
	p.complete(&w.out)
	putWriter(w.bw)
	c.s.requests.Add(1)
	c.s.active.Add(-1)
}

// waitHandlers stops the pipeline, if there is one, and waits for its handlers.
func (c *conn) waitHandlers() {
	if p := c.pipe.Load(); p != nil {
		p.stop()
	}
}

// closePipelined ends the connection once its pipeline has drained or closed and the
// dispatched handlers have returned: with a lingering close, or at once after a cut response or
// a failed socket.
func (c *conn) closePipelined() {
	p := c.pipe.Load()
	if p != nil {
		p.drain()
	}
	if p == nil || p.stop() {
		c.closeGracefully()
		return
	}
	c.rwc.Close()
}

// refuse ends a connection from an address at MaxConnsPerIP: clear text gets a 503 with
// Connection: close at once, before its request is read, and the lingering close that lets the
// client read it; TLS is closed before the handshake, which is the costly part. Both are
// reported as the refusal of a 503, which only the clear-text client reads.
func (c *conn) refuse() {
	c.s.log.Debug().Str("remote", c.remoteAddr).Msg("h1: connection refused: too many from this address")
	c.reportRefusal(errTooManyConns, nil)
	if _, ok := c.rwc.(*tls.Conn); ok {
		c.rwc.Close()
		return
	}
	c.replyError(errTooManyConns)
	c.closeGracefully()
}

// handshake completes a TLS handshake within HeaderTimeout of the accept, and accepts only
// connections that negotiated http/1.1, http/1.0 or no protocol with ALPN.
func (c *conn) handshake() bool {
	tc, ok := c.rwc.(*tls.Conn)
	if !ok {
		return true
	}
	c.rwc.SetDeadline(c.start.Add(c.s.cfg.HeaderTimeout))
	if err := tc.Handshake(); err != nil {
		c.s.log.Debug().Str("remote", c.remoteAddr).Err(err).Msg("h1: TLS handshake failed")
		c.s.tlsFails.Add(1)
		return false
	}
	c.rwc.SetWriteDeadline(time.Time{})
	st := tc.ConnectionState()
	if v := int(st.Version) - tls.VersionTLS10; v >= 0 && v < len(c.s.tlsFull) {
		if st.DidResume {
			c.s.tlsResumed[v].Add(1)
		} else {
			c.s.tlsFull[v].Add(1)
		}
	}
	if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" && p != "http/1.0" && !(p == "h2" && c.s.h2 != nil) {
		// ALPN chose a protocol this package does not speak (the listener's tls.Config offered
		// it): answering in HTTP/1.1 would only confuse the client.
		c.s.log.Warn().Str("remote", c.remoteAddr).Str("alpn", p).Msg("h1: TLS connection negotiated a protocol other than HTTP/1.x")
		c.s.tlsFails.Add(1)
		return false
	}
	c.tlsState = &st
	return true
}

// readRequest reads and parses the head of the request whose first bytes awaitRequest saw.
// Errors: a *statusError to answer, or the connection's error. With a refusal of a head read
// whole it returns the request too, with what was parsed of its head (see abandon).
func (c *conn) readRequest() (*response, error) {
	if c.headBuf == nil {
		// Most heads fit: one allocation, rather than a growth for each of the first lines.
		c.headBuf = make([]byte, 0, firstHeadBuf)
	}
	raw, err := readHead(c.br, c.headBuf, c.s.lim)
	if err != nil {
		switch {
		case isTimeout(err):
			// RFC 9110 15.5.9; a request is never answered with a bare close.
			return c.cutShort(raw), errRequestTimeout
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
	// The head's deadline stays until the next wait for a request moves it: nothing reads the
	// socket meanwhile but a body read, the watch or a pipeline, which set their own.
	w := newResponse(c)
	w.head.listed = c.s.cfg.ListFields
	if err := parseHead(&w.head, string(raw)); err != nil {
		return w, err
	}
	if w.head.method == http.MethodConnect {
		return w, errConnect
	}
	if limit := c.s.lim.bodyBytes; limit > 0 && w.head.length > limit {
		return w, errBodyTooLarge
	}
	if c.rate != nil && !c.s.rates.take(c.rate, c.s.rates.now()) {
		return w, errTooManyRequests
	}
	if c.headUnarmed && w.head.framing != framingNone {
		c.setReadDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
	}
	if w.head.framing == framingChunked {
		buffered, _ := c.br.Peek(c.br.Buffered())
		if precheckChunked(buffered, c.s.lim) != nil {
			return w, errBadBody
		}
	}
	w.seq = int(c.reqs.Load())
	c.reqs.Store(int64(w.seq) + 1)
	c.newRequest(w)
	return w, nil
}

// cutShort returns a response whose head holds the request line of raw, a head that did not
// arrive whole, for the report of its refusal; nil if raw holds no valid request line.
func (c *conn) cutShort(raw []byte) *response {
	eol := bytes.Index(raw, crlf)
	if eol < 0 {
		return nil
	}
	w := newResponse(c)
	if w.head.parseRequestLine(string(raw[:eol])) != nil {
		return nil
	}
	return w
}

// awaitRequest waits for the first byte of the next request and arms the head's deadline. A new
// connection has HeaderTimeout from its accept for that; a kept-alive one IdleTimeout, and then
// HeaderTimeout from the first byte. A connection closing while idle, for a timeout, the client's
// close or Shutdown, returns errIdleClose. While dispatched responses are unwritten the
// connection is not idle: it waits for the byte without a deadline until they are written. A
// wait that moves to a fresh goroutine returns errShed, and the next call resumes it.
func (c *conn) awaitRequest() error {
	cfg := &c.s.cfg
	c.headUnarmed = false
	if c.readAhead() {
		// Pipelined: the next head has begun already.
		return c.armHead()
	}
	resumed := c.shed
	c.shed = false
	if !resumed {
		if p := c.pipe.Load(); p != nil {
			switch err := p.awaitByte(); err {
			case nil:
				return c.armHead()
			case errDrained:
			default:
				return err
			}
		}
		if !c.state.CompareAndSwap(stateActive, stateIdle) && !c.waiting() {
			return errIdleClose
		}
		// Shutdown sets idleClosing before it closes idle connections; checking after becoming
		// idle means one of the two sees the other. A new connection's first request is let in
		// (see closeIfIdle).
		if c.s.idleClosing.Load() && c.state.Load() != stateNew {
			return errIdleClose
		}
		now := time.Now()
		c.idleEnd, c.idleFrom = now.Add(cfg.IdleTimeout), now
		if c.reqs.Load() == 0 {
			c.idleEnd = c.start.Add(cfg.HeaderTimeout)
		} else if c.shortReply {
			// The client, unless it pipelines, sends its next request only once it has read the
			// response just written in one piece: a read now would mostly find nothing, a
			// system call before the wait on the poller and the read after it. Other
			// connections whose responses came in the same upstream read are ready to write
			// them meanwhile; once they have, the first read often finds the request. Measured
			// against nghttpd (perf stat under integration/bench's small load): 1.94 reads per
			// write before, 1.2 after. After a longer response, which the client read while it
			// was being written, the request is more likely there already, and waiting for the
			// others only delays it.
			runtime.Gosched()
		}
	}
	if err := c.idleWait(resumed); err != nil {
		return err
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) && !c.state.CompareAndSwap(stateNew, stateActive) {
		return errIdleClose
	}
	if c.cr.holdsHead() {
		// The whole head came with its first bytes: reading it waits for nothing, so the wait's
		// deadline may stay, and two deadline changes per request are saved.
		c.headUnarmed = true
		return nil
	}
	deadline := c.idleEnd
	if c.reqs.Load() > 0 {
		deadline = time.Now().Add(cfg.HeaderTimeout)
	}
	return c.setReadDeadline(deadline)
}

// armHead arms the deadline of a head whose first bytes are in the bufio.Reader: HeaderTimeout
// from now, unless the whole head is there already, so that reading it waits for nothing; the
// deadline is then left as it is (see headUnarmed), which spares a clock read and a deadline
// change for each request of a pipeline.
func (c *conn) armHead() error {
	if c.br != nil {
		if b, _ := c.br.Peek(c.br.Buffered()); holdsHead(b) {
			c.headUnarmed = true
			return nil
		}
	}
	return c.setReadDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
}

// idleWait waits for the first bytes of the next request until idleEnd. It returns errShed when
// the connection is to go on on a fresh goroutine (see shedAfter), and errIdleClose when the wait
// ends without bytes.
func (c *conn) idleWait(resumed bool) error {
	c.restack = restackWait
	err := c.waitByte(c.idleEnd, c.shedAfter(resumed))
	for err == errShed && resumed && !c.parks && startingStack() >= c.stack {
		// A fresh goroutine would get no smaller a stack than this one has: wait on, and check
		// less often each time, so that a starting size that stays high costs next to nothing.
		c.restack *= 2
		err = c.waitByte(c.idleEnd, c.shedAfter(resumed))
	}
	switch {
	case err == errShed:
		// The fresh goroutine starts with a small stack and must stay within it: arming its
		// deadline here spares it the runtime's deadline code, the deepest call of its wait.
		c.shed = true
		c.setReadDeadline(c.idleEnd)
		return errShed
	case err != nil:
		return errIdleClose
	}
	return nil
}

// waitByte blocks until the first bytes of a request arrive or the deadline passes, holding no
// read buffer (see connReader.waitIdle); the bufio.Reader is taken from the pool once bytes have
// arrived. A wait that lasts shedAfter (if positive) returns errShed instead: the connection
// parks, or goes on on a fresh goroutine with a small stack (see serve), and the stack this one
// grew running handlers is freed. A busy connection's next request comes sooner and pays nothing
// for this.
//
// An idle connection's stack is what it holds most of, so the chain that blocks here is kept
// shallow: the runtime starts each new goroutine with the average stack that the last garbage
// collection found in use, plus a guard, rounded up to a power of two; idle connections are most
// goroutines, and a few hundred bytes more on each tips the average from 2 KiB stacks to 4 KiB.
func (c *conn) waitByte(deadline time.Time, shedAfter time.Duration) error {
	wait := c.armIdleWait(deadline, shedAfter)
	lazy := !c.cr.lazyDeadline.IsZero()
	err := c.cr.waitIdle()
	if lazy && c.cr.lazyDeadline.IsZero() {
		c.rdl = wait // the callback set it
	}
	c.cr.lazyDeadline = time.Time{}
	if err != nil {
		if !wait.Equal(deadline) && isTimeout(err) {
			c.headBuf = nil
			return errShed
		}
		return err
	}
	c.br = getReader(&c.cr)
	return nil
}

// shedAfter is how long an idle wait lasts before the connection parks or moves to a fresh
// goroutine: Config.ParkAfter for the first wait after a request, and for every wait of a
// connection that parks. A goroutine started by a shed moves again only if the runtime gave it more
// than the smallest stack: it sizes new stacks by the average in use at the last garbage
// collection, which a burst of busy handlers raises. Such a goroutine checks after restackWait
// whether a fresh one would get less, then after twice that, and so on. Zero: never.
func (c *conn) shedAfter(resumed bool) time.Duration {
	switch {
	case !resumed || c.parks:
		return c.s.cfg.ParkAfter
	case c.stack > minStack:
		return c.restack
	}
	return 0
}

// startingStack is the stack size the runtime gives a goroutine started now.
func startingStack() uint64 {
	s := [1]metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return minStack
	}
	return s[0].Value.Uint64()
}

// armIdleWait gives back the read buffer and sets the read deadline of an idle wait that ends by
// deadline, or by shedAfter from now if that is positive and sooner, and returns it. It does not
// pay a deadline change per request: a soft deadline still between shedAfter/2 and shedAfter
// away, set by an earlier wait, is kept, so the wait may shed after half of shedAfter. Not
// inlined: its frame is gone while waitByte blocks.
//
//go:noinline
func (c *conn) armIdleWait(deadline time.Time, shedAfter time.Duration) time.Time {
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	if c.pipe.Load() != nil {
		c.rdl = time.Time{} // the pipeline's goroutines move the read deadline too
	}
	now := c.idleFrom
	c.idleFrom = time.Time{}
	wait := deadline
	if shedAfter > 0 {
		if now.IsZero() {
			now = time.Now()
		}
		if soft := now.Add(shedAfter); soft.Before(deadline) {
			wait = soft
			if kept := c.rdl; kept.Before(wait) && kept.Sub(now) >= shedAfter/2 {
				wait = kept
			}
		}
	}
	switch {
	case wait.Equal(c.rdl):
	case c.rdl.IsZero() && c.reqs.Load() == 0 && !c.proxied && c.cr.raw != nil:
		// The first wait of a connection whose socket has had no read deadline: the request
		// is mostly there already, and the deadline is set only if the wait must wait (see
		// onReadable), which spares its timer (about 1,000 instructions to set and clear).
		c.cr.lazyDeadline = wait
	default:
		c.setReadDeadline(wait)
	}
	return wait
}

// newRequest builds the *http.Request for the parsed head in w.
func (c *conn) newRequest(w *response) {
	h := &w.head
	ctx := &reqContext{base: c.base}
	w.rctx = ctx
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
		var buf [1]string
		for _, k := range declaredTrailers(h.values(fieldTrailer, buf[:0])) {
			if r.Trailer == nil {
				r.Trailer = make(http.Header)
			}
			r.Trailer[k] = nil
		}
	}
	if h.listed {
		ctx.w = w // for RequestFields
	}
	// The request lives in w: one allocation for both. (WithContext's copy is inlined and
	// stays on the stack.)
	w.reqv = *r.WithContext(ctx)
	w.req = &w.reqv
}

// serveRequest runs the handler for w and completes the exchange. It reports whether the
// connection stays open for another request; if not, it has closed it.
func (c *conn) serveRequest(w *response) bool {
	s := c.s
	s.active.Add(1)
	defer s.active.Add(-1)
	c.bw = getWriter(c)
	w.bw = c.bw
	c.track(w.rctx)
	if !w.hasBody && c.br.Buffered() == 0 {
		c.cr.arm()
	}
	panicked := c.runHandler(w)
	if w.tunnel != nil {
		// The handler's goroutines may still be in the tunnel: they stop before the
		// connection closes and its buffers go back to their pools.
		w.tunnel.end()
	}
	var bodyErr error
	if w.hasBody {
		bodyErr = w.body.closeForServer()
	}
	if c.cr.disarm() || w.hasBody {
		c.rdl = time.Time{} // the watch or the body's reads moved the read deadline
	}
	c.track(nil)
	w.rctx.cancel(errHandlerDone)
	s.requests.Add(1)

	if panicked {
		c.afterPanic(w)
		return false
	}
	if c.cr.gone != nil && !w.wroteHeader {
		// The client went away, and the handler, its request cancelled, answered nothing: no
		// answer is made up for it, which a client that only half-closed its side would read
		// as the response.
		w.done = true
		c.rwc.Close()
		return false
	}
	if e := w.finish(bodyErr); e != nil {
		c.reportRefusal(e, &w.head)
		c.replyError(e)
		c.closeGracefully()
		return false
	}
	switch {
	case c.cr.gone != nil:
		c.rwc.Close()
		recycleBodiless(w)
		return false
	case w.closeAfter:
		c.closeAfterResponse(w)
		recycleBodiless(w)
		return false
	}
	if w.hasBody {
		c.setReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
		if !w.body.discard() {
			c.closeGracefully()
			return false
		}
	}
	putWriter(c.bw)
	c.bw = nil
	c.shortReply = w.written < bufferSize
	recycleBodiless(w)
	return true
}

// recycleBodiless recycles w, whose exchange is complete, unless its request had content: that
// request's Body may still be held by whoever the handler gave it to (an upstream session's
// sender, which closes it in its own time).
func recycleBodiless(w *response) {
	if !w.hasBody {
		recycle(w)
	}
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

// abandon ends a connection whose next request could not be read: a *statusError is answered
// after the responses before it, anything else (idle close, I/O error) closes silently. w is the
// refused request, with what was parsed of its head, or nil if the head was not read whole.
func (c *conn) abandon(err error, w *response) {
	if err == errPipelineClosed {
		c.closePipelined()
		return
	}
	var se *statusError
	if !errors.As(err, &se) {
		c.waitHandlers()
		c.rwc.Close()
		return
	}
	if p := c.pipe.Load(); p != nil && !p.drain() {
		c.closePipelined()
		return
	}
	c.s.log.Debug().Str("remote", c.remoteAddr).Int("status", se.code).Str("reason", se.reason).
		Msg("h1: request refused")
	var h *head
	if w != nil {
		h = &w.head
	}
	c.reportRefusal(se, h)
	c.replyError(se)
	c.closeGracefully()
}

// reportRefusal tells Config.OnRefusal, if set, of a request the server answers with e itself.
// h is its head, with its request line if that was read (else empty), or nil.
func (c *conn) reportRefusal(e *statusError, h *head) {
	report := c.s.cfg.OnRefusal
	if report == nil {
		return
	}
	r := Refusal{RemoteAddr: c.remoteAddr, Status: e.code, Reason: e.key}
	if h != nil {
		r.Method, r.Target, r.Proto = h.method, h.target, h.proto
	}
	report(r)
}

// replyError writes the server's own answer to a refused request, with Connection: close.
func (c *conn) replyError(e *statusError) {
	if c.bw == nil {
		c.bw = getWriter(c)
	}
	writeErrorHead(c.bw, e, c.s.clock.dateLine())
	if e == errTooManyRequests {
		writeRetryAfter(c.bw, retryAfter(c.s.rates.wait(c.rate, c.s.rates.now())))
	}
	writeErrorBody(c.bw, e)
	c.bw.Flush()
}

// writeErrorReply writes the server's own answer to a refused request, with Connection: close.
// dateLine is the Date field line (see clock.dateLine).
func writeErrorReply(bw *bufio.Writer, e *statusError, dateLine []byte) {
	writeErrorHead(bw, e, dateLine)
	writeErrorBody(bw, e)
}

// writeErrorHead writes the status line and fields of writeErrorReply; more fields may follow.
func writeErrorHead(bw *bufio.Writer, e *statusError, dateLine []byte) {
	writeStatusLine(bw, e.code)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n")
	bw.Write(dateLine)
	bw.WriteString("Content-Length: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(e.reason)+1), 10))
	bw.WriteString("\r\n")
}

// writeErrorBody ends the head of writeErrorHead and writes the body of writeErrorReply.
func writeErrorBody(bw *bufio.Writer, e *statusError) {
	bw.WriteString("\r\n")
	bw.WriteString(e.reason)
	bw.WriteString("\n")
}

// writeRetryAfter writes a Retry-After field of seconds (RFC 9110 10.2.3).
func writeRetryAfter(bw *bufio.Writer, seconds int64) {
	bw.WriteString("Retry-After: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), seconds, 10))
	bw.WriteString("\r\n")
}

// readAhead reports whether bytes the client sent after what was parsed so far have been read
// from the socket already: the start of a pipelined request, or more.
func (c *conn) readAhead() bool {
	return (c.br != nil && c.br.Buffered() > 0) || c.cr.buffered()
}

// closeAfterResponse ends the connection after w's complete response. A client that said w's
// request was its last (Connection: close, or HTTP/1.0 without keep-alive) sends nothing after it
// (RFC 9112 9.6): when everything it sent has been read, closing at once resets nothing, and the
// lingering close's half-close, wait and reads are spared. Any other close lingers.
func (c *conn) closeAfterResponse(w *response) {
	if w.head.close && w.tunnel == nil && (!w.hasBody || w.body.readWhole()) && !c.readAhead() {
		c.rwc.Close()
		return
	}
	c.closeGracefully()
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
	c.cr.release()
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	if c.bw != nil {
		putWriter(c.bw)
		c.bw = nil
	}
}

// resume continues the connection's wait for a request on a fresh goroutine, after a shed.
func (c *conn) resume() {
	c.stack = startingStack()
	go c.s.serveConns(c)
}

// waiting reports whether the connection waits for a request's first byte, its first or its
// next.
func (c *conn) waiting() bool {
	s := c.state.Load()
	return s == stateNew || s == stateIdle
}

// closeIfIdle closes the connection if it is kept alive and waiting for its next request, for
// Shutdown once its DrainGrace is over, with the Server's mu held. A new connection waiting for
// its first request is left to get it, within HeaderTimeout of its accept, and to be answered
// with Connection: close: its client has just connected and is sending it, and would take a
// close for a failure, where a client that reuses a kept-alive connection knows it may find it
// closed and sends again (RFC 9112 9.3.1).
func (c *conn) closeIfIdle() {
	if c.state.CompareAndSwap(stateIdle, stateClosed) {
		c.s.lot.unpark(c)
		c.rwc.Close()
	}
}

// abort closes the connection whatever it is doing and cancels its requests, for Close, with
// the Server's mu held. The socket closes first: a handler that returns when its context is
// cancelled must find no connection to write its response to, for a hard close sends none.
func (c *conn) abort() {
	c.state.Store(stateClosed)
	c.s.lot.unpark(c)
	// The cause first, or the connection's watch would take the close for the client's
	// (errPeerGone); the socket before the cancel, or the handler, cancelled, could still answer.
	c.mu.Lock()
	if c.failed == nil {
		c.failed = http.ErrServerClosed
	}
	c.mu.Unlock()
	c.rwc.Close()
	c.fail(http.ErrServerClosed)
}
