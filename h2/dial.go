package h2

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/http2"

	"muxgate/internal/addrs"
	"muxgate/internal/pool"
)

// dial opens one session of cfg.Engine: TCP, TLS with ALPN h2 unless h2c,
// the HTTP/2 preface, and a PING. It is the pool's DialFunc.
func (p *Pool) dial(ctx context.Context, id, turn uint64) (pool.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
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
		return nil, fmt.Errorf("h2: %s: no answer to the first PING: %w", p.cfg.Address, err)
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
