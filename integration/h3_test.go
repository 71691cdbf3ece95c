//go:build unix

package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/rs/zerolog"

	"muxgate/certs"
	"muxgate/gateway"
	"muxgate/h1"
	"muxgate/internal/demo"
)

// h3Upstream is a quic-go HTTP/3 server on a loopback UDP port serving the demo routes. Its
// accept loop counts the QUIC connections and the requests.
type h3Upstream struct {
	addr     string
	srv      *http3.Server
	ln       *quic.Listener
	accepted atomic.Int64 // QUIC connections accepted
	requests atomic.Int64 // requests that reached the handler
	wg       sync.WaitGroup
}

// startH3Upstream serves demo.Handler() over HTTP/3 on addr (UDP), allowing maxStreams
// concurrent request streams per connection (0: quic-go's 100), until the test ends.
func startH3Upstream(t testing.TB, addr string, maxStreams int64) *h3Upstream {
	t.Helper()
	return startH3UpstreamWith(t, addr, maxStreams, demo.Handler())
}

// h3ConnKey keys the QUIC connection of a request in its context on an h3Upstream.
type h3ConnKey struct{}

// h3Conn returns the QUIC connection that carried r to an h3Upstream.
func h3Conn(r *http.Request) *quic.Conn {
	c, _ := r.Context().Value(h3ConnKey{}).(*quic.Conn)
	return c
}

// startH3UpstreamWith is startH3Upstream with h serving the requests; h3Conn gives h the
// connection of each.
func startH3UpstreamWith(t testing.TB, addr string, maxStreams int64, h http.Handler) *h3Upstream {
	t.Helper()
	tc := http3.ConfigureTLSConfig(certs.FromCertificates(serverCert).ServerConfig())
	ln, err := quic.ListenAddr(addr, tc, &quic.Config{MaxIncomingStreams: maxStreams})
	if err != nil {
		t.Fatalf("HTTP/3 upstream on %s: %v", addr, err)
	}
	u := &h3Upstream{addr: ln.Addr().String(), ln: ln}
	u.srv = &http3.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.requests.Add(1)
			h.ServeHTTP(w, r)
		}),
		ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
			return context.WithValue(ctx, h3ConnKey{}, c)
		},
	}
	u.wg.Go(func() {
		for {
			c, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.wg.Go(func() {
				if err := u.srv.ServeQUICConn(c); err != nil {
					c.CloseWithError(0, "")
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		u.srv.Close()
		u.wg.Wait()
	})
	return u
}

// h3Config is a gateway configuration for the upstream URL, with the access log kept in log.
func h3Config(upstream string, log *logBuffer) gateway.Config {
	return gateway.Config{
		Listeners: []gateway.Listener{
			{Addr: "127.0.0.1:0"},
			{Addr: "127.0.0.1:0", TLS: certs.FromCertificates(serverCert).ServerConfig()},
		},
		Upstream:        upstream,
		UpstreamTLS:     upstreamTLS(),
		AccessLog:       zerolog.New(log),
		Pool:            gateway.PoolConfig{DialTimeout: 2 * time.Second},
		Front:           h1.Config{},
		ShutdownTimeout: 5 * time.Second,
	}
}

// accessLine is what the h3 tests read of an access-log line.
type accessLine struct {
	Target        string `json:"target"`
	Status        int    `json:"status"`
	UpstreamProto string `json:"upstream_proto"`
}

// upstreamProtos maps each target in the access log to the protocol that served it.
func upstreamProtos(t testing.TB, log *logBuffer) map[string]string {
	t.Helper()
	m := map[string]string{}
	for line := range strings.Lines(log.String()) {
		var l accessLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		m[l.Target] = l.UpstreamProto
	}
	return m
}

// TestH3CurlReusesConnection: curl fetching several URLs keeps one client connection, and the
// gateway one QUIC connection to the upstream.
func TestH3CurlReusesConnection(t *testing.T) {
	curl := needTool(t, "curl")
	certFile, _ := writePEM(t)
	u := startH3Upstream(t, "127.0.0.1:0", 0)
	var log logBuffer
	f := startGateway(t, h3Config("h3://"+u.addr, &log))
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			base := f.url(useTLS)
			args := []string{"-sS", "-v", "--max-time", "20", "--cacert", certFile, base + "/path/one", base + "/bytes/300", base + "/path/three"}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, curl, args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("curl %s: %v\nstderr:\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 12))
			}
			if want := "/path/one" + pattern(300) + "/path/three"; stdout.String() != want {
				t.Errorf("bodies %q, want %q", stdout.String(), want)
			}
			if n := strings.Count(stderr.String(), "Re-using existing connection"); n != 2 {
				t.Errorf("curl re-used the connection %d times, want 2\nstderr:\n%s", n, stderr.String())
			}
		})
	}
	if n := u.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d QUIC connections for 6 sequential requests, want 1", n)
	}
	for target, proto := range upstreamProtos(t, &log) {
		if proto != "h3" {
			t.Errorf("access log: %s served over %q, want h3", target, proto)
		}
	}
}

// TestH3LoadH2load: 200 HTTP/1.1 clients, 5000 requests over HTTP/3, none failed; the upstream
// sees no more QUIC connections than its stream limit makes necessary.
func TestH3LoadH2load(t *testing.T) {
	const (
		clients  = 200
		requests = 5000
		streams  = 100 // the upstream's limit of concurrent streams per QUIC connection
		runLimit = 3 * time.Minute
	)
	h2load := needTool(t, "h2load")
	u := startH3Upstream(t, "127.0.0.1:0", streams)
	var log logBuffer
	cfg := h3Config("h3://"+u.addr, &log)
	cfg.AccessLog = zerolog.Nop()
	cfg.Front.MaxConns = 2 * clients
	f := startGateway(t, cfg)

	args := []string{"--h1", "-c", strconv.Itoa(clients), "-n", strconv.Itoa(requests), f.url(false) + "/bytes/100"}
	start := time.Now()
	runH2load(t, h2load, runLimit, requests, args...)
	elapsed := time.Since(start)
	conns := u.accepted.Load()
	t.Logf("%d requests in %v; upstream: %d requests, %d QUIC connections", requests, elapsed.Round(time.Millisecond), u.requests.Load(), conns)
	if n := u.requests.Load(); n != requests {
		t.Errorf("upstream served %d requests, want %d", n, requests)
	}
	if want := int64((clients + streams - 1) / streams); conns > want {
		t.Errorf("upstream accepted %d QUIC connections for at most %d concurrent requests, want at most ceil(%d/%d) = %d",
			conns, clients, clients, streams, want)
	}
}

// TestH3Echo: a 10 MiB body goes up over HTTP/3 and comes back byte for byte.
func TestH3Echo(t *testing.T) {
	u := startH3Upstream(t, "127.0.0.1:0", 0)
	var log logBuffer
	f := startGateway(t, h3Config("h3://"+u.addr, &log))
	echo(t, newClient(t), f.url(false), bigBody)
	if got := upstreamProtos(t, &log)["/echo"]; got != "h3" {
		t.Errorf("access log: /echo served over %q, want h3", got)
	}
}

// TestH3Fallback: h3+h2:// to a port where only an HTTP/2 server over TLS listens serves every
// request over HTTP/2; once an HTTP/3 server appears on the UDP port, requests return to HTTP/3.
func TestH3Fallback(t *testing.T) {
	u2 := startUpstream(t, upstreamKind{name: "h2", tls: true}, demo.Options{})
	addr := u2.Addr()
	var log logBuffer
	cfg := h3Config("h3+h2://"+addr, &log)
	// A refused UDP port shows only as a QUIC handshake that times out.
	cfg.Pool.DialTimeout = time.Second
	f := startGateway(t, cfg)
	c := newClient(t)

	const n = 20
	for i := range n {
		resp, body := get(t, c, f.url(i%2 == 1)+fmt.Sprintf("/path/h2-%d", i))
		if resp.StatusCode != 200 || body != fmt.Sprintf("/path/h2-%d", i) {
			t.Fatalf("request %d without HTTP/3: %s %q", i, resp.Status, body)
		}
	}
	protos := upstreamProtos(t, &log)
	for i := range n {
		if got := protos[fmt.Sprintf("/path/h2-%d", i)]; got != "h2" {
			t.Errorf("access log: request %d served over %q, want h2", i, got)
		}
	}
	if got := u2.Requests(); got != n {
		t.Errorf("HTTP/2 upstream served %d requests, want %d", got, n)
	}

	// HTTP/3 appears on the same port; requests return to it within a few back-offs.
	host, _, _ := net.SplitHostPort(addr)
	u3 := startH3Upstream(t, addr, 0)
	if h, _, _ := net.SplitHostPort(u3.addr); h != host {
		t.Fatalf("HTTP/3 upstream on %s, want %s", u3.addr, addr)
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var back string
	for i := 0; back == ""; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("requests still not over HTTP/3 %v after the HTTP/3 upstream appeared; gateway state in the log", 30*time.Second)
		}
		<-tick.C
		target := fmt.Sprintf("/path/poll-%d", i)
		if resp, body := get(t, c, f.url(false)+target); resp.StatusCode != 200 || body != target {
			t.Fatalf("%s: %s %q", target, resp.Status, body)
		}
		if upstreamProtos(t, &log)[target] == "h3" {
			back = target
		}
	}
	// Once back, the following requests stay on HTTP/3.
	before := u3.requests.Load()
	for i := range 5 {
		target := fmt.Sprintf("/path/h3-%d", i)
		if resp, body := get(t, c, f.url(true)+target); resp.StatusCode != 200 || body != target {
			t.Fatalf("%s: %s %q", target, resp.Status, body)
		}
		if got := upstreamProtos(t, &log)[target]; got != "h3" {
			t.Errorf("access log: %s served over %q after the return, want h3", target, got)
		}
	}
	if got := u3.requests.Load() - before; got != 5 {
		t.Errorf("HTTP/3 upstream served %d of the last 5 requests, want 5", got)
	}
}

// TestH3UpstreamTLS: the upstream's certificate is verified for HTTP/3 as for HTTP/2.
func TestH3UpstreamTLS(t *testing.T) {
	u := startH3Upstream(t, "127.0.0.1:0", 0)
	var log logBuffer
	cfg := h3Config("h3://"+u.addr, &log)
	cfg.UpstreamTLS = &tls.Config{} // system roots: the test certificate is not trusted
	cfg.Pool.DialTimeout = time.Second
	f := startGateway(t, cfg)
	resp, _ := get(t, newClient(t), f.url(false)+"/")
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Muxgate-Error") != "upstream_unreachable" {
		t.Errorf("untrusted HTTP/3 upstream: %s (%s), want 502 upstream_unreachable", resp.Status, resp.Header.Get("X-Muxgate-Error"))
	}
}

// TestH3Binary: the command takes an h3:// upstream with -upstream-ca and -quic-idle-timeout,
// logs upstream_proto h3, and drains on SIGTERM.
func TestH3Binary(t *testing.T) {
	u := startH3Upstream(t, "127.0.0.1:0", 0)
	certFile, _ := writePEM(t)
	p := startBinary(t, "-upstream", "h3://"+u.addr, "-upstream-ca", certFile, "-quic-idle-timeout", "10s",
		"-listen", "127.0.0.1:0", "-log-format", "json")
	addrs, _ := p.waitServing(1)
	c := newClient(t)
	resp, body := get(t, c, "http://"+addrs[0]+"/path/over-h3")
	if resp.StatusCode != 200 || body != "/path/over-h3" {
		t.Fatalf("GET /path/over-h3: %s %q", resp.Status, body)
	}
	l := waitLine(t, p.stdoutLines, "access-log line", 10*time.Second, func(l logLine) bool { return l["status"] != nil })
	if l.str("upstream_proto") != "h3" || l.str("upstream") != "h3://"+u.addr || l.str("session") != "1" {
		t.Errorf("access log %v, want upstream_proto h3, upstream h3://%s, session 1", l, u.addr)
	}
	c.CloseIdleConnections()
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if n := u.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d QUIC connections, want 1", n)
	}
}
