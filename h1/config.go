package h1

import (
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

	// MaxConns caps the open client connections across all listeners of the Server; at the cap,
	// the accept loops pause until a connection closes. Zero means 10000.
	MaxConns int

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
}

const (
	defaultHeaderTimeout  = 10 * time.Second
	defaultIdleTimeout    = 60 * time.Second
	defaultMaxConns       = 10000
	defaultMaxHeaderBytes = 16 << 10
	defaultMaxHeaderCount = 100
	defaultMaxURIBytes    = 8 << 10

	maxHeaderBytesCap = 1 << 20
	maxHeaderCountCap = 10000
)

// Fixed policies that are not (yet) worth a knob.
const (
	// bufferSize is the size of a connection's bufio.Reader and of a response's bufio.Writer.
	bufferSize = 4 << 10

	// maxKeptHeadBuf is the largest request-head buffer a connection keeps for its next request.
	maxKeptHeadBuf = 1 << 10

	// maxDiscard bounds the unread request body the server reads and throws away after the
	// handler returns to keep the connection; a larger remainder closes the connection instead.
	maxDiscard = 256 << 10

	// idleRelease is how long a connection waits for its next request while holding its read
	// buffer; after that it returns the buffer to the pool and waits with a one-byte read.
	idleRelease = 5 * time.Second

	// lingerTimeout and maxLinger bound the lingering close (RFC 9112 9.6): after its last
	// response the server half-closes and reads what the client still sends, so that the
	// client's unread data does not turn the close into a reset that destroys the response.
	lingerTimeout = 500 * time.Millisecond
	maxLinger     = 256 << 10

	// The pause after a temporary Accept error (EMFILE and the like) starts at minAcceptBackoff
	// and doubles up to maxAcceptBackoff while the errors go on.
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// withDefaults returns c with zero values replaced by defaults and limits clamped.
func (c Config) withDefaults() Config {
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = defaultHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = defaultIdleTimeout
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
	return c
}

// limits are the parser's bounds, taken from a filled-in Config.
type limits struct {
	headerBytes int // request line + header section (or trailer section), bytes
	headerCount int // header (or trailer) fields
	uriBytes    int // request-target, bytes
}

func (c Config) limits() limits {
	return limits{headerBytes: c.MaxHeaderBytes, headerCount: c.MaxHeaderCount, uriBytes: c.MaxURIBytes}
}
