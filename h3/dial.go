package h3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/quic-go/quic-go"

	"muxgate/internal/addrs"
	"muxgate/internal/pool"
)

var errClosed = errors.New("h3: pool is shut down")

// dial opens one session: the QUIC handshake (TLS 1.3, ALPN h3), then the
// HTTP/3 ClientConn, and waits for the peer's SETTINGS. It is the pool's
// DialFunc.
func (p *Pool) dial(ctx context.Context, id, turn uint64) (pool.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	udp, err := p.socket()
	if err != nil {
		return nil, fmt.Errorf("h3: dial %s: %w", p.cfg.Address, err)
	}
	to, err := addrs.Resolve(ctx, p.cfg.Lookup, "udp", p.cfg.Address, p.turns+turn)
	if err != nil {
		return nil, fmt.Errorf("h3: dial %s: %w", p.cfg.Address, err)
	}
	conn, err := addrs.Dial(ctx, to, func(ctx context.Context, a netip.AddrPort) (*quic.Conn, error) {
		return udp.Dial(ctx, net.UDPAddrFromAddrPort(a), p.tls, p.quic)
	})
	if err != nil {
		return nil, fmt.Errorf("h3: dial %s: %w", p.cfg.Address, err)
	}
	cc := p.h3.NewClientConn(conn)
	// The peer's control stream opens with its SETTINGS (RFC 9114 6.2.1):
	// once they are in, the peer is known to speak HTTP/3 and not merely
	// QUIC with ALPN h3, before any request is sent.
	switch awaitSettings(ctx, cc.ReceivedSettings(), conn.Context().Done()) {
	case settingsEnded:
		return nil, fmt.Errorf("h3: %s: closed before its SETTINGS: %w", p.cfg.Address, context.Cause(conn.Context()))
	case settingsTimedOut:
		conn.CloseWithError(noError, "")
		return nil, fmt.Errorf("h3: %s: no SETTINGS: %w", p.cfg.Address, ctx.Err())
	}
	return newSession(id, conn, cc, p.cfg.MaxStreamsPerSession, p.cfg.ResponseTimeout, p.cfg.BodyIdleTimeout), nil
}

// settingsWait is how the wait for a peer's SETTINGS ended.
type settingsWait int

const (
	settingsIn       settingsWait = iota // the SETTINGS came
	settingsEnded                        // the connection ended first
	settingsTimedOut                     // ctx ended first
)

// awaitSettings waits until settings, the connection's end (ended) or ctx's is closed. SETTINGS
// that came count even if the end came too: the session was up, and what follows its end is the
// pool's to judge, the same each time (as h2's own session does). A select alone picks at random
// among what is ready.
func awaitSettings(ctx context.Context, settings, ended <-chan struct{}) settingsWait {
	select {
	case <-settings:
	case <-ended:
	case <-ctx.Done():
	}
	switch {
	case closed(settings):
		return settingsIn
	case closed(ended):
		return settingsEnded
	}
	return settingsTimedOut
}

// closed reports whether c is closed, without waiting.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// socket returns the pool's UDP socket, opening it at the first call. Every
// session of the pool shares it; quic-go tells their packets apart by
// connection ID.
func (p *Pool) socket() (*quic.Transport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	if p.udp != nil {
		return p.udp, nil
	}
	// A wildcard socket reaches IPv4 and IPv6 upstreams alike.
	c, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, err
	}
	p.udp = &quic.Transport{Conn: c}
	return p.udp, nil
}
