// Package gateway is muxgate's request path: it takes the HTTP/1.x requests that h1 parses,
// rewrites them for the upstream, sends them over a pool of multiplexed sessions, and streams
// the answers back. It owns the header rules, the mapping of errors to statuses, the access log
// and the order of start-up and drain.
package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"muxgate/h1"
)

// Listener is one address the gateway accepts clients on.
type Listener struct {
	Addr string      // host:port; port 0 picks a free one (see Gateway.Addrs)
	TLS  *tls.Config // nil: clear text; else TLS is terminated with this configuration

	// ProxyProtocol: each connection begins with a PROXY protocol header from a TCP load
	// balancer, which names the client (h1.Server.ServeProxyProtocol). False: none is expected.
	ProxyProtocol bool
}

// PoolConfig sizes the upstream pool, whatever its protocol.
type PoolConfig struct {
	MaxSessions          int           // sessions per upstream at most; 0: 4
	MinSessions          int           // sessions per upstream kept once a request came, one per address of its name where it has several (pool.Limits.MinSessions); 0: none
	MaxStreamsPerSession int           // local cap on concurrent streams per session; 0: the peer's limit only (HTTP/2), 100 (HTTP/3)
	QueueLength          int           // requests waiting for a stream at most; 0: 1024
	QueueTimeout         time.Duration // longest wait for a stream; 0: 5s
	StreamWindow         int32         // receive window per stream, bytes; 0: 256 KiB
	ConnWindow           int32         // receive window per session, bytes; 0: 16 MiB
	MaxFrameSize         int32         // HTTP/2: largest frame payload the upstream may send; 0: 64 KiB
	DialTimeout          time.Duration // connect and handshake; 0: 5s
	PingInterval         time.Duration // PING a session silent this long; 0: 30s
	PingTimeout          time.Duration // drop a session whose PING is unanswered this long, and PING one with requests in flight silent this long (HTTP/2, own engine); 0: 5s
	MaxSessionAge        time.Duration // retire a session about this long after its dial (pool.Limits.MaxSessionAge); 0: never
	SessionIdleTimeout   time.Duration // close a session the pool has not needed this long (pool.Limits.SessionIdleTimeout); 0: never
	BodyIdleTimeout      time.Duration // reset a stream whose response body was awaited this long in vain; 0: no limit

	// RetryBuffer is how many bytes of each request body are kept while the request is in
	// flight, so that a request the upstream provably did not process (a refused stream, or
	// one above a GOAWAY's last stream ID: RFC 9113 8.7) can be sent again on another session
	// although its body was read. 0: none, and such a request is retried only if none of its
	// body was read yet.
	RetryBuffer int

	// H2Engine picks the HTTP/2 session: "" or "own" for muxgate's own, "x/net" for
	// golang.org/x/net/http2's ClientConn, kept as the reference to compare against.
	H2Engine string
	// QUICIdleTimeout is QUIC's max_idle_timeout for HTTP/3 sessions: one that received nothing
	// this long is closed (PingInterval is QUIC's keep-alive period). 0: 30s.
	QUICIdleTimeout time.Duration
}

// Config is everything a Gateway needs. New fills defaults; the zero value of each field is
// documented beside it.
type Config struct {
	Logger    zerolog.Logger // process log; zero value: silent
	AccessLog zerolog.Logger // one line per request; zero value: no access log

	Listeners []Listener // at least one
	Front     h1.Config  // client-side timeouts and limits

	// Upstream is where requests go: h2c://host:port (HTTP/2 in clear text, prior knowledge),
	// https://host:port (HTTP/2 over TLS, ALPN h2; port 443 when omitted), h3://host:port
	// (HTTP/3 over QUIC, ALPN h3; port 443 when omitted), or h3+h2://host:port (HTTP/3, falling
	// back to HTTP/2 over TLS to the same host and port while QUIC cannot connect or keeps
	// failing). A URL may be followed by ;weight=N (1 to 256): its share of the requests against
	// the other upstreams of its route (Upstreams, Route.Upstreams), 1 unless given; and by
	// ;health=/path, where its health checks go in place of HealthCheck.Path.
	Upstream string
	// Upstreams, if set, are more upstreams besides Upstream, whose requests' :scheme is
	// Upstream's (http for h2c, https for the others): each gets a pool of its own, and the
	// requests are spread over them all (balancer.go). At most 64 in all, none twice.
	Upstreams []string
	// Routes send the requests that match their patterns to upstreams of their own (see
	// Route); the others go to Upstream and Upstreams. Routes that name one upstream share its
	// pool; a pattern is in one Route. At most 256. Nil: every request goes to Upstream and
	// Upstreams.
	Routes []Route
	// HealthCheck, with several upstreams, has each asked for a path now and then; one that
	// fails its checks is passed over as an unreachable one is (health.go). Zero: no checks.
	HealthCheck HealthCheck

	// Eject, with several upstreams, takes one that failed requests in a row out for a while
	// (see Ejection). Zero: none is.
	Eject       Ejection
	UpstreamTLS *tls.Config // for https, h3, h3+h2: roots, server name, verification; nil: system roots

	// Lookup finds the IP addresses of an upstream's host name at each dial, for a resolver of
	// one's own. Nil: the system's.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	Pool   PoolConfig

	// UpstreamTimeout bounds the wait for the upstream's response head; 0: 30s.
	UpstreamTimeout time.Duration

	// BodyHold is how long the bytes of a response body that an HTTP/3 or x/net session gave
	// the gateway may wait for more, while more is awaited, before they are written to the
	// client; a response's head waits ten times as long for its body's first bytes, through
	// any session. A body's last bytes never wait, nor anything of an event stream (see
	// copyBody). 0: none, each piece, and the head, is written as it comes.
	BodyHold time.Duration

	NoForwardedFor   bool // zero: X-Forwarded-For gets the client's address appended
	NoForwardedProto bool // zero: X-Forwarded-Proto is set to http or https
	NoVia            bool // zero: Via is appended to requests and responses (RFC 9110 7.6.3)
	Forwarded        bool // Forwarded (RFC 7239) gets an element for=client;host=Host;proto=scheme appended; zero: not

	// RequestIDHeader, if set, names a field that every request goes upstream with, set to a
	// fresh ID (32 hexadecimal digits) in place of any value the client sent, and that the
	// access log gives as request_id (requestid.go). Empty: none.
	RequestIDHeader string

	// SetRequestFields are set on every request sent upstream, and SetResponseFields on every
	// response relayed from the upstream and every answer the gateway makes itself (a 502, a
	// redirect; not h1's refusals), each in place of the fields of its name (see Field), after
	// the gateway's own. Nil: none.
	SetRequestFields, SetResponseFields []Field

	// RedirectHTTPS, if not 0, is the port of an HTTPS listener that requests on the clear-text
	// listeners are sent to: each gets 308 Permanent Redirect to its target over HTTPS on that
	// port, and goes nowhere else, but for ACME's http-01 challenges
	// (/.well-known/acme-challenge/), which go upstream. 0: clear-text requests are served.
	RedirectHTTPS int

	// ClientCertFields sends the certificate each client showed its TLS listener upstream in
	// the fields of RFC 9440 (Client-Cert, Client-Cert-Chain), and drops the fields of those
	// names that clients send. For listeners that verify client certificates (certs.ClientAuth).
	ClientCertFields bool

	// ShutdownTimeout bounds the drain after the serve context ends; 0: 30s.
	ShutdownTimeout time.Duration

	// MetricsAddr, if set, is a host:port where Serve answers GET /metrics with the gateway's
	// metrics in Prometheus's text format, and GET /healthz with 200 "ok" (503 "draining" once
	// it drains); it serves until Serve returns. Empty: no metrics listener, and requests are
	// counted for no one.
	MetricsAddr string

	// Listen, if set, gives the listening socket for each address before New binds it: the
	// client listeners' with role RoleClient, the metrics listener's with RoleMetrics. It
	// returns nil and no error for an address it has no socket for, which New then binds. A
	// process that takes over another's sockets (cmd's SIGUSR2 upgrade) hands them over this
	// way, so that the port never closes. Nil: every address is bound.
	Listen func(role, addr string) (net.Listener, error)
}

// The roles of a gateway's listening sockets (Config.Listen, Gateway.Sockets).
const (
	RoleClient  = "client"  // a client listener (Config.Listeners), before TLS
	RoleMetrics = "metrics" // the metrics listener (Config.MetricsAddr)
)

// upstreams is Upstream and Upstreams, in order.
func (c *Config) upstreams() []string {
	return append([]string{c.Upstream}, c.Upstreams...)
}

func (c *Config) setDefaults() {
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = 30 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
}
