package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"muxgate/h1"
)

// ErrConfig is wrapped by the errors New returns for a Config that cannot work, as opposed to
// a failure of the machine (a port in use).
var ErrConfig = errors.New("gateway: bad configuration")

// Gateway is a running muxgate: listeners, the h1 front end and the upstream pool.
type Gateway struct {
	cfg       Config
	log       zerolog.Logger
	routes    *router
	front     *h1.Server
	listeners []net.Listener // what h1 serves: sockets' listeners, TLS ones wrapped
	sockets   []Socket       // the listening sockets, the metrics listener's last
	draining  atomic.Bool
	handed    atomic.Bool  // HandedOver: another process serves on the sockets
	metrics   *metrics     // nil without Config.MetricsAddr
	longLived longLived    // the proxy's WebSockets and event streams, which the drain ends
	admin     *adminServer // the metrics listener; nil without Config.MetricsAddr
}

// New checks cfg, builds the pool and the front end, and binds every listener, so that a busy
// port or a bad upstream URL is reported before anything is served.
func New(cfg Config) (*Gateway, error) {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	routes, err := newRouter(&cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, routes: routes}
	if cfg.MetricsAddr != "" {
		g.metrics = newMetrics()
	}
	p := g.newProxy()
	front := cfg.Front
	front.Logger = cfg.Logger
	front.ListFields = true // the proxy takes the request's fields as a list (outboundList)
	if p.timed && front.OnRefusal == nil {
		front.OnRefusal = p.refused // h1's own answers are logged and counted too
	}
	g.front = h1.New(front, p)
	if err := g.listen(); err != nil {
		routes.shutdown(context.Background())
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		g.admin = newAdminServer(g.sockets[len(g.sockets)-1].Listener, g)
	}
	return g, nil
}

// check is what New refuses in cfg before it builds anything.
func (cfg *Config) check() error {
	if len(cfg.Listeners) == 0 {
		return fmt.Errorf("%w: no listener", ErrConfig)
	}
	if cfg.RequestIDHeader != "" {
		if err := checkRequestIDHeader(cfg.RequestIDHeader); err != nil {
			return err
		}
	}
	for _, f := range slices.Concat(cfg.SetRequestFields, cfg.SetResponseFields) {
		if err := f.check(); err != nil {
			return fmt.Errorf("%w: set field %q: %w", ErrConfig, f.Name+": "+f.Value, err)
		}
	}
	return nil
}

// Check reports what New would refuse in cfg, without binding a port, dialing an upstream or
// starting anything, for an operator to test a configuration before it is used (muxgate
// -check, as nginx -t and haproxy -c). A listening address must be one a bind could take; that
// its port is free, only a bind tells.
func Check(cfg Config) error {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	addrs := []string{}
	for _, l := range cfg.Listeners {
		addrs = append(addrs, l.Addr)
	}
	if cfg.MetricsAddr != "" {
		addrs = append(addrs, cfg.MetricsAddr)
	}
	for _, a := range addrs {
		if _, err := net.ResolveTCPAddr("tcp", a); err != nil {
			return fmt.Errorf("%w: listen %s: %w", ErrConfig, a, err)
		}
	}
	if cfg.HealthCheck.Path != "" {
		if _, err := checkPath(cfg.HealthCheck.Path); err != nil {
			return err
		}
	}
	cfg.HealthCheck.off = true // no checker is started, for an upstream's own path neither
	routes, err := newRouter(&cfg)
	if err != nil {
		return err
	}
	return routes.shutdown(context.Background()) // nothing was dialed: it returns at once
}

// newProxy makes the request handler for g's configuration and routes.
func (g *Gateway) newProxy() *proxy {
	cfg := &g.cfg
	return &proxy{
		routes: g.routes,
		forward: forwarding{
			forwardedFor:   !cfg.NoForwardedFor,
			forwardedProto: !cfg.NoForwardedProto,
			via:            !cfg.NoVia,
			forwarded:      cfg.Forwarded,
			requestID:      textproto.CanonicalMIMEHeaderKey(cfg.RequestIDHeader),
			requestIDLower: strings.ToLower(cfg.RequestIDHeader),
		},
		setReq:       newFieldSet(cfg.SetRequestFields),
		setResp:      newFieldSet(cfg.SetResponseFields),
		redirectPort: cfg.RedirectHTTPS,
		clientCert:   cfg.ClientCertFields,
		longLived:    &g.longLived,
		log:          cfg.Logger,
		access:       cfg.AccessLog,
		metrics:      g.metrics,
		timed:        logs(cfg.AccessLog) || g.metrics != nil,
		draining:     g.draining.Load,
		hold:         cfg.BodyHold,
	}
}

// Requests returns how many requests the gateway has taken from its clients since it started:
// a measure of its work, which the processor governor weighs against its CPU time.
func (g *Gateway) Requests() uint64 { return g.front.State().Requests }

// MetricsAddr returns the bound address of the metrics listener, or nil without
// Config.MetricsAddr.
func (g *Gateway) MetricsAddr() net.Addr {
	if g.admin == nil {
		return nil
	}
	return g.admin.addr()
}

// Addrs returns the bound address of each listener, in the order of Config.Listeners.
func (g *Gateway) Addrs() []net.Addr {
	addrs := make([]net.Addr, len(g.listeners))
	for i, ln := range g.listeners {
		addrs[i] = ln.Addr()
	}
	return addrs
}

// Serve serves until ctx ends or a listener fails, then drains: it stops accepting, lets
// in-flight requests finish (their responses carry Connection: close), sends GOAWAY upstream,
// and returns within ShutdownTimeout. It returns nil after a drain that ctx asked for.
func (g *Gateway) Serve(ctx context.Context) error {
	errc := make(chan error, len(g.listeners))
	var wg sync.WaitGroup
	for i, ln := range g.listeners {
		l := g.cfg.Listeners[i]
		g.log.Info().Str("listen", ln.Addr().String()).Bool("tls", l.TLS != nil).Bool("proxy_protocol", l.ProxyProtocol).
			Str("upstream", strings.Join(g.routes.names(), " ")).Msg("serving")
		serve := g.front.Serve
		if l.ProxyProtocol {
			serve = g.front.ServeProxyProtocol
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	if g.admin != nil {
		g.log.Info().Str("listen", g.admin.addr().String()).Msg("serving metrics")
		go g.admin.serve()
		defer g.admin.close()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	if g.admin != nil && g.handed.Load() {
		g.admin.close() // the process that took over answers there, /healthz with 200
	}
	err := g.drain()
	wg.Wait()
	return errors.Join(serveErr, err)
}

// HandedOver says that another process serves on the gateway's sockets (Sockets) from now on:
// the drain that follows stops answering on the metrics listener at once, where the other
// process's /healthz must be the one a load balancer sees, rather than at its end.
func (g *Gateway) HandedOver() { g.handed.Store(true) }

// drain is the shutdown order: front end first, so no new request reaches the pool, then the
// pool; both within one deadline, after which what remains is closed.
func (g *Gateway) drain() error {
	g.draining.Store(true)
	g.front.StopAccepting() // before the line: what it says holds once it is read
	g.log.Info().Dur("timeout_ms", g.cfg.ShutdownTimeout).Msg("draining")
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
	defer cancel()
	g.longLived.goAway()
	defer g.longLived.wait()
	frontErr := g.front.Shutdown(ctx)
	upErr := g.routes.shutdown(ctx)
	if frontErr != nil || upErr != nil {
		g.front.Close()
		return fmt.Errorf("gateway: drain: %w", errors.Join(frontErr, upErr))
	}
	g.log.Info().Msg("drained")
	return nil
}
