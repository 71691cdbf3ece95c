package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"muxgate/certs"
	"muxgate/gateway"
	"muxgate/h1"
)

// options are the parsed command line, before it becomes a gateway.Config.
type options struct {
	demo       bool
	listen     listFlag
	listenTLS  listFlag
	listenPP   listFlag // -listen-proxy
	listenTLSP listFlag // -listen-tls-proxy
	cert, key  listFlag
	ticketKeys string // -tls-ticket-keys
	tlsMin     string // -tls-min-version
	tlsCiphers string // -tls-ciphers
	tlsH2      bool   // -tls-h2
	tlsPolicy  certs.Policy
	clientCA   string // -client-ca
	clientOpt  bool   // -client-cert-optional
	upstreams  listFlag
	routes     routesFlag // -route
	health     gateway.HealthCheck
	eject      gateway.Ejection
	upCA       string
	upName     string
	upInsecure bool
	upCert     string
	upKey      string
	front      h1.Config
	pool       gateway.PoolConfig
	upTimeout  time.Duration
	bodyHold   time.Duration
	noXFF      bool
	noXFP      bool
	noVia      bool
	forwarded  bool // -forwarded
	requestID  string
	setReq     fieldsFlag // -set-request-header
	setResp    fieldsFlag // -set-response-header
	redirect   bool       // -redirect-https
	redirectTo int        // -redirect-https-port
	shutdown   time.Duration
	metrics    string
	idleGC     time.Duration
	procsWait  time.Duration
	timerSlack time.Duration
	gcPercent  int
	gcSet      bool // -gc-percent was given
	logLevel   string
	logFormat  string
	accessLog  string
	logFlush   time.Duration
	pidFile    string
	cpuProfile string // -cpu-profile
	checkOnly  bool   // -check
	showVer    bool   // -version
	flagsFile  string
	streamWin  int
	connWin    int
	maxFrame   int
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// redirectPort is gateway.Config.RedirectHTTPS: -redirect-https-port with -redirect-https, else 0.
func (o *options) redirectPort() int {
	if !o.redirect {
		return 0
	}
	return o.redirectTo
}

// fieldsFlag is a repeatable flag of header fields, "Name: value", checked as each is given.
type fieldsFlag []gateway.Field

func (l *fieldsFlag) String() string {
	s := make([]string, len(*l))
	for i, f := range *l {
		s[i] = f.Name + ": " + f.Value
	}
	return strings.Join(s, ", ")
}

func (l *fieldsFlag) Set(v string) error {
	f, err := gateway.ParseField(v)
	if err != nil {
		return err
	}
	*l = append(*l, f)
	return nil
}

// routesFlag is the repeatable -route pattern=URL: the URLs of one pattern, in order, make one
// route.
type routesFlag []gateway.Route

func (l *routesFlag) String() string {
	var s []string
	for _, r := range *l {
		for _, u := range r.Upstreams {
			s = append(s, r.Pattern+"="+u)
		}
	}
	return strings.Join(s, " ")
}

func (l *routesFlag) Set(v string) error {
	pattern, url, ok := strings.Cut(v, "=")
	if !ok || pattern == "" || url == "" {
		return fmt.Errorf("want pattern=URL (/api/=h2c://10.0.0.7:9000), not %q", v)
	}
	for i := range *l {
		if (*l)[i].Pattern == pattern {
			(*l)[i].Upstreams = append((*l)[i].Upstreams, url)
			return nil
		}
	}
	*l = append(*l, gateway.Route{Pattern: pattern, Upstreams: []string{url}})
	return nil
}

// tlsListeners counts the TLS listeners o asks for.
func (o *options) tlsListeners() int { return len(o.listenTLS) + len(o.listenTLSP) }

// first is the first value given, or "".
func (l listFlag) first() string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// rest is the values after the first.
func (l listFlag) rest() []string {
	if len(l) < 2 {
		return nil
	}
	return l[1:]
}

const defaultListen = "127.0.0.1:8080"

// errHelp asks for the usage text and exit code 0.
var errHelp = flag.ErrHelp

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("muxgate", flag.ContinueOnError)
	fs.BoolVar(&o.demo, "demo", false, "serve with an embedded HTTP/2 demo upstream (h2c, in-process); no -upstream needed")
	fs.Var(&o.listen, "listen", "clear-text HTTP/1.1 listener `host:port`, repeatable (default "+defaultListen+" when no listener is given)")
	fs.Var(&o.listenTLS, "listen-tls", "HTTP/1.1-over-TLS listener `host:port`, repeatable; needs -cert and -key")
	fs.Var(&o.listenPP, "listen-proxy", "clear-text HTTP/1.1 listener `host:port` behind a TCP load balancer: each connection begins with a PROXY protocol header (v1 or v2), which names the client; one without a valid header is closed. Only where nothing but the balancer can reach it. Repeatable")
	fs.Var(&o.listenTLSP, "listen-tls-proxy", "HTTP/1.1-over-TLS listener `host:port` behind a TCP load balancer that passes TLS through: as -listen-proxy, the PROXY header before the TLS handshake. Repeatable; needs -cert and -key")
	fs.Var(&o.cert, "cert", "certificate chain `file` (PEM) for the TLS listeners, repeatable; chosen by SNI, first is the default")
	fs.Var(&o.key, "key", "private key `file` (PEM) for the -cert of the same position")
	fs.StringVar(&o.clientCA, "client-ca", "", "CA certificates `file` (PEM) that the TLS listeners verify client certificates against (mutual TLS): a client without a certificate for client authentication from one of them gets no handshake; the certificate goes upstream in Client-Cert and Client-Cert-Chain (RFC 9440); reloaded on SIGHUP (default: no client certificates)")
	fs.BoolVar(&o.clientOpt, "client-cert-optional", false, "with -client-ca, also serve clients that show no certificate (one that shows one must still pass)")
	fs.BoolVar(&o.tlsH2, "tls-h2", false, "serve HTTP/2 to TLS clients that offer it by ALPN (h2), on the same TLS listeners; the others get HTTP/1.1 as ever")
	fs.StringVar(&o.tlsMin, "tls-min-version", "1.2", "lowest TLS `version` the TLS listeners accept: 1.0, 1.1, 1.2 or 1.3 (1.0 and 1.1 for old clients only: RFC 8996 deprecates them)")
	fs.StringVar(&o.tlsCiphers, "tls-ciphers", "", "comma-separated `list` of the cipher suites the TLS listeners accept for TLS 1.0 to 1.2, by their IANA names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,...), crypto/tls's insecure ones included, for old clients that need the RSA key exchange or 3DES (default: crypto/tls's defaults; TLS 1.3's are not configurable)")
	fs.StringVar(&o.ticketKeys, "tls-ticket-keys", "", "`file` of TLS session ticket keys for the TLS listeners, one a line, 32 random bytes in base64 each (openssl rand -base64 32): the first seals new tickets, all open them; reloaded on SIGHUP; give several processes the same file for their clients to resume on any (default: keys of muxgate's own, a new one each day, handed to the new process of an upgrade)")
	fs.Var(&o.upstreams, "upstream", "upstream `URL`: h2c://host:port (HTTP/2 clear text), https://host:port (HTTP/2 over TLS), h3://host:port (HTTP/3 over QUIC), h3+h2://host:port (HTTP/3, falling back to HTTP/2 over TLS) or unix:/path (HTTP/2 clear text on a Unix domain socket); repeatable: requests are spread over several upstreams of one scheme (h2c, or the others), an unreachable one passed over, each taking a share by its ;weight=N after the URL (1 to 256; 1 unless given), and checked at its ;health=/path if given, in place of -health-check's")
	fs.Var(&o.routes, "route", "`pattern=URL`: send the requests whose host and path match pattern to the upstream at URL (as -upstream's) rather than to -upstream: host/path, /path or host; *.example.com for the names below it; a path that ends in / takes the paths below it; the most specific host wins, then the longest path; repeatable, and the URLs of one pattern are balanced as several -upstream are")
	fs.StringVar(&o.upCA, "upstream-ca", "", "CA certificates `file` (PEM) to verify an https, h3 or h3+h2 upstream (default: system roots)")
	fs.StringVar(&o.upName, "upstream-server-name", "", "TLS server `name` (SNI and verification) for an https, h3 or h3+h2 upstream (default: the URL's host)")
	fs.BoolVar(&o.upInsecure, "upstream-insecure", false, "do not verify the upstream's certificate (tests only)")
	fs.StringVar(&o.upCert, "upstream-cert", "", "certificate chain `file` (PEM) that muxgate shows an https, h3 or h3+h2 upstream that asks for one (mutual TLS); needs -upstream-key; reloaded on SIGHUP")
	fs.StringVar(&o.upKey, "upstream-key", "", "private key `file` (PEM) for -upstream-cert")

	fs.StringVar(&o.health.Path, "health-check", "", "with several -upstream: `path` to GET from each upstream every -health-check-interval; one that answers other than 2xx or 3xx twice in a row gets no requests until it passes twice (default: none)")
	fs.DurationVar(&o.health.Interval, "health-check-interval", 5*time.Second, "time between the health checks of an upstream, and the most each may take")
	fs.IntVar(&o.eject.After, "eject-after", 0, "with several -upstream: take an upstream out for -eject-time once it has failed this many requests in a row (502, 503 or 504 from it, or a reset stream or no head in time), while another serves (0: never)")
	fs.DurationVar(&o.eject.For, "eject-time", 30*time.Second, "how long -eject-after takes an upstream out; twice as long for each ejection that follows its return with no success in between, up to 8 times")
	fs.IntVar(&o.pool.MaxSessions, "max-sessions", 4, "upstream sessions per upstream at most")
	fs.IntVar(&o.pool.MinSessions, "min-sessions", 0, "upstream sessions per upstream kept once a request came, however few streams the requests need, with requests spread over them: for an upstream name with several addresses (a headless Kubernetes Service), their number, so that each takes requests (at most -max-sessions; 0: sessions are added only when the others are full)")
	fs.DurationVar(&o.pool.MaxSessionAge, "max-session-age", 0, "retire an upstream session this long after its dial, less up to a tenth at random: a new session is dialed, the old one takes no new streams once that is up and closes (GOAWAY) once its streams end, so that a change of the upstream's addresses, or of the host a load balancer before it picks, is followed (0: keep sessions while they work)")
	fs.DurationVar(&o.pool.SessionIdleTimeout, "session-idle-timeout", time.Minute, "close an upstream session the pool has not needed this long: once, for a whole period, the streams in flight stayed within half of what the other sessions can take, the one with the fewest takes no more and closes (GOAWAY) once they end; one per period, never below -min-sessions or one (0: keep sessions while they work)")
	fs.IntVar(&o.pool.MaxStreamsPerSession, "max-streams-per-session", 0, "local cap on concurrent streams per session (0: the upstream's SETTINGS_MAX_CONCURRENT_STREAMS for HTTP/2, 100 for HTTP/3)")
	fs.IntVar(&o.pool.QueueLength, "queue-length", 1024, "requests that may wait for an upstream stream at most (503 beyond)")
	fs.DurationVar(&o.pool.QueueTimeout, "queue-timeout", 5*time.Second, "longest wait for an upstream stream (503 after)")
	fs.IntVar(&o.streamWin, "stream-window", 256<<10, "HTTP/2 and HTTP/3 receive window per upstream stream, bytes")
	fs.IntVar(&o.connWin, "conn-window", 16<<20, "HTTP/2 and HTTP/3 receive window per upstream session, bytes")
	fs.IntVar(&o.maxFrame, "max-frame-size", 64<<10, "largest HTTP/2 frame payload an upstream may send (SETTINGS_MAX_FRAME_SIZE), 16384 to 16777215 bytes")
	fs.IntVar(&o.pool.RetryBuffer, "retry-buffer", 64<<10, "request body bytes kept per request, so that one the upstream provably did not process is retried on another session (0: only requests none of whose body was read)")
	fs.DurationVar(&o.pool.DialTimeout, "dial-timeout", 5*time.Second, "upstream connect and handshake timeout")
	fs.DurationVar(&o.pool.PingInterval, "ping-interval", 30*time.Second, "PING an upstream session that was silent this long")
	fs.DurationVar(&o.pool.PingTimeout, "ping-timeout", 5*time.Second, "drop an upstream session whose PING is unanswered this long; an HTTP/2 session with requests in flight that received nothing this long is PINGed too")
	fs.StringVar(&o.pool.H2Engine, "h2-engine", "own", "HTTP/2 upstream session: own (muxgate's) or x/net (golang.org/x/net/http2's ClientConn, the reference)")
	fs.DurationVar(&o.pool.QUICIdleTimeout, "quic-idle-timeout", 30*time.Second, "HTTP/3 upstreams: close a QUIC session that received nothing this long (-ping-interval is its keep-alive)")
	fs.DurationVar(&o.bodyHold, "body-hold", 2*time.Millisecond, "how long what has come of a response may wait for more before it goes to the client, so that pieces that come close together leave in one write: through HTTP/3 and -h2-engine x/net, a piece of body while more is awaited; through any session, a head ten times as long for its body's first bytes; a body's last bytes never wait, nor anything of an event stream (0: each piece, and the head, at once)")
	fs.DurationVar(&o.upTimeout, "upstream-timeout", 30*time.Second, "longest wait for the upstream's response head (504 after)")
	fs.DurationVar(&o.pool.BodyIdleTimeout, "upstream-body-timeout", 5*time.Minute, "longest silence of the upstream within a response body that muxgate waits for: then the stream is reset and the client's connection cut (not WebSockets, which have -tunnel-idle-timeout; 0: no limit)")

	fs.DurationVar(&o.front.HeaderTimeout, "header-timeout", 10*time.Second, "time for a request head to arrive (408 after a partial head)")
	fs.DurationVar(&o.front.IdleTimeout, "idle-timeout", 60*time.Second, "keep-alive idle time before a silent close")
	fs.DurationVar(&o.front.ParkAfter, "park-after", 100*time.Millisecond, "keep-alive idle time on the goroutine that served the last request; then the connection parks without one (longer: less CPU for clients that pause between requests, more memory)")
	fs.IntVar(&o.front.MaxConns, "max-conns", 10000, "client connections at most (accept pauses at the cap)")
	fs.IntVar(&o.front.MaxHeaderBytes, "max-header-bytes", 16<<10, "request line and header bytes at most (431 beyond)")
	fs.IntVar(&o.front.MaxHeaderCount, "max-header-count", 100, "request header fields at most (431 beyond)")
	fs.IntVar(&o.front.MaxURIBytes, "max-uri-bytes", 8<<10, "request-target bytes at most (414 beyond)")
	fs.IntVar(&o.front.MaxRequestsPerConn, "max-requests-per-conn", 0, "requests per client connection (0: unlimited)")
	fs.IntVar(&o.front.PipelineDepth, "pipeline-depth", 8, "pipelined GET and HEAD requests of one client connection handled at once, answered in order (1: one at a time)")
	fs.IntVar(&o.front.MaxPipelineBuffer, "max-pipeline-buffer", 256<<10, "HTTP/3 and x/net upstreams: bytes of pipelined responses held back per client connection while earlier ones are written; past it the upstream stream waits (over the own HTTP/2 session, a response waits in its upstream stream)")
	fs.DurationVar(&o.front.WriteTimeout, "write-timeout", 30*time.Second, "a client that takes no response bytes for this long is cut off")
	fs.DurationVar(&o.front.TunnelIdleTimeout, "tunnel-idle-timeout", time.Hour, "a WebSocket connection on which no byte went either way for this long is closed")
	fs.DurationVar(&o.front.BodyReadTimeout, "body-read-timeout", 30*time.Second, "a client that sends none of its announced request body for this long is cut off")
	fs.IntVar(&o.front.MinBodyRate, "min-body-rate", 1024, "a client whose request body arrives slower than this many bytes per second on average, once the server has waited 5s for it, is cut off (0: off)")
	fs.Int64Var(&o.front.MaxBodyBytes, "max-body-bytes", 0, "request body bytes at most (413 beyond: at once for a larger Content-Length, when a chunked body passes it otherwise; 0: no limit)")
	fs.Float64Var(&o.front.RequestRatePerIP, "request-rate-per-ip", 0, "requests per second one client IP address may send on average, over all its connections (0: no limit); beyond it and -request-burst-per-ip, 429 with Retry-After and close")
	fs.IntVar(&o.front.RequestBurstPerIP, "request-burst-per-ip", 0, "requests one client IP address may send at once before -request-rate-per-ip applies (0: a second's worth of the rate)")
	fs.IntVar(&o.front.MaxConnsPerIP, "max-conns-per-ip", 0, "client connections per client IP address (0: no limit); beyond it 503 and close (TLS: close before the handshake)")

	fs.BoolVar(&o.noXFF, "no-x-forwarded-for", false, "do not append the client address to X-Forwarded-For")
	fs.BoolVar(&o.noXFP, "no-x-forwarded-proto", false, "do not set X-Forwarded-Proto")
	fs.BoolVar(&o.noVia, "no-via", false, "do not add Via to requests and responses")
	fs.BoolVar(&o.forwarded, "forwarded", false, "append an element for=client;host=Host;proto=scheme to the Forwarded field of each request (RFC 7239)")
	fs.StringVar(&o.requestID, "request-id-header", "", "`name` of a field (X-Request-Id, say) that every request goes upstream with, set to a fresh ID of 32 hex digits in place of the client's, and that the access log gives as request_id (default: none)")
	fs.BoolVar(&o.redirect, "redirect-https", false, "answer every request on the clear-text listeners with 308 Permanent Redirect to the same target over HTTPS, on -redirect-https-port (but ACME http-01 challenges, /.well-known/acme-challenge/, which go upstream)")
	fs.IntVar(&o.redirectTo, "redirect-https-port", 443, "the HTTPS port of -redirect-https's Location")
	fs.Var(&o.setReq, "set-request-header", "`Name: value` set on every request sent upstream, in place of the client's fields of that name; Name: alone removes them; repeatable (not the framing or hop-by-hop fields, which muxgate sets)")
	fs.Var(&o.setResp, "set-response-header", "`Name: value` set on every response from the upstream and on muxgate's own answers (a 502, a redirect), in place of the upstream's fields of that name (Strict-Transport-Security: max-age=63072000, say); Name: alone removes them (Server:); repeatable")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 30*time.Second, "drain deadline after SIGTERM or SIGINT")
	fs.DurationVar(&o.front.DrainGrace, "drain-grace", time.Second, "in a drain, how long a kept-alive connection waiting for its next request may still send it (answered with Connection: close) before it is closed (0: closed at once)")
	fs.StringVar(&o.metrics, "metrics-listen", "", "`host:port` serving GET /metrics (Prometheus text format), GET /healthz (503 once draining) and GET /readyz (503 also while no upstream is reachable); default: none")
	fs.DurationVar(&o.procsWait, "procs-wait", 5*time.Millisecond, "run on as few of GOMAXPROCS processors as the load needs: starting on one, doubled at once when a fifth of goroutines wait longer than this for one, doubled on trial when those in use have been over 90% busy for 2 s (kept if 15% more requests are served, and checked again later by going back), reduced after a second in which fewer would have been at most 75% busy (0: always all of them)")
	fs.DurationVar(&o.timerSlack, "timer-slack", time.Millisecond, "Linux: how late the kernel may end the process's timed sleeps (prctl PR_SET_TIMERSLACK); muxgate executes itself once more at start to give it to every thread, so that the Go runtime's monitor thread wakes less often under load (0: keep the inherited slack)")
	fs.IntVar(&o.gcPercent, "gc-percent", 400, "garbage collector target: heap growth over live data, percent, before a collection (GOGC; -1: off); overrides the GOGC environment variable only when given")
	fs.DurationVar(&o.idleGC, "idle-gc", 250*time.Millisecond, "after a burst, once the process has allocated almost nothing for this long, collect garbage and return free memory to the OS (0: never)")

	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "", "log format: json or console (default: console when stderr is a terminal, else json)")
	fs.StringVar(&o.accessLog, "access-log", "-", "access log: a file `path`, - for standard output, or off")
	fs.DurationVar(&o.logFlush, "access-log-flush", 100*time.Millisecond, "access-log lines are written out together, at the latest this long after the first of them, or when 64 KiB have gathered, and at exit (0: each at once)")
	fs.StringVar(&o.flagsFile, "flags-file", "", "read flags from this `file` first, one per line (-name value, or -name alone), # for comments; those of the command line come after them; an upgrade (SIGUSR2) reads it again")
	fs.BoolVar(&o.showVer, "version", false, "print the build (version, commit, Go version) and exit")
	fs.BoolVar(&o.checkOnly, "check", false, "check the flags, the files they name (certificates, keys, CAs, ticket keys) and the upstream URLs, print whether they are good and exit (0, or 2 with the first fault), without binding a port or dialing an upstream: for a -flags-file before an upgrade")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "write a CPU profile of the process, from the start of its gateway to its exit, to this `path` (pprof format: for go tool pprof, or for a build of muxgate optimized by it, go build -pgo=path); the new process of an upgrade writes to path.PID, with its process ID; default: none")
	fs.StringVar(&o.pidFile, "pid-file", "", "write the process ID to this `path` once listening (the new process of an upgrade writes its own); removed at exit if it still holds this process's")
	return fs
}

// parseFlags reads args. A usage error is one line, meant for stderr and exit code 2; -help
// returns errHelp after writing the usage to help.
func parseFlags(args []string, help io.Writer) (*options, error) {
	o, fs, err := parseArgs(args, help)
	if err == nil && o.flagsFile != "" {
		var fileArgs []string
		if fileArgs, err = readFlagsFile(o.flagsFile); err == nil {
			o, fs, err = parseArgs(append(fileArgs, args...), help)
		}
	}
	if err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { o.gcSet = o.gcSet || f.Name == "gc-percent" })
	if o.showVer {
		return o, nil // nothing else is needed to print the build
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	o.pool.StreamWindow, o.pool.ConnWindow = int32(o.streamWin), int32(o.connWin)
	o.pool.MaxFrameSize = int32(o.maxFrame)
	if o.front.DrainGrace == 0 {
		o.front.DrainGrace = -1 // h1's zero is its default
	}
	return o, nil
}

// parseArgs parses args into fresh options, without checking them.
func parseArgs(args []string, help io.Writer) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := newFlagSet(o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, help)
			return nil, nil, errHelp
		}
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, fs, nil
}

// minStreamWindow is the smallest -stream-window: one DATA frame of HTTP/2's smallest
// SETTINGS_MAX_FRAME_SIZE (RFC 9113 4.2). Below it the upstream sends less than a frame per
// window update (HTTP/2's WINDOW_UPDATE, QUIC's MAX_STREAM_DATA, RFC 9000 4.1): with a window
// of 1 an HTTP/3 download crawled at 4 KB/s.
const minStreamWindow = 1 << 14

func (o *options) check() error {
	switch {
	case o.demo && len(o.upstreams) > 0:
		return errors.New("-demo brings its own upstream: drop -upstream")
	case !o.demo && len(o.upstreams) == 0:
		return errors.New("-upstream is required (or -demo)")
	case o.tlsListeners() > 0 && len(o.cert) == 0:
		return errors.New("-listen-tls and -listen-tls-proxy need -cert and -key")
	case len(o.cert) != len(o.key):
		return errors.New("give one -key for each -cert")
	case o.health.Path != "" && !strings.HasPrefix(o.health.Path, "/"):
		return errors.New("-health-check must be a path, starting with /")
	case o.eject.After < 0 || o.eject.For <= 0:
		return errors.New("-eject-after must not be negative (0: never), and -eject-time must be positive")
	case o.health.Interval <= 0:
		return errors.New("-health-check-interval must be positive")
	case (o.upCert == "") != (o.upKey == ""):
		return errors.New("-upstream-cert and -upstream-key go together")
	case o.streamWin < minStreamWindow || o.streamWin > 1<<31-1:
		return errors.New("-stream-window must be 16384 to 2147483647 bytes")
	case o.connWin < 65535 || o.connWin > 1<<31-1:
		return errors.New("-conn-window must be 65535 to 2147483647 bytes")
	case o.maxFrame < 1<<14 || o.maxFrame > 1<<24-1:
		return errors.New("-max-frame-size must be 16384 to 16777215 bytes")
	case o.pool.H2Engine != "own" && o.pool.H2Engine != "x/net":
		return fmt.Errorf("-h2-engine must be own or x/net, not %q", o.pool.H2Engine)
	case o.pool.BodyIdleTimeout < 0:
		return errors.New("-upstream-body-timeout must not be negative (0: no limit)")
	case o.pool.MaxSessionAge < 0:
		return errors.New("-max-session-age must not be negative (0: sessions are kept)")
	case o.pool.SessionIdleTimeout < 0:
		return errors.New("-session-idle-timeout must not be negative (0: sessions are kept)")
	case o.pool.QUICIdleTimeout <= 0:
		return errors.New("-quic-idle-timeout must be positive")
	case o.pool.MaxSessions < 1:
		return errors.New("-max-sessions must be at least 1")
	case o.pool.MinSessions < 0 || o.pool.MinSessions > o.pool.MaxSessions:
		return errors.New("-min-sessions must be 0 to -max-sessions")
	case o.pool.QueueLength < 0, o.pool.MaxStreamsPerSession < 0, o.front.MaxConns < 1,
		o.front.MaxHeaderBytes < 1, o.front.MaxHeaderCount < 1, o.front.MaxURIBytes < 1, o.front.MaxRequestsPerConn < 0, o.front.MaxConnsPerIP < 0,
		o.front.MaxBodyBytes < 0, o.pool.RetryBuffer < 0:
		return errors.New("limits must not be negative, and -max-conns and the header and URI limits must be at least 1")
	case o.front.PipelineDepth < 1 || o.front.PipelineDepth > 256:
		return errors.New("-pipeline-depth must be 1 to 256")
	case o.front.MaxPipelineBuffer < 1:
		return errors.New("-max-pipeline-buffer must be at least 1 byte")
	case o.front.RequestRatePerIP < 0 || o.front.RequestBurstPerIP < 0:
		return errors.New("-request-rate-per-ip and -request-burst-per-ip must not be negative (0: no limit, a second's worth)")
	case o.redirectTo < 1 || o.redirectTo > 65535:
		return errors.New("-redirect-https-port must be 1 to 65535")
	case o.front.MinBodyRate < 0:
		return errors.New("-min-body-rate must not be negative (0: off)")
	case o.idleGC < 0:
		return errors.New("-idle-gc must not be negative (0: off)")
	case o.procsWait < 0:
		return errors.New("-procs-wait must not be negative (0: off)")
	case o.logFlush < 0:
		return errors.New("-access-log-flush must not be negative (0: each line at once)")
	case o.timerSlack < 0:
		return errors.New("-timer-slack must not be negative (0: keep the inherited slack)")
	case o.gcPercent < -1:
		return errors.New("-gc-percent must be -1 (off) or more")
	case o.front.DrainGrace < 0:
		return errors.New("-drain-grace must not be negative (0: idle connections close at once)")
	case o.bodyHold < 0:
		return errors.New("-body-hold must not be negative (0: each piece, and the head, at once)")
	}
	for _, d := range []time.Duration{o.pool.QueueTimeout, o.pool.DialTimeout, o.pool.PingInterval, o.pool.PingTimeout,
		o.upTimeout, o.front.HeaderTimeout, o.front.IdleTimeout, o.front.ParkAfter, o.front.WriteTimeout, o.front.BodyReadTimeout, o.front.TunnelIdleTimeout, o.shutdown} {
		if d <= 0 {
			return errors.New("timeouts must be positive")
		}
	}
	if err := o.parseTLSPolicy(); err != nil {
		return err
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return err
	}
	if o.logFormat != "" && o.logFormat != "json" && o.logFormat != "console" {
		return fmt.Errorf("-log-format must be json or console, not %q", o.logFormat)
	}
	return nil
}

// tlsListeners loads the certificates and returns the TLS settings for the -listen-tls ports.
func (o *options) serverTLS() (*certs.Store, error) {
	pairs := make([]certs.Pair, len(o.cert))
	for i := range o.cert {
		pairs[i] = certs.Pair{CertFile: o.cert[i], KeyFile: o.key[i]}
	}
	store, err := certs.Load(pairs...)
	if err != nil {
		return nil, err
	}
	store.UsePolicy(o.tlsPolicy)
	if err := store.UseClientAuth(certs.ClientAuth{CAFile: o.clientCA, Optional: o.clientOpt}); err != nil {
		return nil, fmt.Errorf("-client-ca: %w", err)
	}
	return store, nil
}

// parseTLSPolicy reads -tls-min-version, -tls-ciphers and -tls-h2 into tlsPolicy (and -tls-h2
// into the front end's config, whose HTTP/2 server the ALPN offer needs).
func (o *options) parseTLSPolicy() error {
	v, err := certs.ParseVersion(o.tlsMin)
	if err != nil {
		return fmt.Errorf("-tls-min-version: %w", err)
	}
	o.tlsPolicy.MinVersion = v
	o.tlsPolicy.HTTP2 = o.tlsH2
	o.front.HTTP2 = o.tlsH2
	if o.tlsCiphers == "" {
		return nil
	}
	if o.tlsPolicy.CipherSuites, err = certs.ParseCipherSuites(o.tlsCiphers); err != nil {
		return fmt.Errorf("-tls-ciphers: %w", err)
	}
	return nil
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, `muxgate: an HTTP/1.1 edge gateway onto multiplexed HTTP/2 and HTTP/3 upstream sessions

usage: muxgate -upstream h2c://host:port|https://host:port|h3://host:port|h3+h2://host:port [-listen host:port] [flags]
       muxgate -demo

flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
