// Package h2 is the HTTP/2 upstream: a pool of a few long-lived HTTP/2
// connections (h2 over TLS, or h2c with prior knowledge) to one upstream
// address, with the policy of muxgate/internal/pool. Each connection is a
// session of our own (h2/internal/h2conn, on x/net's Framer and hpack) or,
// as the reference to compare with, golang.org/x/net/http2's ClientConn;
// Config.Engine chooses.
package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"

	"muxgate/h2/internal/h2conn"
	"muxgate/internal/addrs"
	"muxgate/internal/pool"
)

// Engine names the HTTP/2 client session a Pool runs on.
type Engine string

const (
	// EngineOwn is our own session, h2/internal/h2conn: one writer
	// goroutine sends every stream's frames in batched writes, one reader
	// hands each response to its request, no goroutine per request
	// without a body, and the connection window is credited as DATA
	// arrives, so a client that stops reading stalls only its own stream.
	EngineOwn Engine = "own"

	// EngineXNet is golang.org/x/net/http2's ClientConn, kept as the
	// reference. It credits the connection window only as bodies are
	// read: ConnWindow / StreamWindow stalled readers stall its session.
	EngineXNet Engine = "x/net"
)

// Defaults for Config's zero values.
const (
	DefaultStreamWindow = 256 << 10
	DefaultConnWindow   = 16 << 20
	DefaultMaxFrameSize = 64 << 10
	DefaultDialTimeout  = 5 * time.Second
	DefaultPingInterval = 30 * time.Second
	DefaultPingTimeout  = 5 * time.Second

	// initialWindow is the window every HTTP/2 connection starts with
	// (RFC 9113 6.9.2); the connection's WINDOW_UPDATE adds to it.
	initialWindow = 65535
	// minConnWindow is the smallest ConnWindow: x/net takes the WINDOW_UPDATE
	// increment, ConnWindow-initialWindow, only from initialWindow up.
	minConnWindow = 2 * initialWindow
	// minFrameSize and maxFrameSize bound SETTINGS_MAX_FRAME_SIZE (RFC
	// 9113 6.5.2).
	minFrameSize = 1 << 14
	maxFrameSize = 1<<24 - 1
)

// Config configures a Pool. Zero values are documented per field.
type Config struct {
	// Logger receives session and dial events. The zero value is silent.
	Logger zerolog.Logger

	// Address is the upstream's host:port. Required.
	Address string

	// Unix makes Address a Unix domain socket's path, dialed as it is (h2c or TLS alike).
	Unix bool

	// Lookup finds the addresses of Address's host, which successive sessions dial in turn,
	// each dial going on to the next address while one fails. nil: the system's resolver.
	Lookup addrs.LookupFunc

	// Engine chooses the session every connection of the Pool runs on.
	// "" (the zero value) or EngineOwn: our own; EngineXNet: x/net's
	// ClientConn. Anything else makes New fail.
	Engine Engine

	// TLS, if non-nil, makes sessions HTTP/2 over TLS: NextProtos is forced
	// to ["h2"], the server must select h2 by ALPN, and ServerName defaults
	// to Address's host. nil: h2c with prior knowledge (RFC 9113 3.3).
	TLS *tls.Config

	// Limits bound the sessions, the streams on each, the queue and the
	// request body kept for retries; their zero values are those of
	// pool.Limits.
	pool.Limits

	// StreamWindow is the receive window of each stream
	// (SETTINGS_INITIAL_WINDOW_SIZE), which bounds the response bytes
	// buffered per stream when the client reads slowly. 0: 256 KiB.
	// EngineOwn raises less than 16 KiB to 16 KiB.
	StreamWindow int32

	// ConnWindow is the receive window of each connection, all streams
	// together. 0: 16 MiB. Less than 2×65535 bytes is raised to that: x/net
	// can only add 65535 or more to the 65535 a connection starts with.
	// EngineOwn credits it as response bytes arrive, so it bounds the bytes
	// in flight and a session buffers at most its streams × StreamWindow;
	// EngineXNet credits it as bodies are read, so it also bounds what the
	// whole session buffers.
	ConnWindow int32

	// MaxFrameSize is the largest frame payload the upstream may send
	// (SETTINGS_MAX_FRAME_SIZE, RFC 9113 6.5.2). A 64 KiB body then comes
	// in one DATA frame instead of four, which spares frames and writes on
	// both sides. 0: 64 KiB. Clamped to [16 KiB, 16 MiB-1].
	MaxFrameSize int32

	// DialTimeout bounds connecting, the TLS handshake and the wait until a
	// new session may be used: the peer's first SETTINGS (EngineOwn), or
	// the answer to a first PING (EngineXNet). 0: 5s.
	DialTimeout time.Duration

	// PingInterval: a session that received nothing for this long is sent
	// a PING. 0: 30s. Negative: never.
	PingInterval time.Duration

	// PingTimeout: a session whose PING is not answered within this is
	// closed and dropped. With EngineOwn, a session with requests in flight
	// that received nothing for this long is sent a PING too, so that one
	// whose peer went away without a word is dropped within twice this,
	// and its requests are retried where they may be. 0: 5s.
	PingTimeout time.Duration

	// ResponseTimeout bounds the wait for each response head: a request
	// that has none this long after it was sent fails with an error
	// wrapping pool.ErrResponseTimeout, and its stream is reset. 0: no
	// limit.
	ResponseTimeout time.Duration

	// BodyIdleTimeout bounds the upstream's silence within a response body while it is
	// awaited: a body read that waits this long fails with an error wrapping pool.ErrBodyIdle,
	// and the stream is reset. A reader that does not read (a slow client) does not count, nor
	// does an extended CONNECT's tunnel. 0: no limit.
	BodyIdleTimeout time.Duration
}

// Pool is an HTTP/2 upstream pool. Its methods are safe for concurrent use.
type Pool struct {
	cfg  Config
	log  zerolog.Logger
	tls  *tls.Config      // nil: h2c
	t2   *http2.Transport // makes EngineXNet sessions; nil for EngineOwn
	own  h2conn.Config    // for EngineOwn sessions; dial adds each one's logger
	pool *pool.Pool

	// turns is added to the turn of each dial (addrs.Resolve): a random number, so that the
	// pools of several processes in front of one name do not all start at its first address.
	turns uint64

	// dialConn opens the connection of a new session; nil: TCP (and TLS)
	// to cfg.Address. Tests set it to hand in an in-memory conn.
	dialConn func(ctx context.Context) (net.Conn, error)
}

// New returns a Pool that dials nothing until the first request.
func New(cfg Config) (*Pool, error) {
	return newPool(cfg, nil)
}

// newPool is New with dialConn, which opens the connection of each new
// session; nil dials TCP (and TLS) to cfg.Address. Tests hand in an
// in-memory conn. It validates cfg and fills its zero values
// (withDefaults) before it builds anything.
func newPool(cfg Config, dialConn func(context.Context) (net.Conn, error)) (*Pool, error) {
	if cfg.Address == "" {
		return nil, errors.New("h2: Config.Address is empty")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	p := &Pool{
		cfg:      cfg,
		log:      cfg.Logger.With().Str("addr", cfg.Address).Str("proto", "h2").Logger(),
		turns:    rand.Uint64(),
		dialConn: dialConn,
	}
	if p.tls, err = tlsConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.Engine == EngineXNet {
		if p.t2, err = newTransport(cfg); err != nil {
			return nil, err
		}
	} else {
		p.own = ownConfig(cfg)
	}
	p.pool, err = pool.New(pool.Config{
		Dial:     p.dial,
		Protocol: "h2",
		Limits:   cfg.Limits,
		Logger:   p.log,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// withDefaults returns cfg with its zero values filled and its windows and
// frame size clamped, as Config documents; Address is not checked. It
// fails on a negative window, frame size or timeout, and on an unknown
// Engine, in that order.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.StreamWindow < 0 || cfg.ConnWindow < 0 || cfg.MaxFrameSize < 0 || cfg.DialTimeout < 0 || cfg.PingTimeout < 0 {
		return cfg, errors.New("h2: negative window or timeout in Config")
	}
	switch cfg.Engine {
	case "":
		cfg.Engine = EngineOwn
	case EngineOwn, EngineXNet:
	default:
		return cfg, fmt.Errorf("h2: unknown Config.Engine %q (want %q or %q)", cfg.Engine, EngineOwn, EngineXNet)
	}
	if cfg.StreamWindow == 0 {
		cfg.StreamWindow = DefaultStreamWindow
	}
	if cfg.ConnWindow == 0 {
		cfg.ConnWindow = DefaultConnWindow
	}
	cfg.ConnWindow = max(cfg.ConnWindow, minConnWindow)
	if cfg.MaxFrameSize == 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
	}
	cfg.MaxFrameSize = min(max(cfg.MaxFrameSize, minFrameSize), maxFrameSize)
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	return cfg, nil
}

// tlsConfig returns the TLS configuration of the Pool's sessions: nil (h2c)
// when cfg.TLS is nil, else a copy of cfg.TLS that offers only h2 by ALPN
// and whose ServerName, if empty, is cfg.Address's host. cfg.TLS is not
// modified. It fails when that host is needed and Address is not
// host:port.
func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	c := cfg.TLS.Clone()
	c.NextProtos = []string{http2.NextProtoTLS}
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Address)
		if err != nil {
			return nil, errors.New("h2: Config.Address is not host:port")
		}
		c.ServerName = host
	}
	return c, nil
}

// newTransport makes the x/net Transport whose NewClientConn makes the
// sessions. x/net's legacy transport takes the receive windows only from
// net/http's HTTP2Config, so they travel through t1; it sends
// MaxReceiveBufferPerStream as SETTINGS_INITIAL_WINDOW_SIZE and
// MaxReceiveBufferPerConnection as the connection's first WINDOW_UPDATE
// increment (transport.go, newClientConn).
func newTransport(cfg Config) (*http2.Transport, error) {
	ping := cfg.PingInterval
	if ping < 0 {
		ping = 0
	}
	t1 := &http.Transport{
		// A proxy passes Accept-Encoding and bodies through untouched.
		DisableCompression: true,
		HTTP2: &http.HTTP2Config{
			StrictMaxConcurrentRequests:   true,
			MaxReceiveBufferPerStream:     int(cfg.StreamWindow),
			MaxReceiveBufferPerConnection: int(cfg.ConnWindow) - initialWindow,
			SendPingTimeout:               ping,
			PingTimeout:                   cfg.PingTimeout,
		},
	}
	t2, err := http2.ConfigureTransports(t1)
	if err != nil {
		return nil, err
	}
	// The pool keeps each session within the peer's
	// SETTINGS_MAX_CONCURRENT_STREAMS; should the peer lower it, requests
	// wait in x/net for a free stream instead of failing.
	t2.StrictMaxConcurrentStreams = true
	t2.AllowHTTP = true
	t2.DisableCompression = true
	t2.ReadIdleTimeout = ping
	t2.PingTimeout = cfg.PingTimeout
	t2.MaxReadFrameSize = uint32(cfg.MaxFrameSize)
	return t2, nil
}

// RoundTrip sends req upstream on one stream. The gateway sets req.Host
// (sent as :authority) and req.URL.Scheme (sent as :scheme). Errors wrap
// the sentinels of muxgate/internal/pool (ErrQueueFull, ErrQueueTimeout,
// ErrUnavailable, ErrClosed, ErrNotProcessed). An Info put in req's context
// with pool.WithInfo is filled, stream ID included.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.pool.RoundTrip(req)
}

// Shutdown stops taking requests, sends GOAWAY on every session and waits
// for their streams to end; at ctx's end it closes what remains.
func (p *Pool) Shutdown(ctx context.Context) error {
	return p.pool.Shutdown(ctx)
}

// State returns a snapshot of the pool and its sessions.
func (p *Pool) State() pool.State {
	return p.pool.State()
}

// Load is how many requests the pool carries now (see pool.Pool.Load).
func (p *Pool) Load() int {
	return p.pool.Load()
}

// Starts reports whether Start sends a request without waiting for its
// response head: true with EngineOwn. With EngineXNet, Start is RoundTrip.
func (p *Pool) Starts() bool { return p.t2 == nil }

// Start sends req upstream as RoundTrip does, but returns once its HEADERS
// are queued; pd.Await then waits for the response head. Several requests
// so started share the session writer's next write. req must have no body.
func (p *Pool) Start(req *http.Request, pd *pool.Pending) {
	p.pool.Start(req, pd)
}
