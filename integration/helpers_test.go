//go:build unix

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/certs"
	"muxgate/gateway"
	"muxgate/h1"
	"muxgate/internal/demo"
)

// Shared by every test of the package; set once in TestMain.
var (
	// binary is the muxgate command built for this run; buildErr says why there is none.
	binary   string
	buildErr error

	// serverCert is served by TLS upstreams and TLS front listeners; roots trusts it.
	serverCert tls.Certificate
	roots      *x509.CertPool
)

// leakWait bounds the wait for goroutines to end after the tests.
const leakWait = 10 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if !withXConnect() {
		return rerunWithXConnect()
	}
	var err error
	serverCert, err = certs.SelfSigned("127.0.0.1", "localhost")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: self-signed certificate: %v\n", err)
		return 1
	}
	roots = certs.Pool(serverCert)

	dir, err := os.MkdirTemp("", "muxgate-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary, buildErr = buildBinary(dir)

	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(before); err != nil {
			fmt.Fprintln(os.Stderr, err)
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			return 1
		}
	}
	return code
}

// xconnect is the GODEBUG setting without which x/net's HTTP/2 server, the demo upstream's, does
// not announce extended CONNECT (RFC 8441 3), which the WebSocket tests need. x/net reads it once,
// at start (golang/go#71128).
const xconnect = "http2xconnect=1"

// withXConnect reports whether GODEBUG holds xconnect.
func withXConnect() bool { return slices.Contains(strings.Split(os.Getenv("GODEBUG"), ","), xconnect) }

// rerunWithXConnect runs the test binary again, with its arguments, xconnect added to GODEBUG, and
// returns its exit code.
func rerunWithXConnect() int {
	godebug := xconnect
	if g := os.Getenv("GODEBUG"); g != "" {
		godebug = g + "," + xconnect
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "integration: running again with GODEBUG=%s: %v\n", godebug, err)
		return 1
	}
	return 0
}

// buildBinary builds cmd/muxgate into dir, without the race detector, so that the memory the
// streaming tests measure is the gateway's own.
func buildBinary(dir string) (string, error) {
	out := filepath.Join(dir, "muxgate")
	cmd := exec.Command("go", "build", "-o", out, "muxgate/cmd/muxgate")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/muxgate: %v\n%s", err, b)
	}
	return out, nil
}

// checkLeaks waits, bounded, until no more goroutines run than before the tests.
func checkLeaks(before int) error {
	deadline := time.Now().Add(leakWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("integration: goroutine leak: %d goroutines still running %v after the tests, %d before them", n, leakWait, before)
		}
		<-tick.C
	}
}

// needTool returns the path of an external program. When it is missing the test fails if CI is
// "true" (CI installs it, see .ci/run) and is skipped otherwise.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required with CI=true but is not installed: %v", name, err)
	}
	t.Skipf("skipping: %s is not installed (%v); with CI=true this is a failure", name, err)
	return ""
}

// needBinary returns the muxgate binary built by TestMain, or fails the test with the reason.
func needBinary(t testing.TB) string {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// upstreamKind is a way the gateway talks to its upstream.
type upstreamKind struct {
	name string // h2c, h2 (TLS, ALPN h2) or h3 (QUIC, ALPN h3)
	tls  bool   // the upstream needs the test certificate: h2 and h3
	h3   bool   // HTTP/3 over QUIC on a UDP port instead of HTTP/2 over TCP

	engine string // the gateway's H2Engine for the kind: "" for its own session
}

// upstreamKinds are the upstream protocols every end-to-end case runs over. A case that cannot
// apply to one of them skips it and says why.
var upstreamKinds = []upstreamKind{
	{name: "h2c"},
	{name: "h2", tls: true},
	{name: "h3", tls: true, h3: true},
}

// demoWith is the demo upstream's handler, with h serving the requests that pattern matches.
func demoWith(pattern string, h http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.Handler())
	mux.HandleFunc(pattern, h)
	return mux
}

// engineKinds are upstreamKinds and h2c over x/net's HTTP/2 session, for the cases where the
// sessions differ in how they take a request's or a response's parts.
var engineKinds = append(upstreamKinds[:len(upstreamKinds):len(upstreamKinds)], upstreamKind{name: "h2c x/net", engine: "x/net"})

// withEachEngine runs fn, for each of engineKinds, against a gateway in front of an upstream that
// serves what handler returns (called once for each).
func withEachEngine(t *testing.T, handler func() http.Handler, fn func(t *testing.T, f *front)) {
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{Handler: handler()})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			fn(t, startGateway(t, cfg))
		})
	}
}

// scheme is how the gateway's Upstream URL names the kind.
func (k upstreamKind) scheme() string {
	switch {
	case k.h3:
		return "h3://"
	case k.tls:
		return "https://"
	}
	return "h2c://"
}

// upstream is a demo server the test started and the URL the gateway reaches it by.
type upstream struct {
	*demo.Server
	url string
}

// startUpstream starts a demo upstream of kind k on a free loopback port (UDP for h3), or on
// addr if given. It is closed when the test ends.
func startUpstream(t testing.TB, k upstreamKind, opt demo.Options) *upstream {
	t.Helper()
	return startUpstreamAt(t, k, "127.0.0.1:0", opt)
}

func startUpstreamAt(t testing.TB, k upstreamKind, addr string, opt demo.Options) *upstream {
	t.Helper()
	if k.tls && opt.TLS == nil {
		opt.TLS = certs.FromCertificates(serverCert).ServerConfig()
	}
	opt.HTTP3 = k.h3
	s, err := demo.Listen(addr, opt)
	if err != nil {
		t.Fatalf("demo %s upstream on %s: %v", k.name, addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return &upstream{Server: s, url: k.scheme() + s.Addr()}
}

// upstreamTLS trusts the test certificate, for an https upstream.
func upstreamTLS() *tls.Config { return &tls.Config{RootCAs: roots} }

// front is a running gateway: its clear-text address and, if asked for, its TLS address.
type front struct {
	g       *gateway.Gateway
	addr    string     // clear text
	tlsAddr string     // TLS; empty unless the config asked for it
	logs    *logBuffer // its process log, at debug level
}

// testConfig returns a gateway configuration for the upstream u, listening on a clear-text and
// a TLS loopback port, with short drain and dial timeouts. Callers adjust it before startGateway.
func testConfig(u *upstream) gateway.Config {
	return gateway.Config{
		Listeners: []gateway.Listener{
			{Addr: "127.0.0.1:0"},
			{Addr: "127.0.0.1:0", TLS: certs.FromCertificates(serverCert).ServerConfig()},
		},
		Upstream:        u.url,
		UpstreamTLS:     upstreamTLS(),
		Pool:            gateway.PoolConfig{DialTimeout: 2 * time.Second},
		Front:           h1.Config{},
		ShutdownTimeout: 5 * time.Second,
		BodyHold:        2 * time.Millisecond, // the binary's default
	}
}

// logBuffer keeps a process's log: a gateway's, for the report of a failed test, or a server's
// output, which os/exec copies into it on a goroutine of its own.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer  // guarded by mu
	grew chan struct{} // guarded by mu: closed by the next Write, for await; nil if none waits
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.grew != nil {
		close(b.grew)
		b.grew = nil
	}
	return b.buf.Write(p)
}

// await waits until done holds for the log so far, for at most limit, and reports whether it
// does. A child process's output reaches the buffer some time after the child wrote it.
func (b *logBuffer) await(limit time.Duration, done func(log string) bool) bool {
	timeout := time.NewTimer(limit)
	defer timeout.Stop()
	for {
		b.mu.Lock()
		if done(b.buf.String()) {
			b.mu.Unlock()
			return true
		}
		if b.grew == nil {
			b.grew = make(chan struct{})
		}
		grew := b.grew
		b.mu.Unlock()
		select {
		case <-grew:
		case <-timeout.C:
			return false
		}
	}
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startGateway runs a gateway with cfg until the test ends; then it cancels Serve and checks
// that the drain was clean and bounded. The gateway's log is shown if the test fails.
func startGateway(t testing.TB, cfg gateway.Config) *front {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	f := &front{g: g, logs: logs}
	for i, a := range g.Addrs() {
		if cfg.Listeners[i].TLS != nil {
			f.tlsAddr = a.String()
		} else if f.addr == "" {
			f.addr = a.String()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		limit := cfg.ShutdownTimeout + 5*time.Second
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway.Serve after cancel: %v, want nil (a clean drain)", err)
			}
		case <-time.After(limit):
			t.Errorf("gateway.Serve did not return within %v of cancel", limit)
		}
	})
	return f
}

// serving is a gateway that serves until its test begins the drain (drain), as the process does
// at SIGTERM.
type serving struct {
	*gateway.Gateway
	drain  context.CancelFunc // ends the serve context: the drain begins
	served chan error         // Serve's result
}

// serveUntilDrain makes and runs a gateway with cfg (whose Logger stays the caller's) until the
// test calls drain, or ends.
func serveUntilDrain(t testing.TB, cfg gateway.Config) *serving {
	t.Helper()
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &serving{Gateway: g, drain: cancel, served: make(chan error, 1)}
	go func() { s.served <- g.Serve(ctx) }()
	return s
}

// drained waits at most limit for Serve to return after the drain began, and fails the test
// unless it returns nil, a clean drain; what says what should have ended it.
func (s *serving) drained(t testing.TB, limit time.Duration, what string) {
	t.Helper()
	select {
	case err := <-s.served:
		if err != nil {
			t.Errorf("Serve: %v, want a clean drain", err)
		}
	case <-time.After(limit):
		t.Fatalf("the drain did not end after %s", what)
	}
}

// frontURL is the base URL of the gateway's clear-text or TLS listener.
func (f *front) url(useTLS bool) string {
	if useTLS {
		return "https://" + f.tlsAddr
	}
	return "http://" + f.addr
}

// newClient returns an HTTP/1.1 client that trusts the test certificate and closes its idle
// connections when the test ends.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2:  false,
		DisableCompression: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get fetches url and returns the response, whose body has been read into body.
func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, string(b)
}

// rawConn is a client connection driven byte by byte, for what http.Client hides: pipelining,
// HTTP/1.0, malformed requests, and how the connection ends.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// rawDeadline bounds every read and write on a rawConn.
const rawDeadline = 10 * time.Second

// dialRaw connects to addr in clear text, or over TLS when useTLS.
func dialRaw(t testing.TB, addr string, useTLS bool) *rawConn {
	t.Helper()
	c, err := dialFront(addr, useTLS)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(rawDeadline))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// dialFront connects to a gateway listener at addr, in clear text or over TLS (ALPN http/1.1).
func dialFront(addr string, useTLS bool) (net.Conn, error) {
	if useTLS {
		return tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}})
	}
	return net.Dial("tcp", addr)
}

// send writes s in one write.
func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// response reads one response to a request with this method and its whole body.
func (r *rawConn) response(method string) (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("reading the response to %s: %v", method, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.t.Fatalf("reading the body of the response to %s: %v", method, err)
	}
	return resp, string(b)
}

// expectClosed checks that the peer closes the connection without sending another byte.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	b, err := r.br.ReadByte()
	if err == nil {
		rest, _ := r.br.Peek(r.br.Buffered())
		r.t.Fatalf("connection still open: read %q, want EOF", append([]byte{b}, rest...))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		r.t.Fatalf("connection still open after %v, want it closed", rawDeadline)
	}
}

// wantStatus fails unless resp has the status line "HTTP/1.1 <status>", with RFC 9110's reason
// phrase (which net/http's differs from for 413, 414, 416 and 422).
func wantStatus(t testing.TB, resp *http.Response, status string) {
	t.Helper()
	got := resp.Proto + " " + resp.Status
	if got != "HTTP/1.1 "+status {
		t.Fatalf("status line %q, want %q", got, "HTTP/1.1 "+status)
	}
}

// pattern returns the first n bytes of every /bytes/N and /stream/N body.
func pattern(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = demo.Pattern(i)
	}
	return string(b)
}

// headerLines returns the header lines of a /headers body, keyed by lower-case field name.
func headerLines(body string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(body) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\n"), ": ")
		if ok {
			m[strings.ToLower(k)] = v
		}
	}
	return m
}

// writePEM writes the test certificate and key to files for curl, h2load and the binary.
func writePEM(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	return writeCertPEM(t, serverCert)
}

// writeCertPEM writes cert and its key as PEM files in a temporary directory.
func writeCertPEM(t testing.TB, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	c, k, err := certs.PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// blocker is an upstream handler for /block that holds each request until released (or until
// the request is cancelled), and tells the test when a request arrived. Other paths get the
// demo routes.
type blocker struct {
	entered chan string   // receives the path of each request that reached /block
	release chan struct{} // closed by the test, or by the cleanup, to let them finish
	closed  bool
}

func newBlocker(t testing.TB) *blocker {
	b := &blocker{entered: make(chan string, 64), release: make(chan struct{})}
	t.Cleanup(b.unblock)
	return b
}

// unblock lets every held request finish. Call it from the test goroutine only.
func (b *blocker) unblock() {
	if !b.closed {
		b.closed = true
		close(b.release)
	}
}

func (b *blocker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.Handler())
	mux.HandleFunc("/block/", func(w http.ResponseWriter, r *http.Request) {
		b.entered <- r.URL.Path
		select {
		case <-b.release:
			io.WriteString(w, "released "+r.URL.Path)
		case <-r.Context().Done():
		}
	})
	return mux
}

// waitEntered waits, bounded, for a request to reach the blocking handler.
func (b *blocker) waitEntered(t testing.TB) string {
	t.Helper()
	select {
	case p := <-b.entered:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the upstream's blocking handler within 10s")
		return ""
	}
}

// getAsync sends a GET for base+path through c on a goroutine of its own, and sends "path:
// status" to results once the response came (its body closed), or "path: error".
func getAsync(c *http.Client, base, path string, results chan<- string) {
	go func() {
		resp, err := c.Get(base + path)
		if err != nil {
			results <- path + ": " + err.Error()
			return
		}
		resp.Body.Close()
		results <- path + ": " + resp.Status
	}()
}

// expectOK takes n results of getAsync and reports each that is not a 200.
func expectOK(t *testing.T, results <-chan string, n int) {
	t.Helper()
	for range n {
		if r := waitResult(t, results); !strings.HasSuffix(r, ": 200 OK") {
			t.Errorf("%s, want 200 OK", r)
		}
	}
}

// lastLines returns the last n lines of s, for failure messages about long outputs.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return s
	}
	return "...\n" + strings.Join(lines[len(lines)-n:], "")
}
