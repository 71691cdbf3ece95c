package h1

import (
	"context"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"
)

// With Config.HTTP2, a TLS client that chooses h2 by ALPN (its listener's tls.Config must offer
// it) is served HTTP/2 by x/net's server (RFC 9113) on its connection, with the same handler:
// modern clients on a port that old ones use too. Such a connection counts as any other against
// MaxConns and MaxConnsPerIP, its requests against RequestRatePerIP; a drain sends it GOAWAY and
// waits for its streams. HTTP/1.x's own machinery (pipelining, parking, the watch) is not used:
// HTTP/2 multiplexes, and x/net's server keeps its own timeouts (IdleTimeout, WriteTimeout as a
// write's) and limits (MaxHeaderBytes, as SETTINGS_MAX_HEADER_LIST_SIZE). HeaderTimeout,
// BodyReadTimeout, MinBodyRate, MaxHeaderCount and MaxRequestsPerConn do not apply. CONNECT is
// refused with 501 as over HTTP/1.x; an extended CONNECT (RFC 8441, a WebSocket; x/net's server
// takes it where GODEBUG has http2xconnect=1) goes to the handler, with :protocol among its fields.

// h2Front is the HTTP/2 server of a Server with Config.HTTP2.
type h2Front struct {
	srv  *http2.Server
	base *http.Server // configured for srv: its Shutdown sends every connection GOAWAY
}

func newH2Front(cfg Config) *h2Front {
	f := &h2Front{
		srv: &http2.Server{
			MaxConcurrentStreams: h2MaxStreams,
			IdleTimeout:          cfg.IdleTimeout,
			WriteByteTimeout:     cfg.WriteTimeout, // a client that takes nothing is cut off, as over HTTP/1.x
		},
		base: &http.Server{MaxHeaderBytes: cfg.MaxHeaderBytes, ErrorLog: clientErrorLog(cfg.Logger)},
	}
	// It registers each connection with base, for base's Shutdown; it fails only for a
	// TLSConfig of base's, which has none.
	_ = http2.ConfigureServer(f.base, f.srv)
	return f
}

// clientErrorLog is the log.Logger that x/net's server reports a client's connection errors to
// (a protocol error, a bad preface): each line goes to l at debug level, as h1 logs a client's
// faults, rather than unstructured to the process's stderr, which is what x/net does without one.
func clientErrorLog(l zerolog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

// logWriter writes each line it is given to a zerolog.Logger at debug level.
type logWriter struct{ l zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Debug().Str("error", strings.TrimSpace(string(p))).Msg("h1: HTTP/2 client connection")
	return len(p), nil
}

// h2MaxStreams is the concurrent streams each HTTP/2 client may open.
const h2MaxStreams = 100

// serveH2 serves c, whose client chose h2, until it closes; the connection is busy meanwhile,
// so that a drain waits for it rather than close it as an idle one.
func (c *conn) serveH2() {
	c.state.Store(stateActive)
	// The handshake's deadline (HeaderTimeout from the accept) is HTTP/1.x's: x/net's server
	// reads without one, and would find the connection failed once it passed.
	c.rwc.SetReadDeadline(time.Time{})
	c.s.h2.srv.ServeConn(c.rwc, &http2.ServeConnOpts{
		Context:    context.Background(),
		BaseConfig: c.s.h2.base,
		Handler:    h2Handler{c},
	})
}

// h2Handler is the handler of one HTTP/2 connection: the Server's, with the checks h1 makes of
// each request itself.
type h2Handler struct{ c *conn }

func (h h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	s := c.s
	switch {
	case r.Method == http.MethodConnect && r.Header.Get(":protocol") == "":
		// A CONNECT for a tunnel, as over HTTP/1.x; an extended CONNECT (RFC 8441: a
		// WebSocket) goes to the handler.
		h2Refuse(w, errConnect, "")
		c.reportRefusal(errConnect, &head{method: r.Method, target: r.RequestURI, proto: r.Proto})
		return
	case c.rate != nil && !s.rates.take(c.rate, s.rates.now()):
		h2Refuse(w, errTooManyRequests, strconv.FormatInt(retryAfter(s.rates.wait(c.rate, s.rates.now())), 10))
		c.reportRefusal(errTooManyRequests, &head{method: r.Method, target: r.RequestURI, proto: r.Proto})
		return
	}
	s.requests.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	if r.Method == http.MethodConnect {
		var end func()
		w, r, end = watchTunnel(w, r, &s.clock, s.cfg.TunnelIdleTimeout)
		defer end()
	}
	s.handler.ServeHTTP(w, r)
}

// h2Refuse answers an HTTP/2 request h1 refuses itself, as writeErrorReply does over HTTP/1.x but
// for the connection, which stays.
func h2Refuse(w http.ResponseWriter, e *statusError, retry string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if retry != "" {
		h.Set("Retry-After", retry)
	}
	w.WriteHeader(e.code)
	w.Write([]byte(e.reason + "\n"))
}

// An extended CONNECT (a WebSocket over HTTP/2) is a tunnel as a switched HTTP/1.1 connection
// is: one on which no byte went either way for TunnelIdleTimeout has its request's context
// cancelled with ErrTunnelIdle, which ends both streams.

// watchTunnel has r, an extended CONNECT, and w watched by an idleWatch of idle, and returns them
// with the function that ends the watch.
func watchTunnel(w http.ResponseWriter, r *http.Request, k *clock, idle time.Duration) (http.ResponseWriter, *http.Request, func()) {
	ctx, cancel := context.WithCancelCause(r.Context())
	watch := newIdleWatch(k, idle, func() { cancel(ErrTunnelIdle) })
	r = r.WithContext(ctx)
	r.Body = touchingBody{r.Body, watch}
	return touchingWriter{w, watch}, r, func() {
		watch.stop()
		cancel(nil)
	}
}

// touchingBody is a request body whose reads touch a watch.
type touchingBody struct {
	io.ReadCloser
	watch *idleWatch
}

func (b touchingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.watch.touch()
	}
	return n, err
}

// touchingWriter is a ResponseWriter whose writes touch a watch; it flushes as its own does.
type touchingWriter struct {
	http.ResponseWriter
	watch *idleWatch
}

func (w touchingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if n > 0 {
		w.watch.touch()
	}
	return n, err
}

func (w touchingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
