// Package h2conn is an HTTP/2 client connection (RFC 9113) built for a
// proxy's hot path, on x/net's http2.Framer and hpack.
//
// Requests encode their HEADERS under one mutex into a shared buffer and
// wake one writer goroutine, which sends everything pending in one Write.
// One reader goroutine decodes responses and hands each to its waiting
// RoundTrip through a one-slot channel. A request without a body costs no
// goroutine; a request with a body costs one, which reads the body and
// queues DATA within the send windows.
//
// # Locks
//
// Lock order: Conn.wmu before Conn.mu. Code that holds mu never takes
// wmu; code that holds wmu may take mu briefly. Neither is held across
// network I/O or a wait.
//
// # Goroutines
//
// New starts the writer, the reader and (with Config.PingInterval) the
// keep-alive; RoundTrip starts one body sender per request that has a
// body. All are counted in Conn.wg; Close and Shutdown wait for them.
package h2conn

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Config configures a Conn. The zero value is usable.
type Config struct {
	// StreamWindow is our SETTINGS_INITIAL_WINDOW_SIZE: how many response
	// body bytes one stream may have in flight or buffered before its Body
	// is read. Zero: 256 KiB. Clamped to [16 KiB, 2^31-1].
	StreamWindow uint32

	// ConnWindow is the receive window of the whole connection, announced
	// with a WINDOW_UPDATE after the preface. It bounds the response
	// bytes in flight on the wire, not the buffered ones: bytes are
	// credited back as soon as the reader has put them into their
	// stream's buffer, which StreamWindow bounds. So a Body nobody reads
	// stalls its own stream, never the connection, and the connection
	// buffers at most its open streams times StreamWindow. Zero: 4 MiB.
	// Raised to at least StreamWindow, clamped to 2^31-1.
	ConnWindow uint32

	// MaxHeaderListSize is our SETTINGS_MAX_HEADER_LIST_SIZE. A response
	// head or trailer block that decodes larger fails its stream. Zero:
	// 64 KiB.
	MaxHeaderListSize uint32

	// MaxFrameSize is our SETTINGS_MAX_FRAME_SIZE: the largest frame
	// payload the peer may send (RFC 9113 4.2, 6.5.2). Larger DATA frames
	// mean fewer frames, and fewer writes on the peer's side, per response
	// body. Zero: 16 KiB, the protocol's default, which is not announced.
	// Clamped to [16 KiB, 16 MiB-1].
	MaxFrameSize uint32

	// MaxStreams caps concurrent streams on our side; it also applies when
	// the peer announces no SETTINGS_MAX_CONCURRENT_STREAMS. Zero: 1000.
	MaxStreams int

	// SettingsTimeout bounds how long New waits for the peer's first
	// SETTINGS frame. Zero: 10 s.
	SettingsTimeout time.Duration

	// PingInterval turns on the keep-alive: after this long without a frame
	// from the peer, the connection sends a PING. Zero: no keep-alive.
	PingInterval time.Duration

	// PingTimeout is how long a keep-alive PING may go unanswered before
	// the connection is closed. Zero: 15 s. Used only with PingInterval.
	PingTimeout time.Duration

	// BusyPingAfter, if shorter than PingInterval, is how long a connection
	// with streams open may go without a frame from the peer before it sends
	// a PING: a peer that went away without a word (a host switched off, a
	// network cut) is found within BusyPingAfter plus PingTimeout rather than
	// PingInterval plus PingTimeout, while its streams still wait. A slow
	// answer costs a PING frame each way per BusyPingAfter. Zero: PingInterval
	// alone. Used only with PingInterval.
	BusyPingAfter time.Duration

	// ResponseTimeout bounds the wait for a response head: a stream that
	// has none this long after RoundTrip queued its HEADERS is reset
	// (RST_STREAM CANCEL) and its RoundTrip fails with an error wrapping
	// ErrResponseTimeout. The watch (watch.go) checks it, up to two
	// ticks late (a tick is 100 ms, or a quarter of ResponseTimeout if
	// that is shorter). Zero: no limit.
	ResponseTimeout time.Duration

	// BodyIdleTimeout bounds the silence of the peer within a response body: a stream whose
	// body reader has waited this long for bytes that do not come is reset (RST_STREAM
	// CANCEL), and the read fails with an error wrapping ErrBodyIdle. Only the wait counts: a
	// reader that takes its time (a slow client) lets the window close, and the peer's silence
	// then is its own doing. An extended CONNECT's tunnel is not bounded. The watch checks it
	// as it checks ResponseTimeout. Zero: no limit.
	BodyIdleTimeout time.Duration

	// Logger receives connection events (GOAWAY, protocol errors, I/O
	// failures), never per-request lines. Zero value: silent.
	Logger zerolog.Logger
}

const (
	defaultStreamWindow = 256 << 10
	defaultConnWindow   = 4 << 20
	defaultMaxHeaders   = 64 << 10
	defaultMaxStreams   = 1000
	defaultSettingsWait = 10 * time.Second
	defaultPingTimeout  = 15 * time.Second
	minStreamWindow     = 16 << 10
	maxWindow           = 1<<31 - 1
	initialWindow       = 65535   // RFC 9113 6.9.2
	defaultMaxFrame     = 1 << 14 // RFC 9113 4.2
	maxMaxFrame         = 1<<24 - 1
	maxStreamID         = 1<<31 - 1
)

func (cfg Config) withDefaults() Config {
	if cfg.StreamWindow == 0 {
		cfg.StreamWindow = defaultStreamWindow
	}
	cfg.StreamWindow = min(max(cfg.StreamWindow, minStreamWindow), maxWindow)
	if cfg.ConnWindow == 0 {
		cfg.ConnWindow = defaultConnWindow
	}
	cfg.ConnWindow = min(max(cfg.ConnWindow, cfg.StreamWindow, initialWindow), maxWindow)
	if cfg.MaxHeaderListSize == 0 {
		cfg.MaxHeaderListSize = defaultMaxHeaders
	}
	cfg.MaxFrameSize = min(max(cfg.MaxFrameSize, defaultMaxFrame), maxMaxFrame)
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = defaultMaxStreams
	}
	if cfg.SettingsTimeout <= 0 {
		cfg.SettingsTimeout = defaultSettingsWait
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = defaultPingTimeout
	}
	return cfg
}

// Conn is one HTTP/2 client connection. Its methods are safe for
// concurrent use.
type Conn struct {
	nc  net.Conn       // immutable; closed by the writer goroutine when it leaves
	cfg Config         // immutable after New
	log zerolog.Logger // immutable

	// tlsState is nc's TLS state, shared by every Response.TLS; nil when
	// nc is not TLS. Immutable.
	tlsState *tls.ConnectionState

	// Write side. Stream IDs are assigned under wmu, so they increase in
	// the order their HEADERS are queued, and the hpack encoder sees the
	// header blocks in wire order (RFC 9113 5.1.1, RFC 7541 2.2).
	wmu      sync.Mutex
	wbuf     pending       // guarded by wmu: frames queued for the writer
	spare    []byte        // guarded by wmu: the writer's previous buffer, for reuse
	wfr      *http2.Framer // guarded by wmu: writes whole frames into wbuf
	enc      *encoder      // guarded by wmu: encodes each header block
	nextID   uint32        // guarded by wmu: ID for the next stream
	maxFrame int           // guarded by wmu: the peer's SETTINGS_MAX_FRAME_SIZE
	takes    uint64        // guarded by wmu: buffers the writer has taken
	wrote    uint64        // guarded by wmu: buffers the writer has finished writing
	wfull    chan struct{} // guarded by wmu: made by a sender waiting for room; closed by the writer when it takes the buffer
	wflush   chan struct{} // guarded by wmu: made by flush; closed by the writer after a write

	// wake has room for one token. Whoever queues frames sends without
	// blocking; the writer receives. Never closed.
	wake chan struct{}

	mu          sync.Mutex
	streams     streamTable               // guarded by mu: streams not yet closed
	lastID      uint32                    // guarded by mu: the highest stream ID opened
	sentID      uint32                    // guarded by mu: the highest stream ID whose HEADERS the writer took (wrote, once a write wrote nothing)
	peerWindow  int32                     // guarded by mu: the peer's SETTINGS_INITIAL_WINDOW_SIZE
	sendWindow  int32                     // guarded by mu: connection-level send window
	recvWindow  int32                     // guarded by mu: bytes the peer may still send on the connection
	recvUnacked int32                     // guarded by mu: connection bytes the reader took, not yet credited
	credit      []*stream                 // guarded by mu: streams whose WINDOW_UPDATE is due
	goAwaySent  bool                      // guarded by mu
	goAway      *ConnError                // guarded by mu: the peer's GOAWAY (lowest last stream ID)
	err         error                     // guarded by mu: why the connection closed
	idle        chan struct{}             // guarded by mu: made by Shutdown; closed when no stream is active or reserved
	pings       map[[8]byte]chan struct{} // guarded by mu: our PINGs awaiting their ACK; the reader closes the channel
	pingSeq     uint64                    // guarded by mu

	// What State reports: written under mu, read under mu or by State
	// without it. failLocked sets draining before closed.
	active     atomic.Int64 // len(streams)
	silent     atomic.Bool  // set before closed where a keep-alive PING went unanswered
	reserved   atomic.Int64 // Reserve calls not yet used by a RoundTrip
	maxStreams atomic.Int64 // min(peer's MAX_CONCURRENT_STREAMS, cfg.MaxStreams)
	draining   atomic.Bool  // no new streams
	closed     atomic.Bool

	peerMaxHeaderList atomic.Uint32 // the peer's SETTINGS_MAX_HEADER_LIST_SIZE; 0: none
	extConnect        atomic.Bool   // written by the reader while it applies the peer's first SETTINGS: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
	linger            atomic.Bool   // we sent GOAWAY for the peer's protocol error: close nc lingering
	lastRead          atomic.Int64  // written by the reader with the keep-alive on: UnixNano of the last bytes read (see source)

	// Owned by the reader goroutine.
	src         source // the connection, as br reads it; readData reads large payloads from it directly
	br          *inbuf // rfr's source; readData takes DATA payloads from it (data.go)
	rfr         *http2.Framer
	hbuf        [headersInline]byte // the payload of a HEADERS frame readHeaders takes
	dec         decoder
	block       []byte              // a header block of several frames, gathered for dec
	fields      []hpack.HeaderField // the header block being decoded
	hsize       uint32              // its decoded size (RFC 9113 6.5.2)
	known       knownFields         // response fields checked before (known.go)
	gotSettings bool
	delivered   []*stream // heads delivered whose RoundTrip is still to wake (see deliverHeadLocked)
	readable    []*stream // streams whose body reader is still to wake (see readableLocked)

	// Owned by the reader goroutine: the peer has sent
	// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, in any SETTINGS (RFC 8441 3).
	connectProto bool

	settingsc chan struct{} // closed by the reader once the first SETTINGS is applied
	done      chan struct{} // closed by failLocked when the connection closes
	wg        sync.WaitGroup
}

// pending is the buffer the write framer appends frames to.
type pending struct{ b []byte }

func (p *pending) Write(b []byte) (int, error) {
	p.b = append(p.b, b...)
	return len(b), nil
}

// New starts an HTTP/2 client connection on nc, which must be fresh (h2
// negotiated by ALPN, with the handshake complete, or h2c with prior
// knowledge). A TLS nc's ConnectionState goes into every Response.TLS. It sends the preface
// and our SETTINGS and waits for the peer's first SETTINGS, bounded by ctx
// and Config.SettingsTimeout. New owns nc from then on: it closes nc when
// it fails, and so do Close and Shutdown.
func New(ctx context.Context, nc net.Conn, cfg Config) (*Conn, error) {
	c := newConn(nc, cfg.withDefaults())
	c.queuePreface()
	c.startGoroutines()
	if err := c.awaitSettings(ctx); err != nil {
		c.mu.Lock()
		c.failLocked(err)
		c.mu.Unlock()
		c.wg.Wait()
		return nil, err
	}
	return c, nil
}

// newConn makes the Conn for nc with cfg, whose defaults are filled in:
// its state before the preface, with its framers, hpack coders and read
// buffer. It starts no goroutine and queues nothing.
func newConn(nc net.Conn, cfg Config) *Conn {
	c := &Conn{
		nc:         nc,
		cfg:        cfg,
		log:        cfg.Logger.With().Str("remote", nc.RemoteAddr().String()).Logger(),
		nextID:     1,
		maxFrame:   defaultMaxFrame,
		wake:       make(chan struct{}, 1),
		peerWindow: initialWindow,
		sendWindow: initialWindow,
		recvWindow: int32(cfg.ConnWindow),
		pings:      make(map[[8]byte]chan struct{}),
		settingsc:  make(chan struct{}),
		done:       make(chan struct{}),
	}
	if tc, ok := nc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.maxStreams.Store(int64(cfg.MaxStreams))
	c.lastRead.Store(time.Now().UnixNano())
	c.initCoding()
	return c
}

// initCoding sets up, from c.cfg, the writer's framer and hpack encoder
// and the reader's read buffer, framer and hpack decoder. Called by
// newConn only.
func (c *Conn) initCoding() {
	c.wfr = http2.NewFramer(&c.wbuf, nil)
	c.enc = newEncoder()
	c.src = source{c}
	c.br = newInbuf(c.src)
	c.rfr = http2.NewFramer(nil, c.br)
	c.rfr.SetReuseFrames()
	c.rfr.SetMaxReadFrameSize(c.cfg.MaxFrameSize)
	c.dec = newDecoder()
}

// maxBlock bounds the encoded size of one header block, HEADERS and CONTINUATIONs together:
// past it the connection fails (ENHANCE_YOUR_CALM), which bounds what a CONTINUATION flood
// makes the reader decode. Below it, a block that decodes to more than MaxHeaderListSize is
// decoded to its end, which keeps the HPACK table in step with the peer's (RFC 9113 4.3), and
// fails its stream only: it is one response's fault, and the session serves every other.
// Sixteen times the list leaves room for a block of long fields that Huffman coding does not
// shrink: a session failed for such a block takes every stream on it, and the pool's retries of
// an idempotent request fail more sessions the same way.
func (c *Conn) maxBlock() int { return 16*int(c.cfg.MaxHeaderListSize) + 4096 }

// startGoroutines starts the writer, the reader, the watch and, with
// Config.PingInterval, the keep-alive, all counted in c.wg, and wakes the
// writer for what is queued (the preface).
func (c *Conn) startGoroutines() {
	c.wg.Add(3)
	go c.writeLoop()
	go c.readLoop()
	go c.watch()
	if c.cfg.PingInterval > 0 {
		c.wg.Add(1)
		go c.keepAlive()
	}
	c.wakeWriter()
}

// awaitSettings waits for the reader to apply the peer's first SETTINGS,
// and returns nil then, even if the connection has ended since: it was up
// (RFC 9113 3.4), and what follows its end is the pool's to judge, the
// same each time. Otherwise it returns why it stopped waiting: the
// connection's error (never nil once it closed), errSettingsWait after
// Config.SettingsTimeout, or ctx's error; failing c then is the caller's
// job.
func (c *Conn) awaitSettings(ctx context.Context) error {
	t := time.NewTimer(c.cfg.SettingsTimeout)
	defer t.Stop()
	select {
	case <-c.settingsc:
	case <-c.done:
	case <-t.C:
	case <-ctx.Done():
	}
	// Several may be ready at once, and select picks any: the SETTINGS that came win (the
	// reader closes settingsc before done), then the connection's end, then the wait's.
	switch {
	case isClosed(c.settingsc):
		return nil
	case isClosed(c.done):
		return c.closeErr()
	case ctx.Err() != nil:
		return &wrapError{"h2conn: waiting for SETTINGS", ctx.Err()}
	}
	return errSettingsWait
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Reserve reserves a stream for a RoundTripReserved that follows. It
// returns false when the connection takes no new stream: it is draining or
// closed, or its active and reserved streams reach the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS (capped by Config.MaxStreams). A caller
// that does not use its reservation must call Unreserve.
func (c *Conn) Reserve() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() || c.draining.Load() || c.active.Load()+c.reserved.Load() >= c.maxStreams.Load() {
		return false
	}
	c.reserved.Add(1)
	return true
}

// Unreserve gives back a reservation that no RoundTripReserved used.
func (c *Conn) Unreserve() {
	c.mu.Lock()
	c.unreserveLocked()
	c.mu.Unlock()
}

func (c *Conn) unreserveLocked() {
	if c.reserved.Load() > 0 {
		c.reserved.Add(-1)
		c.maybeIdleLocked()
	}
}

// State is a snapshot of a connection.
type State struct {
	Active     int  // open streams (HEADERS sent, not yet closed or reset)
	Reserved   int  // reservations not yet used
	MaxStreams int  // the peer's SETTINGS_MAX_CONCURRENT_STREAMS, capped by Config.MaxStreams
	Draining   bool // no new streams: GOAWAY sent or received, or stream IDs exhausted
	Closed     bool // the connection is gone
	Silent     bool // closed because a keep-alive PING went unanswered
}

// State returns a snapshot of c. It never waits, not even for c's
// lock, so a pool may call it for every session at every pick. Each
// field is current when read, but they are read one by one: a stream
// that opens meanwhile may be counted in neither Active nor Reserved.
// Closed implies Draining.
func (c *Conn) State() State {
	closed := c.closed.Load() // before draining, which failLocked sets first
	return State{
		Active:     int(c.active.Load()),
		Reserved:   int(c.reserved.Load()),
		MaxStreams: int(c.maxStreams.Load()),
		Draining:   c.draining.Load(),
		Closed:     closed,
		Silent:     closed && c.silent.Load(),
	}
}

// Err returns why the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection at once. Open streams fail with an error
// wrapping ErrClosed (and ErrUnprocessed for those whose HEADERS never
// left). Close waits for the connection's goroutines, including request
// body senders, whose bodies it closes; it must not be called from an
// httptrace hook.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.failLocked(ErrClosed)
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// Shutdown drains the connection: it sends GOAWAY(NO_ERROR), takes no new
// streams (reservations already made may still be used), waits until no
// stream is active or reserved, flushes and closes. If ctx ends first it
// returns an error and leaves the connection open for Close.
func (c *Conn) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	first := !c.goAwaySent
	c.goAwaySent = true
	c.draining.Store(true)
	var idle chan struct{}
	if c.active.Load()+c.reserved.Load() > 0 {
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle = c.idle
	}
	c.mu.Unlock()
	if first {
		c.wmu.Lock()
		_ = c.wfr.WriteGoAway(0, http2.ErrCodeNo, nil) // we accept no pushed streams: last ID 0
		c.wmu.Unlock()
		c.wakeWriter()
	}
	if idle != nil {
		select {
		case <-idle:
		case <-c.done:
		case <-ctx.Done():
			return &wrapError{"h2conn: shutdown", ctx.Err()}
		}
	}
	err := c.flush(ctx)
	c.mu.Lock()
	c.failLocked(ErrClosed)
	c.mu.Unlock()
	c.wg.Wait()
	if err != nil && ctx.Err() != nil {
		return &wrapError{"h2conn: shutdown", ctx.Err()}
	}
	return nil
}

// Ping sends a PING and waits for its ACK, for ctx, or for the connection
// to close.
func (c *Conn) Ping(ctx context.Context) error {
	c.mu.Lock()
	if c.closed.Load() {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.pingSeq++
	var data [8]byte
	for i, v := 0, c.pingSeq; i < 8; i, v = i+1, v>>8 {
		data[i] = byte(v)
	}
	ack := make(chan struct{})
	c.pings[data] = ack
	c.mu.Unlock()

	c.wmu.Lock()
	_ = c.wfr.WritePing(false, data)
	c.wmu.Unlock()
	c.wakeWriter()

	select {
	case <-ack:
		return nil
	case <-c.done:
		return c.closeErr()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pings, data)
		c.mu.Unlock()
		return &wrapError{"h2conn: ping", ctx.Err()}
	}
}

// keepAlive PINGs the peer after PingInterval without reading from it, or
// BusyPingAfter while streams are open, and closes the connection when a
// PING goes unanswered for PingTimeout.
func (c *Conn) keepAlive() {
	defer c.wg.Done()
	interval, busy := c.cfg.PingInterval, c.cfg.BusyPingAfter
	if busy <= 0 || busy > interval {
		busy = interval
	}
	// With streams opening and closing, the silence allowed changes: the
	// check comes at least every busy.
	t := time.NewTimer(busy)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		allowed := interval
		if c.active.Load() > 0 {
			allowed = busy
		}
		idle := time.Since(time.Unix(0, c.lastRead.Load()))
		if idle < allowed {
			t.Reset(min(allowed-idle, busy))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PingTimeout)
		err := c.Ping(ctx)
		cancel()
		if err != nil {
			c.mu.Lock()
			if !c.closed.Load() {
				c.log.Warn().Msg("h2conn: keep-alive ping not answered; closing")
				c.silent.Store(true) // before failLocked sets closed
			}
			c.failLocked(errPingTimeout)
			c.mu.Unlock()
			return
		}
		t.Reset(busy)
	}
}

// source is what the reader reads the connection through. A read may
// block, so before it the RoundTrips whose heads the frames at hand
// delivered, and the body readers they gave bytes, are woken (see
// wakeDelivered). With the keep-alive on, it notes in lastRead when bytes
// last came from the peer; the read buffer above it (inbuf) calls it once
// per batch of frames, so the clock is read once per read system call
// rather than once per frame.
type source struct{ c *Conn }

func (s source) Read(p []byte) (int, error) {
	c := s.c
	c.wakeDelivered()
	n, err := c.nc.Read(p)
	if n > 0 && c.cfg.PingInterval > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *Conn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// failLocked closes the connection with err as the cause, unless it is
// closed already: it fails every open stream, wakes every waiter and
// breaks the I/O of the reader and the writer (the writer then closes nc).
// It does not wait for the goroutines.
func (c *Conn) failLocked(err error) {
	if c.closed.Load() {
		return
	}
	c.draining.Store(true)
	c.closed.Store(true)
	c.err = err
	for s := range c.streams.all() {
		serr := err
		if s.id > c.sentID || (c.goAway != nil && s.id > c.goAway.LastStreamID) {
			serr = unprocessed(err)
		}
		c.resetLocked(s, serr)
	}
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	close(c.done)
	if c.linger.Load() {
		// Our GOAWAY for the peer's protocol error may be on its way out:
		// the writer gets lingerTimeout to finish it. A deadline in the past
		// would cut the write short, and over TLS the close_notify of the
		// lingering close would then follow half a record, which the peer
		// reads as a bad record MAC rather than as our close.
		_ = c.nc.SetDeadline(time.Now().Add(lingerTimeout))
		return
	}
	// A deadline in the past breaks a blocked Read or Write at once without
	// the wait that closing a TLS connection may cost; the writer closes nc
	// when it leaves.
	_ = c.nc.SetDeadline(time.Unix(1, 0))
}

// maybeIdleLocked notes that the count of active and reserved streams may
// have fallen to zero.
func (c *Conn) maybeIdleLocked() {
	if c.active.Load()+c.reserved.Load() > 0 {
		return
	}
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	if c.goAway != nil {
		// RFC 9113 6.8: the peer's GOAWAY leaves nothing to finish.
		c.failLocked(c.goAway)
	}
}
