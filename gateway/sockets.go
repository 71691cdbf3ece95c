package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
)

// Socket is one of a gateway's listening sockets.
type Socket struct {
	Role     string       // RoleClient or RoleMetrics
	Addr     string       // the address it was configured with (Listener.Addr, Config.MetricsAddr)
	Listener net.Listener // the bound socket, before TLS
}

// Sockets returns the gateway's listening sockets: the client listeners in the order of
// Config.Listeners, then the metrics listener, if any. They stay the gateway's: a caller that
// hands them to another process passes copies (their files) and closes nothing.
func (g *Gateway) Sockets() []Socket { return g.sockets }

// clientListen opens the client listeners. Their connections get no TCP keep-alive probes, as
// nghttpx's and HAProxy's do not by default: the idle timeout closes an idle connection and the
// write timeout a stalled one, so the probes would find nothing those miss, and turning them on
// costs four system calls per accepted connection.
var clientListen = net.ListenConfig{KeepAlive: -1}

// open returns the listening socket for addr in role: Config.Listen's, if it has one, or a
// socket bound now.
func (g *Gateway) open(role, addr string) (net.Listener, error) {
	if g.cfg.Listen != nil {
		ln, err := g.cfg.Listen(role, addr)
		if ln != nil || err != nil {
			return ln, err
		}
	}
	lc := clientListen
	if role == RoleMetrics {
		lc = net.ListenConfig{}
	}
	return lc.Listen(context.Background(), "tcp", addr)
}

// listen opens the client listeners and, with Config.MetricsAddr, the metrics listener; on a
// failure it closes those it opened.
func (g *Gateway) listen() error {
	for _, l := range g.cfg.Listeners {
		ln, err := g.open(RoleClient, l.Addr)
		if err != nil {
			g.closeListeners()
			return fmt.Errorf("gateway: listen %s: %w", l.Addr, err)
		}
		g.sockets = append(g.sockets, Socket{Role: RoleClient, Addr: l.Addr, Listener: ln})
		if l.TLS != nil {
			ln = tls.NewListener(ln, l.TLS)
		}
		g.listeners = append(g.listeners, ln)
	}
	if g.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := g.open(RoleMetrics, g.cfg.MetricsAddr)
	if err != nil {
		g.closeListeners()
		return fmt.Errorf("gateway: listen %s (metrics): %w", g.cfg.MetricsAddr, err)
	}
	g.sockets = append(g.sockets, Socket{Role: RoleMetrics, Addr: g.cfg.MetricsAddr, Listener: ln})
	return nil
}

// closeListeners closes every listening socket.
func (g *Gateway) closeListeners() {
	for _, s := range g.sockets {
		s.Listener.Close()
	}
}
