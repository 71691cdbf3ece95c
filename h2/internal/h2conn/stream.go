package h2conn

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"

	"muxgate/internal/fieldlist"
)

// stream is one request and its response. The response Body is the
// stream itself (see body.go), and the values of the response head's
// fields usually live in it too, so a request costs one allocation for
// all of them.
type stream struct {
	c       *Conn
	req     *http.Request          // immutable
	ctx     context.Context        // immutable
	trace   *httptrace.ClientTrace // immutable; nil without a trace
	interim Interim                // immutable; nil if 1xx responses go to no one but trace
	failed  HeadFailer             // immutable; nil if none is told of a failed head
	head    bool                   // the request is HEAD; immutable
	listed  bool                   // the caller asked for the response head as a list (StartListReserved); immutable
	id      uint32                 // set under wmu before the stream is registered; then immutable

	// headed hands the response head to RoundTrip, which waits on it:
	// deliverLocked calls Done once, after setting resErr (nil: res is
	// ready). Unlike a channel, it costs no allocation.
	headed sync.WaitGroup
	ready  atomic.Bool // set just before headed is done: Started.Ready

	// Guarded by c.mu. (The flags sit together so that the stream fits a
	// smaller size class.)
	res          http.Response // filled by the reader before headed is done with resErr nil
	resErr       error         // the error RoundTrip returns, set before headed is done
	delivered    bool          // headed is done
	opened       bool          // registered in c.streams
	localDone    bool          // we queued END_STREAM, or may send nothing more
	remoteDone   bool          // the peer ended its side, or the stream was reset
	closed       bool          // removed from c.streams (both sides done, or reset)
	creditQueued bool          // s is in c.credit
	readQueued   bool          // s is in c.readable
	bodyClosed   bool          // Body.Close was called
	waiting      bool          // a Body read waits for bytes (awaitBodyLocked)
	sending      bool          // a body sender goroutine runs
	sendWindow   int32         // what the peer lets us send
	recvWindow   int32         // what we let the peer send
	unacked      int32         // body bytes consumed but not yet credited
	buf          dataBuffer    // response body bytes not yet read
	rerr         error         // what Body.Read returns once buf is empty
	trailer      http.Header   // received trailers, moved to res.Trailer at EOF
	headBy       int64         // UnixNano by which the response head is due, and once it came, by which bytes of the body are due while a read waits; set by the watch (watch.go); 0: not yet
	readc        chan struct{} // cap 1, made by a waiting Body.Read; signaled when buf or rerr changes
	sendc        chan struct{} // cap 1, made for a request with a body; signaled when windows grow or the stream ends

	// Guarded by c.wmu.
	endQueued bool // END_STREAM queued
	rstQueued bool // RST_STREAM queued: queue nothing more for s

	// Owned by the reader goroutine.
	gotHead bool              // the final response head arrived
	tunnel  bool              // that head is a 2xx to an extended CONNECT (see endRemoteLocked); sits in gotHead's padding
	hvals   [6]string         // backs the values of the final head's Header (see buildHeader); written once
	list    []fieldlist.Field // the final head's fields when listed, instead of res.Header; written once
	discard bool              // the response has no Body to read (HEAD): DATA is dropped
	n1xx    int               // informational responses so far
	clen    int64             // the response's content-length; -1 if none
	got     int64             // response body bytes received
	// listv backs list for a head of up to len(listv)-listSpare fields, as most are: the
	// stream's allocation holds it, where it took one of its own (a 640-byte stream is 896).
	listv [8]fieldlist.Field

	reqBodyClosed atomic.Bool // req.Body was closed (by the sender or a closer goroutine)
}

// errStreamDone tells a request body sender to stop quietly: the stream
// was reset or the connection failed, and someone else reported why.
var errStreamDone = errors.New("h2conn: stream done")

// max1xx bounds the informational responses one request may get.
const max1xx = 16

// RoundTrip reserves a stream and sends req on it, as RoundTripReserved.
// When no stream is free, its error wraps ErrUnprocessed.
func (c *Conn) RoundTrip(req *http.Request) (*http.Response, uint32, error) {
	if !c.Reserve() {
		closeBody(req)
		err := c.Err()
		if err == nil {
			err = errNoStream
		}
		return nil, 0, unprocessed(err)
	}
	return c.RoundTripReserved(req)
}

// RoundTripReserved sends req on the stream reserved by a successful
// Reserve and returns the response head, with the stream's ID (0 if no
// stream was opened). The response Body streams; the caller must close
// it. Until the stream ends, the end of req.Context() resets it
// (RST_STREAM CANCEL) and fails RoundTrip or Body.Read with the context's
// error; the watch (watch.go) notices it within a tick. The request body
// is closed, as by an http.RoundTripper, perhaps after RoundTrip returns.
//
// A CONNECT whose Proto is a protocol token rather than an HTTP version
// (such as "websocket") is an extended CONNECT (RFC 8441 4): its HEADERS
// carry that token as :protocol, with :scheme and :path as for other
// requests, and no content-length; its Body, of unknown length
// (ContentLength -1), goes as DATA while the response body is read, and its
// EOF ends our side (END_STREAM). The peer's END_STREAM after a 2xx head
// only half-closes such a tunnel: Body reads EOF while the request body
// still goes, and closing Body before that ended resets the stream. A peer
// whose first SETTINGS did not enable extended CONNECT gets nothing: the
// error wraps ErrNoExtendedConnect.
func (c *Conn) RoundTripReserved(req *http.Request) (*http.Response, uint32, error) {
	st, id, err := c.StartReserved(req)
	if err != nil {
		return nil, id, err
	}
	return st.Await()
}

// Started is a stream that StartReserved opened: its HEADERS are queued,
// and Await waits for its response head.
type Started stream

// Ready reports whether Await would return without waiting. It takes no
// lock.
func (st *Started) Ready() bool { return (*stream)(st).ready.Load() }

// Await waits for the response head of a stream that StartReserved opened.
func (st *Started) Await() (*http.Response, uint32, error) {
	s := (*stream)(st)
	s.headed.Wait()
	if s.resErr != nil { // written before Done: no lock needed
		return nil, s.id, s.resErr
	}
	return &s.res, s.id, nil
}

// Fields returns the final response head's fields, in the order the peer
// sent them, for a stream that StartListReserved opened; nil otherwise. It
// may be called once Await returned a response. The caller may keep the
// list and append to it; the stream no longer touches it.
func (st *Started) Fields() []fieldlist.Field { return (*stream)(st).list }

// StartReserved is the first half of RoundTripReserved: it opens the
// stream and queues its HEADERS without waiting for the response head, so
// that a caller may start several streams before it waits for any; their
// HEADERS then share the writer's next write. Its errors are
// RoundTripReserved's.
func (c *Conn) StartReserved(req *http.Request) (*Started, uint32, error) {
	return c.StartReservedWith(req, StartOptions{})
}

// StartListReserved is StartReserved with StartOptions.ListHead.
func (c *Conn) StartListReserved(req *http.Request) (*Started, uint32, error) {
	return c.StartReservedWith(req, StartOptions{ListHead: true})
}

// StartOptions are the choices of StartReservedWith. Both spare a proxy a
// map per message: building and walking one cost more than the rest of a
// head's handling.
type StartOptions struct {
	// ListHead keeps the final response head's fields as a list
	// (Started.Fields), checked as for a Header, and leaves the response's
	// Header nil: for a caller that writes the head out again as it came.
	ListHead bool

	// Fields, when not nil, are the request's header fields, sent in their
	// order in place of req.Header: names in any letter case (sent in lower
	// case), checked and left out as a Header's would be.
	Fields []fieldlist.Field

	// Interim, when not nil, gets the stream's informational (1xx)
	// responses, on the connection's reader goroutine, which it must not
	// keep waiting; the request's httptrace hooks get them as well.
	Interim Interim

	// Failed, when not nil, learns that the response head will not come.
	Failed HeadFailer
}

// Interim takes a stream's informational responses (StartOptions.Interim):
// the status code and the fields, which it may keep but not change.
type Interim interface {
	Got1xx(code int, h http.Header)
}

// HeadFailer learns that a stream's response head will not come (the stream
// or its connection failed), before Await returns and on whichever goroutine
// failed the stream, which it must not keep waiting, with the connection's
// lock held (StartOptions.Failed): a caller that started many streams can act
// on their failures without awaiting each in turn.
type HeadFailer interface {
	HeadFailed()
}

// StartReservedWith is StartReserved with the choices of o.
func (c *Conn) StartReservedWith(req *http.Request, o StartOptions) (*Started, uint32, error) {
	ctx := req.Context()
	listed := o.ListHead
	var inline [inlineFields]field
	h, sent, err := prepareHead(req, o.Fields, c.peerMaxHeaderList.Load(), inline[:0])
	if err == nil && h.protocol != "" && !c.extConnect.Load() {
		// RFC 8441 3: no :protocol unless the peer's SETTINGS allowed it.
		err = ErrNoExtendedConnect
	}
	if err != nil {
		c.Unreserve()
		closeBody(req)
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		c.Unreserve()
		closeBody(req)
		return nil, 0, &wrapError{"h2conn: request", err}
	}
	s := &stream{
		c:      c,
		req:    req,
		ctx:    ctx,
		head:   req.Method == http.MethodHead,
		listed: listed,
		clen:   -1,
	}
	s.trace = httptrace.ContextClientTrace(ctx)
	s.interim, s.failed = o.Interim, o.Failed
	s.headed.Add(1)
	if h.bodyLen != 0 || len(req.Trailer) > 0 {
		s.sendc = make(chan struct{}, 1)
	}
	if err := c.openStream(s, &h, sent); err != nil {
		closeBody(req)
		return nil, s.id, err
	}
	return (*Started)(s), s.id, nil
}

// openStream assigns s its ID, queues its HEADERS (h and its regular
// fields), registers it and starts its body sender. It consumes the
// caller's reservation.
func (c *Conn) openStream(s *stream, h *head, fields []field) error {
	c.wmu.Lock()
	c.mu.Lock()
	if err := c.openErrLocked(); err != nil {
		c.unreserveLocked()
		c.mu.Unlock()
		c.wmu.Unlock()
		return err
	}
	c.mu.Unlock()

	// Encode before registering: once encoded, the block must be sent, or
	// the peer's hpack decoder would lose step with our encoder. Should the
	// connection close meanwhile, no block is ever sent on it again, so
	// dropping this one desynchronizes nothing; should a GOAWAY come,
	// blocks still follow (the trailers of the streams it kept), so this
	// one is sent on a stream the GOAWAY excludes (see sendExcludedLocked).
	h.encode(c, fields)
	if hook := testHookEncoded.Load(); hook != nil {
		(*hook)()
	}
	endStream := h.bodyLen == 0 && len(s.req.Trailer) == 0

	c.mu.Lock()
	if err := c.openErrLocked(); err != nil {
		queued := c.refuseEncodedLocked()
		c.mu.Unlock()
		c.wmu.Unlock()
		if queued {
			c.wakeWriter()
		}
		return err
	}
	id := c.registerLocked(s, endStream)
	if !endStream {
		s.sending = true
		c.wg.Add(1)
		go s.sendBody(h.bodyLen)
	}
	c.mu.Unlock()
	c.writeHeaderBlockLocked(id, endStream)
	c.wmu.Unlock()
	c.wakeWriter()
	return nil
}

// refuseEncodedLocked gives back the caller's reservation for a stream
// that may not open after all (openErrLocked), its header block encoded.
// If the peer's GOAWAY is why, and the connection is still open with IDs
// left, it queues the block on a stream the GOAWAY excludes (see
// sendExcludedLocked) and reports true: the writer is to be woken.
// Called with wmu and mu held.
func (c *Conn) refuseEncodedLocked() (queued bool) {
	c.unreserveLocked()
	excluded := c.goAway != nil && !c.closed.Load() && c.nextID < maxStreamID
	if excluded {
		c.sendExcludedLocked()
	}
	return excluded
}

// registerLocked uses up the caller's reservation, gives s the next stream
// ID, which it returns, and registers s as open with its initial windows.
// endStream says that its HEADERS end the request: we send nothing more.
// Called with wmu and mu held, once openErrLocked allows a new stream.
func (c *Conn) registerLocked(s *stream, endStream bool) uint32 {
	c.unreserveCountLocked()
	id := c.nextID
	c.nextID += 2
	if c.nextID >= maxStreamID {
		c.draining.Store(true) // RFC 9113 5.1.1: no IDs left for another stream
	}
	s.id = id
	s.opened = true
	s.sendWindow = c.peerWindow
	s.recvWindow = int32(c.cfg.StreamWindow)
	s.localDone = endStream
	c.streams.add(s)
	c.active.Add(1)
	c.lastID = id
	return id
}

// sendExcludedLocked queues the header block just encoded, which no stream
// may carry since the peer's GOAWAY came, on the next stream ID, with
// END_STREAM. That ID is above the GOAWAY's last stream ID, so the peer
// processes nothing of the request, but it decodes the block (RFC 9113
// 6.8: field blocks on any stream keep the compression state, RFC 9113
// 4.3), and its decoder stays in step with our encoder for the blocks
// still to come. Called with wmu and mu held.
func (c *Conn) sendExcludedLocked() {
	id := c.nextID
	c.nextID += 2
	c.lastID = id // frames the peer may send on it are for a closed stream
	c.writeHeaderBlockLocked(id, true)
}

// testHookEncoded, when set by a test, runs between the encoding of a
// request's header block and the opening of its stream.
var testHookEncoded atomic.Pointer[func()]

// openErrLocked reports why no stream may open now, wrapping
// ErrUnprocessed. Our own Shutdown lets reserved streams open.
func (c *Conn) openErrLocked() error {
	switch {
	case c.closed.Load():
		return unprocessed(c.err)
	case c.goAway != nil:
		return unprocessed(c.goAway)
	case c.nextID >= maxStreamID:
		return unprocessed(errStreamIDs)
	}
	return nil
}

// unreserveCountLocked uses up one reservation without the idle check.
func (c *Conn) unreserveCountLocked() {
	if c.reserved.Load() > 0 {
		c.reserved.Add(-1)
	}
}

// cancel resets s (RST_STREAM CANCEL) and fails its users with err: its request's context
// ended, or its response head is overdue (see watch.go).
func (s *stream) cancel(err error) {
	s.c.abort(s, &wrapError{"h2conn: request", err}, http2.ErrCodeCancel)
}

// abort ends s at once with err, sending RST_STREAM(code), unless s is
// closed already.
// A stream that closed normally keeps its response.
func (c *Conn) abort(s *stream, err error, code http2.ErrCode) {
	c.mu.Lock()
	if s.closed || !s.opened {
		c.mu.Unlock()
		return
	}
	c.resetLocked(s, err)
	c.mu.Unlock()
	c.queueRST(s, code)
}

// resetLocked ends s with err: the RoundTrip (if still waiting) and the
// Body reader get err, buffered body bytes are dropped (the connection
// window had them back when they arrived), and the stream closes. The
// caller queues RST_STREAM if one is due.
func (c *Conn) resetLocked(s *stream, err error) {
	if s.rerr == nil || s.rerr == io.EOF && s.buf.size > 0 {
		s.rerr = err
	}
	s.buf.release()
	s.localDone, s.remoteDone = true, true
	c.deliverLocked(s, err)
	c.closeStreamLocked(s)
	s.signalRead()
}

// deliverLocked hands the response head's fate to RoundTrip, once.
func (c *Conn) deliverLocked(s *stream, err error) {
	if s.delivered {
		return
	}
	s.delivered = true
	s.resErr = err
	s.ready.Store(true)
	s.headed.Done()
	if s.failed != nil && err != nil {
		s.failed.HeadFailed()
	}
}

// deliverHeadLocked is deliverLocked for the reader, with the response
// head in s.res: RoundTrip is woken once the frames at hand are handled,
// before the reader's next read (see source). A response whose DATA came
// in the same read is then whole when RoundTrip returns, so the body's
// reader neither waits for it a second time nor contends with the reader
// for mu meanwhile. Should the stream be reset before then, RoundTrip
// still gets the head, and the body the reset's error.
func (c *Conn) deliverHeadLocked(s *stream) {
	if s.delivered {
		return
	}
	s.delivered = true
	c.delivered = append(c.delivered, s)
}

// wakeDelivered wakes the RoundTrips that deliverHeadLocked gave a head,
// then the body readers that readableLocked noted. Called by the reader
// only, without c.mu.
func (c *Conn) wakeDelivered() {
	for i, s := range c.delivered {
		s.ready.Store(true)
		s.headed.Done()
		c.delivered[i] = nil
	}
	c.delivered = c.delivered[:0]
	if len(c.readable) == 0 {
		return
	}
	c.mu.Lock()
	for i, s := range c.readable {
		s.readQueued = false
		s.signalRead()
		c.readable[i] = nil
	}
	c.mu.Unlock()
	c.readable = c.readable[:0]
}

// readableLocked notes, for the reader, that s's body has more bytes or
// has ended: its reader is woken with the heads, once the frames at hand
// are handled (see deliverHeadLocked). The DATA frames of a body that came
// in one read are then written out together: woken at the first, its
// reader would write that one alone and wait again for the rest.
func (c *Conn) readableLocked(s *stream) {
	if !s.readQueued {
		s.readQueued = true
		c.readable = append(c.readable, s)
	}
}

// closeStreamLocked removes s from the connection: its slot is free.
func (c *Conn) closeStreamLocked(s *stream) {
	if s.closed || !s.opened {
		return
	}
	s.closed = true
	c.streams.remove(s)
	c.active.Add(-1)
	s.unacked = 0 // no WINDOW_UPDATE for a closed stream; the connection's share is counted apart
	if s.sending {
		s.signalSend()
		if !s.reqBodyClosed.Load() {
			// The sender may be blocked in Read: closing the body is what
			// unblocks it (as net/http's transports do).
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				s.closeReqBody()
			}()
		}
	}
	c.maybeIdleLocked()
}

// endLocalLocked notes that we queued END_STREAM.
func (c *Conn) endLocalLocked(s *stream) {
	s.localDone = true
	s.sending = false
	if s.remoteDone {
		c.closeStreamLocked(s)
	}
}

// endRemoteLocked notes that the peer ended its side normally. A request
// body still being sent is stopped with RST_STREAM(CANCEL): the response
// is complete, so the peer wants no more of it. It reports whether that
// RST is due. A tunnel is the exception: the peer's END_STREAM only
// half-closes it, like a TCP FIN (RFC 8441 5, RFC 9113 8.5), and its
// request body still goes until EOF, which closes the stream.
func (c *Conn) endRemoteLocked(s *stream) (rst bool) {
	s.remoteDone = true
	if s.rerr == nil {
		s.rerr = io.EOF
	}
	c.readableLocked(s)
	if !s.localDone && s.tunnel {
		return false
	}
	if !s.localDone {
		s.localDone = true
		rst = true
	}
	c.closeStreamLocked(s)
	return rst
}

// isDone reports whether s may send nothing more.
func (s *stream) isDone() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.closed || s.localDone
}

func (s *stream) signalSend() {
	if s.sendc != nil {
		select {
		case s.sendc <- struct{}{}:
		default:
		}
	}
}

func (s *stream) signalRead() {
	if s.readc != nil {
		select {
		case s.readc <- struct{}{}:
		default:
		}
	}
}

func (s *stream) closeReqBody() {
	if s.reqBodyClosed.CompareAndSwap(false, true) && s.req.Body != nil {
		_ = s.req.Body.Close()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
