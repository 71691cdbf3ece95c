// Command muxgate is an HTTP/1.1 edge gateway: it keeps clients' persistent HTTP/1.x
// connections and funnels their requests onto a few multiplexed HTTP/2 upstream sessions.
// Run it with -help for the flags, or -demo to try it with an embedded upstream.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/rs/zerolog"

	"muxgate/certs"
	"muxgate/gateway"
	"muxgate/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main without the exit: 0 after a clean drain, 1 on a runtime failure, 2 on bad usage.
func run(args []string) int {
	o, err := parseFlags(args, os.Stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "muxgate: %v (see muxgate -help)\n", err)
		return 2
	}
	if o.showVer {
		fmt.Println(version.Get())
		return 0
	}
	if o.checkOnly {
		return checkOnly(o)
	}
	execForXConnect := addXConnect(o)
	slackErr := applyTimerSlack(o.timerSlack) // first: it may execute the program again
	var xconnectErr error
	if execForXConnect {
		xconnectErr = execAgain() // where setting the slack did not
	}
	log := newLogger(o)
	if slackErr != nil {
		log.Warn().Err(slackErr).Msg("timer slack not set")
	}
	if xconnectErr != nil {
		log.Warn().Err(xconnectErr).Msg("WebSockets over HTTP/2 are not taken (GODEBUG http2xconnect=1 not applied)")
	}
	setGCPercent(o)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	usr2 := notifyUpgrade() // early: by default the signal ends the process
	manager := newNotifier(log)
	defer manager.stoppingWith(ctx)()

	cfg, b, err := buildConfig(o, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "muxgate: %v\n", err)
		return 2
	}
	defer b.cleanup()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "muxgate: %v\n", err)
		return 2
	}
	defer func() {
		if err := stopProfile(); err != nil {
			log.Error().Err(err).Msg("CPU profile not written whole")
		}
	}()
	warnUnused(o, log) // once the flags are known to be good: a bad one gets its one line alone
	warnFileLimit(o, fileLimit(), log)
	cfg.Logger = log
	g, err := startGateway(o, cfg, b.tickets, manager, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "muxgate: %v\n", err)
		if errors.Is(err, gateway.ErrConfig) {
			return 2
		}
		return 1
	}
	// Once the configuration is known to be good: a bad one gets its one line on stderr alone.
	v := version.Get()
	log.Info().Str("version", v.Version).Str("revision", v.Revision).Str("go", v.Go).Msg("starting")
	if o.pidFile != "" {
		defer removePIDFile(o.pidFile)
	}
	if o.demo {
		printTry(os.Stderr, g.Addrs()[0].String(), cfg.Upstream)
	}
	ctx, drain := context.WithCancel(ctx)
	defer drain()
	defer upgradeOn(usr2, g, b.tickets, drain, log)()
	// The trimmer, the governor and the ticket key rotation run until Serve returns, and are
	// waited for.
	var tuners sync.WaitGroup
	tctx, stopTuners := context.WithCancel(ctx)
	defer tuners.Wait()
	defer stopTuners()
	if o.idleGC > 0 {
		tuners.Go(func() { newTrimmer(o.idleGC, log).run(tctx) })
	}
	if o.procsWait > 0 {
		tuners.Go(func() { newGovernor(governPeriod, o.procsWait, g.Requests, log).run(tctx) })
	}
	if b.tickets != nil && b.tickets.Own() {
		tuners.Go(func() { rotateTickets(tctx, b.tickets, log) })
	}
	if err := g.Serve(ctx); err != nil {
		log.Error().Err(err).Msg("stopped")
		return 1
	}
	return 0
}

// checkOnly is -check: it builds the configuration as run would, has the gateway check it
// without binding or dialing, and says so. 0 if it is good, 2 with the first fault.
func checkOnly(o *options) int {
	cfg, b, err := buildConfig(o, zerolog.Nop())
	defer b.cleanup()
	if err == nil {
		err = gateway.Check(cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "muxgate: %v\n", err)
		return 2
	}
	fmt.Println("muxgate: the configuration is good")
	return 0
}

// startGateway makes the gateway of cfg, on the sockets that an upgrade's old process handed
// over, if it started this one, with the session ticket keys it handed over in tickets (nil
// without TLS listeners); and it writes -pid-file; then it tells the service manager, and that
// old process, whether this one serves.
func startGateway(o *options, cfg gateway.Config, tickets *certs.Tickets, manager *notifier, log zerolog.Logger) (*gateway.Gateway, error) {
	handed := takeOver(log)
	var passed *activated
	if handed != nil {
		cfg.Listen = handed.listen
		handed.takeTickets(tickets)
	} else if passed = takeActivated(log); passed != nil {
		cfg.Listen = passed.listen
	}
	g, err := gateway.New(cfg)
	if passed != nil {
		passed.closeUntaken()
	}
	if err == nil && o.pidFile != "" {
		// Before the old process is told to drain: it removes the file at its exit unless the
		// file names another process.
		err = writePIDFile(o.pidFile)
	}
	if err == nil {
		// Before the old process is told too: the manager must not see the main process
		// exit before it knows of this one.
		manager.serving(handed != nil)
	}
	if handed != nil {
		handed.finish(err == nil)
	}
	return g, err
}

// built is what buildConfig makes besides the gateway's configuration.
type built struct {
	tickets *certs.Tickets // the TLS listeners' session ticket keys; nil without TLS listeners
	cleanup func()         // stops what buildConfig started
}

// buildConfig turns the options into a gateway.Config, starting the demo upstream and loading
// certificates and keys as they ask.
func buildConfig(o *options, log zerolog.Logger) (gateway.Config, built, error) {
	b := built{cleanup: func() {}}
	cfg, err := b.config(o, log)
	return cfg, b, err
}

func (b *built) config(o *options, log zerolog.Logger) (gateway.Config, error) {
	cfg := gateway.Config{
		Front:             o.front,
		Pool:              o.pool,
		Upstream:          o.upstreams.first(),
		Upstreams:         o.upstreams.rest(),
		Routes:            o.routes,
		HealthCheck:       o.health,
		Eject:             o.eject,
		UpstreamTimeout:   o.upTimeout,
		BodyHold:          o.bodyHold,
		NoForwardedFor:    o.noXFF,
		NoForwardedProto:  o.noXFP,
		NoVia:             o.noVia,
		Forwarded:         o.forwarded,
		RequestIDHeader:   o.requestID,
		SetRequestFields:  o.setReq,
		SetResponseFields: o.setResp,
		RedirectHTTPS:     o.redirectPort(),
		ClientCertFields:  o.clientCA != "",
		ShutdownTimeout:   o.shutdown,
		MetricsAddr:       o.metrics,
	}
	access, closer, err := newAccessLog(o.accessLog, o.logFlush, log)
	if err != nil {
		return cfg, err
	}
	cfg.AccessLog = access
	b.cleanup = func() { closer.Close() }
	if o.demo {
		s, url, err := startDemo()
		if err != nil {
			return cfg, err
		}
		cfg.Upstream = url
		b.cleanup = func() { s.Close(); closer.Close() }
	}
	upTLS, upStore, err := upstreamTLS(o)
	if err != nil {
		return cfg, err
	}
	cfg.UpstreamTLS = upTLS
	if b.tickets, err = addListeners(o, &cfg, upStore, log); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// upstreamTLS is the client TLS configuration for an https, h3 or h3+h2 upstream, and the store
// of the certificate it shows the upstream (nil without -upstream-cert), for SIGHUP to reload.
func upstreamTLS(o *options) (*tls.Config, *certs.Store, error) {
	tc := &tls.Config{ServerName: o.upName, InsecureSkipVerify: o.upInsecure}
	if o.upCA != "" {
		var err error
		if tc.RootCAs, err = certs.LoadPoolFile(o.upCA); err != nil {
			return nil, nil, fmt.Errorf("-upstream-ca: %w", err)
		}
	}
	if o.upCert == "" {
		return tc, nil, nil
	}
	store, err := certs.Load(certs.Pair{CertFile: o.upCert, KeyFile: o.upKey})
	if err != nil {
		return nil, nil, fmt.Errorf("-upstream-cert: %w", err)
	}
	tc.GetClientCertificate = store.GetClientCertificate
	return tc, store, nil
}

// addListeners adds the listeners o asks for to cfg, and has SIGHUP reload their certificates
// and upStore's (nil: none). It returns the TLS listeners' session ticket keys, nil without
// TLS listeners.
func addListeners(o *options, cfg *gateway.Config, upStore *certs.Store, log zerolog.Logger) (*certs.Tickets, error) {
	listen := o.listen
	if len(listen) == 0 && len(o.listenPP) == 0 && o.tlsListeners() == 0 {
		listen = listFlag{defaultListen}
	}
	add := func(addrs listFlag, tc *tls.Config, proxied bool) {
		for _, a := range addrs {
			cfg.Listeners = append(cfg.Listeners, gateway.Listener{Addr: a, TLS: tc, ProxyProtocol: proxied})
		}
	}
	add(listen, nil, false)
	add(o.listenPP, nil, true)
	if o.tlsListeners() == 0 {
		reloadOnHUP(log, nil, upStore)
		return nil, nil
	}
	store, err := o.serverTLS()
	if err != nil {
		return nil, err
	}
	tickets, err := certs.NewTickets(o.ticketKeys)
	if err != nil {
		return nil, fmt.Errorf("-tls-ticket-keys: %w", err)
	}
	store.UseTickets(tickets)
	reloadOnHUP(log, tickets, store, upStore)
	add(o.listenTLS, store.ServerConfig(), false)
	add(o.listenTLSP, store.ServerConfig(), true)
	return tickets, nil
}
