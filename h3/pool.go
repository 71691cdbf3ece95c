// Package h3 is the HTTP/3 upstream: a pool of a few long-lived QUIC
// connections to one upstream address, each carrying quic-go's HTTP/3
// ClientConn, with the policy of muxgate/internal/pool. quic-go's own
// http3.Transport keeps one connection per host and blocks at its stream
// limit; this pool opens and spreads over its own connections instead.
package h3

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/rs/zerolog"

	"muxgate/internal/addrs"
	"muxgate/internal/pool"
)

// Defaults for Config's zero values. The windows and timeouts are those of
// package h2 where they mean the same.
const (
	DefaultStreamWindow = 256 << 10
	DefaultConnWindow   = 16 << 20
	DefaultDialTimeout  = 5 * time.Second
	DefaultPingInterval = 30 * time.Second
	DefaultIdleTimeout  = 30 * time.Second

	// DefaultMaxStreams is the streams the pool puts on one connection when
	// Config.MaxStreamsPerSession is 0. quic-go does not expose the peer's
	// stream limit (its initial_max_streams_bidi transport parameter and
	// later MAX_STREAMS frames), so the pool cannot follow it as it follows
	// HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS; 100 is quic-go's and most
	// servers' default. Against a peer that allows fewer, a request waits
	// inside quic-go (OpenStreamSync) for a stream instead of failing.
	DefaultMaxStreams = 100
)

// Config configures a Pool. Zero values are documented per field.
type Config struct {
	// Logger receives session and dial events. The zero value is silent.
	Logger zerolog.Logger

	// Address is the upstream's host:port (UDP). Required.
	Address string

	// Lookup finds the addresses of Address's host, which successive sessions dial in turn,
	// each dial going on to the next address while one fails. nil: the system's resolver.
	Lookup addrs.LookupFunc

	// TLS holds the roots, server name and verification settings. NextProtos
	// is forced to ["h3"] and MinVersion to TLS 1.3 (RFC 9001 4.2); the
	// server name defaults to Address's host. nil: system roots.
	TLS *tls.Config

	// Limits bound the connections, the streams on each, the queue and the
	// request body kept for retries. Zero values are as in pool.Limits but
	// for MaxStreamsPerSession: 0 means DefaultMaxStreams (100), since
	// quic-go does not tell the peer's limit.
	pool.Limits

	// StreamWindow is the receive window of each stream, which bounds the
	// response bytes buffered per stream when the client reads slowly: both
	// QUIC's initial and maximum stream receive window, so that quic-go's
	// auto-tuning never grows it. 0: 256 KiB.
	StreamWindow int32

	// ConnWindow is the receive window of each connection, all streams
	// together, initial and maximum. 0: 16 MiB.
	ConnWindow int32

	// DialTimeout bounds the QUIC and TLS handshake and the arrival of the
	// peer's HTTP/3 SETTINGS. A UDP port with no server behind it is found
	// only by this timeout: ICMP errors do not reach quic-go's socket.
	// 0: 5s.
	DialTimeout time.Duration

	// PingInterval is QUIC's keep-alive period: a connection sends a PING
	// when it sent nothing for this long, at most every half IdleTimeout.
	// 0: 30s. Negative: no keep-alive.
	PingInterval time.Duration

	// IdleTimeout is QUIC's max_idle_timeout: a connection that received
	// nothing for this long (the smaller of ours and the peer's) is closed
	// and dropped. With keep-alive on, it is also how a dead peer is found.
	// 0: 30s.
	IdleTimeout time.Duration

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

// Pool is an HTTP/3 upstream pool. Its methods are safe for concurrent use.
type Pool struct {
	cfg  Config
	log  zerolog.Logger
	tls  *tls.Config
	quic *quic.Config
	h3   *http3.Transport // makes the ClientConns; it dials nothing itself
	pool *pool.Pool

	// turns is added to the turn of each dial (addrs.Resolve): a random number, so that the
	// pools of several processes in front of one name do not all start at its first address.
	turns uint64

	mu  sync.Mutex
	udp *quic.Transport // guarded by mu; the pool's one UDP socket, made at the first dial
	// closed is guarded by mu; set by Shutdown, after which no socket is made.
	closed bool
}

// New returns a Pool that dials nothing, and opens no socket, until the
// first request.
func New(cfg Config) (*Pool, error) {
	if cfg.Address == "" {
		return nil, errors.New("h3: Config.Address is empty")
	}
	host, _, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, errors.New("h3: Config.Address is not host:port")
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}

	p := &Pool{
		cfg:   cfg,
		log:   cfg.Logger.With().Str("addr", cfg.Address).Str("proto", "h3").Logger(),
		turns: rand.Uint64(),
		// A proxy passes Accept-Encoding and bodies through untouched.
		h3: &http3.Transport{DisableCompression: true},
	}
	p.tls = tlsConfig(cfg.TLS, host)
	p.quic = quicConfig(cfg)
	p.pool, err = pool.New(pool.Config{
		Dial:     p.dial,
		Protocol: "h3",
		Limits:   cfg.Limits,
		Logger:   p.log,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// withDefaults returns cfg with its zero values filled, as Config
// documents; Address is not checked. It fails on a negative window,
// timeout or MaxStreamsPerSession.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.StreamWindow < 0 || cfg.ConnWindow < 0 || cfg.DialTimeout < 0 || cfg.IdleTimeout < 0 ||
		cfg.MaxStreamsPerSession < 0 {
		return cfg, errors.New("h3: negative window, timeout or limit in Config")
	}
	if cfg.StreamWindow == 0 {
		cfg.StreamWindow = DefaultStreamWindow
	}
	if cfg.ConnWindow == 0 {
		cfg.ConnWindow = DefaultConnWindow
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxStreamsPerSession == 0 {
		cfg.MaxStreamsPerSession = DefaultMaxStreams
	}
	return cfg, nil
}

// tlsConfig returns the TLS configuration of the Pool's connections: a
// copy of base (nil: an empty one, so system roots) that offers only h3 by
// ALPN, requires TLS 1.3 (RFC 9001 4.2), and whose ServerName, if empty, is
// host. base is not modified.
func tlsConfig(base *tls.Config, host string) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	c.NextProtos = []string{http3.NextProtoH3}
	c.MinVersion = tls.VersionTLS13
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// quicConfig is the QUIC side of cfg, whose zero values are filled.
func quicConfig(cfg Config) *quic.Config {
	keepAlive := cfg.PingInterval
	if keepAlive < 0 {
		keepAlive = 0
	}
	return &quic.Config{
		HandshakeIdleTimeout:           cfg.DialTimeout,
		MaxIdleTimeout:                 cfg.IdleTimeout,
		KeepAlivePeriod:                keepAlive,
		InitialStreamReceiveWindow:     uint64(cfg.StreamWindow),
		MaxStreamReceiveWindow:         uint64(cfg.StreamWindow),
		InitialConnectionReceiveWindow: uint64(cfg.ConnWindow),
		MaxConnectionReceiveWindow:     uint64(cfg.ConnWindow),
		// The server opens no request streams (RFC 9114 6.1); its control
		// and QPACK streams are unidirectional.
		MaxIncomingStreams: -1,
	}
}

// RoundTrip sends req upstream on one stream. The gateway sets req.Host
// (sent as :authority) and req.URL.Scheme (sent as :scheme). Errors wrap
// the sentinels of muxgate/internal/pool (ErrQueueFull, ErrQueueTimeout,
// ErrUnavailable, ErrClosed, ErrNotProcessed). An Info put in req's context
// with pool.WithInfo is filled; its StreamID stays 0, since quic-go's
// ClientConn does not tell which stream carried a request.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.pool.RoundTrip(req)
}

// Shutdown stops taking requests, lets the open streams of every connection
// end and closes the connections with H3_NO_ERROR; at ctx's end it closes
// what remains. Then it closes the pool's UDP socket.
func (p *Pool) Shutdown(ctx context.Context) error {
	err := p.pool.Shutdown(ctx)
	p.mu.Lock()
	p.closed = true
	udp := p.udp
	p.udp = nil
	p.mu.Unlock()
	if udp != nil {
		udp.Close()
		udp.Conn.Close()
	}
	return err
}

// State returns a snapshot of the pool and its sessions.
func (p *Pool) State() pool.State {
	return p.pool.State()
}

// Load is how many requests the pool carries now (see pool.Pool.Load).
func (p *Pool) Load() int {
	return p.pool.Load()
}
