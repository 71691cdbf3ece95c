package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/http2"

	"muxgate/internal/addrs"
	"muxgate/internal/pool"
)

// dial opens one session of cfg.Engine: TCP, TLS with ALPN h2 unless h2c,
// the HTTP/2 preface, and a PING. It is the pool's DialFunc.
//
// A connection that the upstream accepted and then ended before the session was up (a reset,
// a close, a GOAWAY) is dialled once more at once, within the same DialTimeout: a server whose
// processes are being replaced (Apache's graceful restart) may end a connection that an old
// process accepted, and the next one reaches a new process. Without that, the requests waiting
// for this dial would fail with the upstream up (the pool fails its waiters when a dial fails
// with no session live).
func (p *Pool) dial(ctx context.Context, id, turn uint64) (pool.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	s, err := p.dialOnce(ctx, id, turn)
	if err != nil && ctx.Err() == nil && endedInHandshake(err) {
		p.log.Debug().Err(err).Msg("upstream ended the connection before the session was up; dialling again")
		s, err = p.dialOnce(ctx, id, turn)
	}
	return s, err
}

// endedInHandshake reports whether a dial's error says the upstream ended a connection it had
// accepted: the connection closed or reset, or a GOAWAY in place of the session (x/net's
// engine reports one it read before the close as a GoAwayError; muxgate's own takes a session
// that sent one and lets the pool replace it). A timeout, a refused connection or a TLS or
// protocol failure is no such error: another try at once would meet the same.
func endedInHandshake(err error) bool {
	var goAway http2.GoAwayError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &goAway)
}

// dialOnce is one try of dial.
func (p *Pool) dialOnce(ctx context.Context, id, turn uint64) (pool.Session, error) {
	open := p.dialConn
	if open == nil {
		open = func(ctx context.Context) (net.Conn, error) { return p.connect(ctx, p.turns+turn) }
	}
	c, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("h2: dial %s: %w", p.cfg.Address, err)
	}
	if p.cfg.Engine == EngineOwn {
		return p.dialOwn(ctx, id, c)
	}
	return p.dialXNet(ctx, id, c)
}

// dialXNet starts an EngineXNet session on c.
func (p *Pool) dialXNet(ctx context.Context, id uint64, c net.Conn) (pool.Session, error) {
	w, wc := newWatchConn(c)
	cc, err := p.t2.NewClientConn(wc)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("h2: %s: %w", p.cfg.Address, err)
	}
	// The peer's preface begins with its SETTINGS (RFC 9113 3.4), so once
	// the PING's ACK is in, its SETTINGS_MAX_CONCURRENT_STREAMS is known and
	// the peer is known to speak HTTP/2, before any request is sent.
	if err := cc.Ping(ctx); err != nil {
		cc.Close()
		return nil, fmt.Errorf("h2: %s: no answer to the first PING: %w", p.cfg.Address, w.endedBy(err))
	}
	return &session{id: id, cc: cc, conn: w, timeout: p.cfg.ResponseTimeout, idle: p.cfg.BodyIdleTimeout}, nil
}

// connectTransport opens the connection that connect's TLS, if any, runs on: to a Unix socket,
// or TCP to the addresses of cfg.Address in turn.
func (p *Pool) connectTransport(ctx context.Context, turn uint64) (net.Conn, error) {
	var d net.Dialer
	if p.cfg.Unix {
		return d.DialContext(ctx, "unix", p.cfg.Address)
	}
	to, err := addrs.Resolve(ctx, p.cfg.Lookup, "tcp", p.cfg.Address, turn)
	if err != nil {
		return nil, err
	}
	return addrs.Dial(ctx, to, func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", a.String())
	})
}

// connect dials cfg.Address, the turn-th dial of the pool (its session's number): its host's
// addresses from the turn-th on (see addrs.Resolve), until one connects. For TLS it then
// completes the handshake with ALPN h2.
func (p *Pool) connect(ctx context.Context, turn uint64) (net.Conn, error) {
	c, err := p.connectTransport(ctx, turn)
	if err != nil || p.tls == nil {
		return c, err
	}
	tc := tls.Client(c, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if proto := tc.ConnectionState().NegotiatedProtocol; proto != http2.NextProtoTLS {
		tc.Close()
		return nil, fmt.Errorf("server chose ALPN protocol %q, want %q", proto, http2.NextProtoTLS)
	}
	return tc, nil
}
