package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// adminServer is the metrics listener (Config.MetricsAddr): GET /metrics for Prometheus, GET
// /healthz for a load balancer's check of this process (503 once it drains), GET /readyz for one
// that also wants an upstream reachable (Gateway.ready). It is for operators, not clients: it runs on net/http's
// server, apart from h1 and its limits.
type adminServer struct {
	ln  net.Listener
	srv *http.Server
	log zerolog.Logger
}

// metricsContentType is the text format's media type (Prometheus's exposition format 0.0.4).
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// adminTimeout bounds each admin request: a scrape takes milliseconds.
const adminTimeout = 10 * time.Second

// newAdminServer prepares the handlers for g, to answer on ln.
func newAdminServer(ln net.Listener, g *Gateway) *adminServer {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", metricsContentType)
		writeMetrics(w, g)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if g.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ok, why := g.ready(); !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: adminTimeout, WriteTimeout: adminTimeout, IdleTimeout: time.Minute}
	return &adminServer{ln: ln, srv: srv, log: g.log}
}

func (a *adminServer) addr() net.Addr { return a.ln.Addr() }

// serve answers until close.
func (a *adminServer) serve() {
	if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// The gateway serves on without metrics.
		a.log.Error().Err(err).Msg("metrics listener failed")
	}
}

// close stops the listener and lets a scrape in progress finish, briefly.
func (a *adminServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if a.srv.Shutdown(ctx) != nil {
		a.srv.Close()
	}
}
