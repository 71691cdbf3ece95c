// Package h1 is muxgate's front end: it accepts HTTP/1.x connections, in clear text or over TLS,
// reads their requests with a strict RFC 9112 parser of its own, and serves them with any
// http.Handler, over persistent connections with timeouts and limits.
//
// A handler may change its request's Header map: h1 takes what it needs of the head (framing,
// Connection, Expect) before the handler starts and reads nothing of the map after that. A proxy
// can then send the map on instead of copying it.
//
// A handler must not use its ResponseWriter or its Request (the struct, its URL or its listed
// fields) once it has returned, as net/http says too: h1 reuses their memory for a later request.
// The request's context and Header map stay valid for whoever kept them.
//
// It imports only the standard library and zerolog.
package h1

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Server serves HTTP/1.x on any number of listeners. It owns every goroutine it starts and waits
// for them in Shutdown and Close: one per connection that is not parked (a goroutine that served
// one serves the next, see servers.go), one that waits for the parked ones (park_linux.go), one
// that sets the coarse clock (see clock.go) and
// sweeps the connections every watchTick, one per long request that watches for the client going
// away (see watch.go), and one per pipelined request handled concurrently (see pipeline.go).
// It makes no tunnels: a CONNECT request is answered 501 and its connection closed before any
// handler sees it.
type Server struct {
	cfg     Config // filled in by New; read-only
	lim     limits // from cfg
	handler http.Handler
	log     zerolog.Logger
	ctx     context.Context // parent of every connection's context

	// slots holds one token per open connection: an accept loop sends before it accepts, a
	// connection receives when it ends. It is never closed.
	slots chan struct{}
	// done is closed by beginShutdown; it stops accept loops waiting for a slot or a back-off.
	done chan struct{}
	// closing is set, under mu, once Shutdown or Close has begun; read anywhere.
	closing atomic.Bool
	// idleClosing is set, under mu, once Shutdown closes idle connections (closeIdle), after
	// DrainGrace; read anywhere.
	idleClosing atomic.Bool

	// Lock order: Server.mu before nothing else of this package.
	mu        sync.Mutex
	watching  bool                       // guarded by mu: the watch goroutine has started
	listeners map[*net.Listener]struct{} // guarded by mu
	conns     map[*conn]struct{}         // guarded by mu
	perIP     map[netip.Addr]int         // guarded by mu: connections served per client address, with MaxConnsPerIP
	rates     *rateTable                 // the pace of each client address, with RequestRatePerIP; nil without
	h2        *h2Front                   // the HTTP/2 server, with Config.HTTP2; nil without
	lot       *parkingLot                // guarded by mu: the parked idle connections, from the first park; nil before
	lotFailed bool                       // guarded by mu: the lot could not be made: connections do not park

	idle idleServers // the goroutines waiting for a connection to serve (servers.go)

	// hook, set by tests before the Server serves, hears of connections about to park
	// ("parking"), parked ("parked") and dropped ("dropped"), and of a goroutine that waits
	// for a connection to serve ("waiting").
	hook func(event string)
	// wg counts accept loops and connection goroutines; Add is only called under mu, while
	// closing is unset or by an accept loop, whose own count keeps wg above zero, so that no
	// Add races with Wait.
	wg sync.WaitGroup
	// aborted is set, under mu, once Close or Shutdown's deadline has closed every connection:
	// a connection accepted since is closed too.
	aborted bool

	open       atomic.Int64     // connections open
	accepted   atomic.Uint64    // connections accepted since New
	tlsFails   atomic.Uint64    // TLS connections that failed their handshake or negotiated another protocol
	tlsFull    [4]atomic.Uint64 // full TLS handshakes completed, by version: [i] is TLS 1.i
	tlsResumed [4]atomic.Uint64 // TLS handshakes completed that resumed a session, by version
	proxyFails atomic.Uint64    // connections closed for want of a valid PROXY header
	active     atomic.Int64     // requests whose handler is running or whose response is being written
	requests   atomic.Uint64    // requests handled since New
	clock      clock            // read anywhere; set by the watch goroutine

	watchTicks atomic.Uint64 // watchTick periods since the watch goroutine started, from 1
	sweepList  []*conn       // the watch goroutine's own: the connections of one sweep
}

// State is a snapshot of a Server's load.
type State struct {
	Conns    int    // client connections open
	Accepted uint64 // client connections accepted since New
	// TLSFailures counts TLS connections closed before a request: a failed or timed-out
	// handshake, or ALPN that chose a protocol other than HTTP/1.x.
	TLSFailures uint64
	// TLSHandshakes counts the TLS handshakes completed, by protocol version: [i] is TLS 1.i.
	TLSHandshakes [4]TLSCount
	// ProxyFailures counts connections closed because they did not begin with a valid PROXY
	// header within HeaderTimeout (ServeProxyProtocol).
	ProxyFailures uint64
	Active        int    // requests whose handler runs or whose response is being finished
	Requests      uint64 // requests handed to the handler since New (refused requests are not counted)
}

// New returns a Server for h, with cfg's zero values filled in and its limits clamped (see
// Config). A nil h answers every request with 404.
func New(cfg Config, h http.Handler) *Server {
	cfg = cfg.withDefaults()
	if h == nil {
		h = http.NotFoundHandler()
	}
	s := &Server{
		cfg:       cfg,
		lim:       cfg.limits(),
		handler:   h,
		log:       cfg.Logger,
		ctx:       context.Background(),
		slots:     make(chan struct{}, cfg.MaxConns),
		done:      make(chan struct{}),
		listeners: make(map[*net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[netip.Addr]int),
	}
	if cfg.RequestRatePerIP > 0 {
		s.rates = newRateTable(cfg.RequestRatePerIP, cfg.RequestBurstPerIP)
	}
	if cfg.HTTP2 {
		s.h2 = newH2Front(cfg)
	}
	return s
}

// Serve accepts connections on ln and serves each on its own goroutine until Shutdown or Close;
// then it returns http.ErrServerClosed. It may be called for several listeners at once, all
// sharing MaxConns: before each Accept it takes a connection slot, so at the cap it stops
// accepting until a connection closes. Temporary Accept errors (out of file descriptors and the
// like) are retried after a growing pause; another error is returned. Serve closes ln on return.
//
// A listener from tls.NewListener yields *tls.Conn: each is handshaken within HeaderTimeout, and
// its requests carry the connection state in Request.TLS.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, false)
}

// ServeProxyProtocol is Serve for a listener whose connections each begin with a PROXY protocol
// header, version 1 or 2 (HAProxy's send-proxy and send-proxy-v2, and what network load
// balancers send), before the TLS handshake or the first request, within HeaderTimeout of the
// accept. The client's address (Request.RemoteAddr, and the one MaxConnsPerIP counts) is the
// header's source; a header that names none (version 1 UNKNOWN, version 2 LOCAL: a balancer's
// own check) leaves the socket's peer. A connection without a valid header is closed without an
// answer. The header is taken on trust: ln must be one that nothing but the balancer can reach.
func (s *Server) ServeProxyProtocol(ln net.Listener) error {
	return s.serve(ln, true)
}

// serve is Serve, for connections that begin with a PROXY header if proxied.
func (s *Server) serve(ln net.Listener, proxied bool) error {
	defer ln.Close()
	if !s.addListener(&ln) {
		return http.ErrServerClosed
	}
	defer s.dropListener(&ln)
	var pause time.Duration
	for {
		if !s.takeSlot() {
			return http.ErrServerClosed
		}
		rwc, err := ln.Accept()
		if err != nil {
			<-s.slots
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if !temporary(err) {
				return fmt.Errorf("h1: accept on %s: %w", ln.Addr(), err)
			}
			pause = min(max(2*pause, minAcceptBackoff), maxAcceptBackoff)
			s.log.Warn().Err(err).Dur("pause_ms", pause).Msg("h1: accept failed, retrying")
			if !s.pause(pause) {
				return http.ErrServerClosed
			}
			continue
		}
		pause = 0
		c := newConn(s, rwc)
		c.proxied = proxied
		if !s.addConn(c) {
			rwc.Close()
			<-s.slots
			return http.ErrServerClosed
		}
		s.start(c)
	}
}

// takeSlot waits for a connection slot, and reports false instead if shutdown begins first. A
// free slot is taken without the select, which costs a new connection some 600 instructions.
func (s *Server) takeSlot() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.done:
		return false
	}
}

// StopAccepting is Shutdown's first step alone: the server stops accepting, and each response
// whose head is written from now on is the last of its connection (Connection: close). Shutdown
// does the rest.
func (s *Server) StopAccepting() { s.beginShutdown() }

// Shutdown stops the server gracefully: it stops accepting, closes idle connections at once, and
// lets busy ones finish their current response, which carries Connection: close, before they
// close. It returns once every connection has closed, or, when ctx is done first, closes them
// all (as Close) and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	if s.h2 != nil {
		// GOAWAY on each HTTP/2 connection (RFC 9113 6.8): its streams finish, then it closes.
		s.h2.base.Shutdown(ctx)
	}
	if grace := s.cfg.DrainGrace; grace > 0 {
		t := time.AfterFunc(grace, s.closeIdle)
		defer t.Stop()
	} else {
		s.closeIdle()
	}

	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.closeLot()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.abortConns()
		<-finished
		return ctx.Err()
	}
}

// closeIdle closes the kept-alive connections that wait for their next request, once Shutdown's
// DrainGrace is over; those that become idle later close at once (conn.awaitRequest).
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idleClosing.Store(true)
	for c := range s.conns {
		c.closeIfIdle()
	}
}

// Close stops the server at once: it stops accepting, closes every connection, cancels the
// contexts of the requests in flight, and waits for their handlers to return. It must not be
// called from a handler, which it would wait for.
func (s *Server) Close() error {
	s.beginShutdown()
	s.abortConns()
	s.wg.Wait()
	s.closeLot()
	return nil
}

// closeLot stops the parking lot, once no connection is left to park.
func (s *Server) closeLot() {
	s.mu.Lock()
	lot := s.lot
	s.mu.Unlock()
	lot.close()
}

// TLSCount counts the TLS handshakes of one protocol version.
type TLSCount struct {
	Full    uint64 // full handshakes
	Resumed uint64 // handshakes that resumed an earlier session instead (RFC 8446 2.2)
}

// State returns the server's current load.
func (s *Server) State() State {
	st := State{
		Conns:         int(s.open.Load()),
		Accepted:      s.accepted.Load(),
		TLSFailures:   s.tlsFails.Load(),
		ProxyFailures: s.proxyFails.Load(),
		Active:        int(s.active.Load()),
		Requests:      s.requests.Load(),
	}
	for i := range st.TLSHandshakes {
		st.TLSHandshakes[i] = TLSCount{Full: s.tlsFull[i].Load(), Resumed: s.tlsResumed[i].Load()}
	}
	return st
}

// beginShutdown stops the accept loops: no listener or connection is added after it.
func (s *Server) beginShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return
	}
	s.closing.Store(true)
	close(s.done)
	s.idle.close()
	for ln := range s.listeners {
		(*ln).Close()
	}
}

func (s *Server) abortConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	for c := range s.conns {
		c.abort()
	}
}

func (s *Server) addListener(ln *net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	if !s.watching {
		s.watching = true
		s.wg.Add(1)
		go s.watchLoop()
	}
	return true
}

func (s *Server) dropListener(ln *net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	s.wg.Done()
}

// addConn counts c, which an accept loop took, as open, unless the server has closed its
// connections (aborted). One taken while Shutdown begins is served: it is new, and its first
// request gets an answer with Connection: close (see closeIfIdle), where closing it would
// reset a client that has sent that request. The listener's socket may be another process's
// from then on (an upgrade), with the connections queued behind this one.
func (s *Server) addConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return false
	}
	if !c.proxied {
		// A proxied connection's address comes with its header (conn.readProxy).
		ip := clientIP(c.rwc)
		s.countIPLocked(c, ip)
		s.paceIP(c, ip)
	}
	s.conns[c] = struct{}{}
	s.open.Add(1)
	s.accepted.Add(1)
	s.wg.Add(1)
	return true
}

// countIP counts c against MaxConnsPerIP as a connection from ip, or marks it refused (conn.ip,
// conn.refused) if ip is at the limit.
func (s *Server) countIP(c *conn, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countIPLocked(c, ip)
}

// countIPLocked is countIP with s.mu held.
func (s *Server) countIPLocked(c *conn, ip netip.Addr) {
	if s.cfg.MaxConnsPerIP <= 0 || !ip.IsValid() {
		return
	}
	if s.perIP[ip] >= s.cfg.MaxConnsPerIP {
		// Refused by its serve goroutine, which still holds a slot until it is done.
		c.refused = true
		return
	}
	c.ip = ip
	s.perIP[ip]++
}

// paceIP paces c's requests as those of ip, with RequestRatePerIP.
func (s *Server) paceIP(c *conn, ip netip.Addr) {
	if s.rates != nil && ip.IsValid() {
		c.rate = s.rates.attach(ip)
	}
}

// clientIP is the address a connection comes from, or the zero Addr if it is not an IP one.
func clientIP(rwc net.Conn) netip.Addr {
	if a, ok := rwc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// dropConn forgets a closed connection and frees its slot.
func (s *Server) dropConn(c *conn) {
	c.state.Store(stateClosed)
	s.mu.Lock()
	delete(s.conns, c)
	if c.ip.IsValid() {
		if n := s.perIP[c.ip] - 1; n > 0 {
			s.perIP[c.ip] = n
		} else {
			delete(s.perIP, c.ip)
		}
	}
	s.mu.Unlock()
	if c.rate != nil {
		s.rates.detach(c.rate)
	}
	s.open.Add(-1)
	<-s.slots
	if s.hook != nil {
		s.hook("dropped")
	}
	s.wg.Done()
}

// pause waits for d, or until shutdown begins, and reports whether the server is still running.
func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// temporary reports whether an Accept error is worth retrying: the process or the system is out
// of descriptors or memory, or a connection died in the accept queue.
func temporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS,
		syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
