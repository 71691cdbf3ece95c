package h1

import (
	"math"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Server. Each field's comment says what its zero value means; New fills in
// the defaults and clamps the values in one place (Config.withDefaults).
type Config struct {
	// Logger receives the server's own events (refused requests, handler panics, accept
	// errors). The zero value is silent.
	Logger zerolog.Logger

	// HeaderTimeout bounds the time for a request head to arrive completely, counted from the
	// first byte of the head, or for the first request of a connection from the moment the
	// connection was accepted (the TLS handshake included). A head that starts but does not
	// complete in time is answered with 408; a new connection that sends nothing is closed
	// silently. Zero means 10s.
	HeaderTimeout time.Duration

	// IdleTimeout is how long a keep-alive connection may wait for the first byte of its next
	// request before it is closed silently. Zero means 60s.
	IdleTimeout time.Duration

	// DrainGrace is how long, once Shutdown has begun, a keep-alive connection waiting for its
	// next request has to send it: it is answered with Connection: close, as a busy
	// connection's response is. One still waiting after it is closed. A client that reuses a
	// kept-alive connection must be ready to find it closed and send again (RFC 9112 9.3.1), but
	// one that sends just as it closes sees a failure, and some (load generators, say) never
	// send again. Zero means 1s; negative, closed at once.
	DrainGrace time.Duration

	// ParkAfter is how long a keep-alive connection waits for its next request on the goroutine
	// that served the last one. After that it parks, without a goroutine (park_linux.go), or
	// where it cannot park moves to a fresh goroutine with the smallest stack. Parking and
	// waking again costs a request about as much CPU as the rest of it; waiting on a goroutine
	// costs its stack. Zero means 100ms.
	ParkAfter time.Duration

	// MaxConns caps the open client connections across all listeners of the Server; at the cap,
	// the accept loops pause until a connection closes. Zero means 10000.
	MaxConns int

	// MaxConnsPerIP caps the open connections of one client IP address, so that one address
	// cannot take all of MaxConns. A connection beyond it is refused at once: on a clear-text
	// listener with a 503 Service Unavailable and Connection: close, written without reading the
	// request; on TLS with a plain close, before the handshake (the one costly thing a refusal
	// would otherwise spend). Zero (or negative) means no limit.
	MaxConnsPerIP int

	// HTTP2 serves TLS clients that choose h2 by ALPN with HTTP/2 (see h2front.go); their
	// listener's tls.Config must offer h2. False: such a connection is closed after its
	// handshake, as one that chose any protocol but HTTP/1.x.
	HTTP2 bool

	// RequestRatePerIP caps the requests of one client IP address per second, over all its
	// connections, on average; RequestBurstPerIP is how many it may send at once before the
	// average applies. A request beyond them is answered with 429 Too Many Requests (RFC 6585
	// 4), a Retry-After field giving the seconds until the address may send another, and
	// Connection: close, without reaching the handler. Zero (or negative) means no limit.
	RequestRatePerIP float64
	// RequestBurstPerIP: see RequestRatePerIP. Zero means a second's worth of the rate, at
	// least 1.
	RequestBurstPerIP int

	// MaxHeaderBytes caps the request line plus the header section, in bytes. A larger head is
	// answered with 431 (414 when the request line alone is too long because of its target).
	// It also caps a chunked body's trailer section. Zero means 16 KiB; at most 1 MiB.
	MaxHeaderBytes int

	// MaxHeaderCount caps the number of header fields (and of trailer fields); more are
	// answered with 431. Zero means 100; at most 10000.
	MaxHeaderCount int

	// MaxURIBytes caps the request-target; a longer one is answered with 414. Zero means 8 KiB;
	// it is clamped to MaxHeaderBytes.
	MaxURIBytes int

	// MaxRequestsPerConn caps the requests served on one connection; the response to the last
	// one carries Connection: close. Zero (or negative) means unlimited.
	MaxRequestsPerConn int

	// PipelineDepth is how many pipelined safe requests (GET and HEAD without content) of one
	// connection are handled at once, each on a goroutine of its own, their responses written in
	// request order (RFC 9112 9.3.2). Other requests wait until the responses before them are
	// written, then run alone. 1 handles pipelined requests one at a time. Zero means 8; at most
	// 256.
	PipelineDepth int

	// MaxPipelineBuffer caps the bytes of pipelined responses held in memory, per connection,
	// while they wait for the responses before them to be written. Past it, a waiting
	// response's Write blocks until its turn. Zero means 256 KiB. A PipelineStarter's answers
	// are written in turn and held by no one (see PipelineStarter).
	MaxPipelineBuffer int

	// WriteTimeout bounds each write to the client: a client that takes none of a response for
	// this long is cut off, its request's context cancelled and its connection closed. To spare
	// a system call per write, the deadline is renewed only once half of it has passed, so a
	// write is cut after between WriteTimeout/2 and WriteTimeout without progress. Zero means
	// 30s.
	WriteTimeout time.Duration

	// BodyReadTimeout bounds each read of a request body from the client: a client that sends
	// none of its announced content for this long while the handler waits for it is cut off,
	// its request's context cancelled (ErrBodyTimeout) and its connection closed, after a 408 if
	// the handler had not answered. Zero means 30s.
	BodyReadTimeout time.Duration

	// TunnelIdleTimeout closes a connection switched to another protocol (Upgrade) on which no
	// byte has gone either way for this long: its request's context is cancelled with
	// ErrTunnelIdle. Zero means 1h.
	TunnelIdleTimeout time.Duration

	// MinBodyRate is the slowest a request body may arrive, in bytes per second, on average
	// over the time the handler's Reads spent waiting for it: a client that trickles its content
	// just fast enough to beat BodyReadTimeout on every read is cut off as if it had timed out
	// (ErrBodyTimeout, 408). The rate is checked as each Read that waited for the client
	// returns, once those waits add up to more than minRateGrace (5s), and not after the body's
	// last byte. Time the handler spends between Reads (an upstream that takes the content
	// slowly) does not count against the client. Zero (or negative) means no minimum; 1024 suits
	// an edge server.
	MinBodyRate int

	// MaxBodyBytes caps a request's content, in bytes (RFC 9110 15.5.14). A request whose
	// Content-Length is larger is answered with 413 and Connection: close before the handler
	// runs, without a 100 Continue and without reading the content. A chunked body that grows
	// larger fails the handler's Read with ErrBodyTooLarge once the limit is passed (the handler
	// gets no byte beyond it); the connection is closed after the response, and if the handler
	// writes nothing the server answers 413 itself. Zero (or negative) means no limit.
	MaxBodyBytes int64

	// OnRefusal, if set, is called for each request the server answers on its own, before or
	// instead of the handler (see Refusal), with what it knows of the request: for an access
	// log. It runs on the connection's goroutine before the answer is written, and must not
	// block. A connection closed without an answer (an idle or silent one, a failed TLS
	// handshake) is no refusal; a TLS connection beyond MaxConnsPerIP, closed before its
	// handshake, is reported as the 503 a clear-text one gets.
	OnRefusal func(Refusal)

	// ListFields keeps each request's header fields as a list, in the order the client sent
	// them, for RequestFields, and leaves the Request's Header nil (a handler reading it sees no
	// fields): for a handler that passes the fields on as they came, as a proxy does, which then
	// costs no map. Framing, Host and Connection are read from the list as from a map.
	ListFields bool
}

const (
	defaultHeaderTimeout  = 10 * time.Second
	defaultIdleTimeout    = 60 * time.Second
	defaultDrainGrace     = time.Second
	defaultMaxConns       = 10000
	defaultMaxHeaderBytes = 16 << 10
	defaultMaxHeaderCount = 100
	defaultMaxURIBytes    = 8 << 10
	defaultPipelineDepth  = 8
	defaultPipelineBuffer = 256 << 10
	defaultWriteTimeout   = 30 * time.Second
	defaultBodyTimeout    = 30 * time.Second
	defaultTunnelIdle     = time.Hour

	maxHeaderBytesCap = 1 << 20
	maxHeaderCountCap = 10000
	maxPipelineDepth  = 256
)

// Fixed policies that are not (yet) worth a knob.
const (
	// bufferSize is the size of a connection's bufio.Reader, of a response's bufio.Writer, and of
	// the buffer the first read of an idle connection's next request lands in.
	bufferSize = 4 << 10

	// maxKeptHeadBuf is the largest request-head buffer a connection keeps for its next request.
	maxKeptHeadBuf = 1 << 10

	// firstHeadBuf is the capacity of a connection's first request-head buffer. Grown from
	// nothing by append, a head of four short lines took three allocations and copies on a new
	// connection (about 1,100 instructions).
	firstHeadBuf = 512

	// maxDiscard bounds the unread request body the server reads and throws away after the
	// handler returns to keep the connection; a larger remainder closes the connection instead.
	maxDiscard = 256 << 10

	// idleShed is Config.ParkAfter's default. A busy connection's next request comes sooner.
	// (A connection holds no read buffer while it waits, from the start: see
	// connReader.waitIdle.)
	idleShed = 100 * time.Millisecond

	// restackWait is how often an idle connection whose goroutine got more than minStack checks
	// whether a fresh goroutine would get less (see conn.shedAfter).
	restackWait = 250 * time.Millisecond

	// minStack is the smallest stack the runtime gives a goroutine (2 KiB on every platform
	// that muxgate builds for).
	minStack = 2 << 10

	// watchTick is the period of the sweep that starts watching for the client's close under a
	// handler that has run for a while (see Server.watchLoop): a request that ends sooner, the
	// common case, pays nothing for the watch; a client that leaves is noticed within two ticks.
	watchTick = 100 * time.Millisecond

	// lingerTimeout and maxLinger bound the lingering close (RFC 9112 9.6): after its last
	// response the server half-closes and reads what the client still sends, so that the
	// client's unread data does not turn the close into a reset that destroys the response.
	lingerTimeout = 500 * time.Millisecond
	maxLinger     = 256 << 10

	// The pause after a temporary Accept error (EMFILE and the like) starts at minAcceptBackoff
	// and doubles up to maxAcceptBackoff while the errors go on.
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second

	// minRateGrace is how long the Reads of a request body may wait for the client in all
	// before MinBodyRate applies, so that a body's slow start (a client that waits for
	// 100 Continue, TCP slow start, a first read that meets nothing buffered) is not held against
	// it.
	minRateGrace = 5 * time.Second
)

// withDefaults returns c with zero values replaced by defaults and limits clamped.
func (c Config) withDefaults() Config {
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = defaultHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.DrainGrace == 0 {
		c.DrainGrace = defaultDrainGrace
	}
	if c.ParkAfter <= 0 {
		c.ParkAfter = idleShed
	}
	if c.MaxConns <= 0 {
		c.MaxConns = defaultMaxConns
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	c.MaxHeaderBytes = min(c.MaxHeaderBytes, maxHeaderBytesCap)
	if c.MaxHeaderCount <= 0 {
		c.MaxHeaderCount = defaultMaxHeaderCount
	}
	c.MaxHeaderCount = min(c.MaxHeaderCount, maxHeaderCountCap)
	if c.MaxURIBytes <= 0 {
		c.MaxURIBytes = defaultMaxURIBytes
	}
	c.MaxURIBytes = min(c.MaxURIBytes, c.MaxHeaderBytes)
	if c.MaxRequestsPerConn < 0 {
		c.MaxRequestsPerConn = 0
	}
	if c.MaxConnsPerIP < 0 {
		c.MaxConnsPerIP = 0
	}
	if c.RequestRatePerIP < 0 || math.IsNaN(c.RequestRatePerIP) {
		c.RequestRatePerIP = 0
	}
	if c.RequestBurstPerIP <= 0 {
		c.RequestBurstPerIP = max(1, int(math.Ceil(min(c.RequestRatePerIP, math.MaxInt32))))
	}
	if c.PipelineDepth <= 0 {
		c.PipelineDepth = defaultPipelineDepth
	}
	c.PipelineDepth = min(c.PipelineDepth, maxPipelineDepth)
	if c.MaxPipelineBuffer <= 0 {
		c.MaxPipelineBuffer = defaultPipelineBuffer
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = defaultBodyTimeout
	}
	if c.TunnelIdleTimeout <= 0 {
		c.TunnelIdleTimeout = defaultTunnelIdle
	}
	if c.MinBodyRate < 0 {
		c.MinBodyRate = 0
	}
	if c.MaxBodyBytes < 0 {
		c.MaxBodyBytes = 0
	}
	return c
}

// limits are the parser's bounds, taken from a filled-in Config.
type limits struct {
	headerBytes int   // request line + header section (or trailer section), bytes
	headerCount int   // header (or trailer) fields
	uriBytes    int   // request-target, bytes
	bodyBytes   int64 // content, bytes; 0: no limit
}

func (c Config) limits() limits {
	return limits{headerBytes: c.MaxHeaderBytes, headerCount: c.MaxHeaderCount, uriBytes: c.MaxURIBytes, bodyBytes: c.MaxBodyBytes}
}
