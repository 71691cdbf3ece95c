//go:build unix

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestCurlReusesConnection: curl fetching several URLs in one run keeps one connection, over
// HTTP/1.1 and over HTTP/1.0 with keep-alive, in clear text and over TLS.
func TestCurlReusesConnection(t *testing.T) {
	curl := needTool(t, "curl")
	certFile, _ := writePEM(t)
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			cases := []struct {
				name  string
				tls   bool
				alpn  string // the protocol curl offers alone and the listener must accept
				extra []string
			}{
				{name: "http1.1"},
				{name: "http1.1-tls", tls: true, alpn: "http/1.1"},
				{name: "http1.0-keepalive", extra: []string{"--http1.0", "-H", "Connection: keep-alive"}},
				{name: "http1.0-keepalive-tls", tls: true, alpn: "http/1.0", extra: []string{"--http1.0", "-H", "Connection: keep-alive"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					base := f.url(c.tls)
					args := append([]string{"-sS", "-v", "--max-time", "20", "--cacert", certFile}, c.extra...)
					args = append(args, base+"/path/one", base+"/bytes/300", base+"/path/three")
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
						t.Errorf("curl re-used the connection %d times, want 2 (one per URL after the first)\nstderr:\n%s", n, stderr.String())
					}
					if c.tls && !strings.Contains(stderr.String(), "ALPN: server accepted "+c.alpn) {
						t.Errorf("curl's stderr does not say the server accepted ALPN %s\nstderr:\n%s", c.alpn, stderr.String())
					}
				})
			}
		})
	}
}

// TestHTTP10KeepAlive: an HTTP/1.0 request is persistent only when it asks for keep-alive, and
// the answer then says Connection: keep-alive.
func TestHTTP10KeepAlive(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			for _, useTLS := range []bool{false, true} {
				addr := f.addr
				if useTLS {
					addr = f.tlsAddr
				}
				t.Run(map[bool]string{false: "clear", true: "tls"}[useTLS], func(t *testing.T) {
					t.Run("keep-alive", func(t *testing.T) {
						c := dialRaw(t, addr, useTLS)
						for i, path := range []string{"/path/first", "/path/second"} {
							c.send("GET " + path + " HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n")
							resp, body := c.response("GET")
							if resp.Proto != "HTTP/1.1" && resp.Proto != "HTTP/1.0" {
								t.Errorf("request %d: protocol %q", i+1, resp.Proto)
							}
							if resp.StatusCode != 200 || body != path {
								t.Fatalf("request %d: status %d body %q, want 200 %q", i+1, resp.StatusCode, body, path)
							}
							if got := resp.Header.Get("Connection"); !strings.EqualFold(got, "keep-alive") {
								t.Errorf("request %d: Connection %q, want keep-alive", i+1, got)
							}
							if resp.ContentLength < 0 {
								t.Errorf("request %d: no Content-Length: an HTTP/1.0 keep-alive response needs one (chunked is HTTP/1.1 only)", i+1)
							}
						}
					})
					t.Run("no-keep-alive", func(t *testing.T) {
						c := dialRaw(t, addr, useTLS)
						c.send("GET /path/only HTTP/1.0\r\nHost: example.test\r\n\r\n")
						resp, body := c.response("GET")
						if resp.StatusCode != 200 || body != "/path/only" {
							t.Fatalf("status %d body %q, want 200 /path/only", resp.StatusCode, body)
						}
						if got := resp.Header.Get("Connection"); strings.EqualFold(got, "keep-alive") {
							t.Errorf("Connection %q on a response to HTTP/1.0 without keep-alive", got)
						}
						c.expectClosed()
					})
					t.Run("http1.1-close", func(t *testing.T) {
						c := dialRaw(t, addr, useTLS)
						c.send("GET /path/bye HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
						resp, body := c.response("GET")
						if resp.StatusCode != 200 || body != "/path/bye" {
							t.Fatalf("status %d body %q, want 200 /path/bye", resp.StatusCode, body)
						}
						if !resp.Close { // ReadResponse takes Connection: close out of the header
							t.Error("response without Connection: close")
						}
						c.expectClosed()
					})
				})
			}
		})
	}
}

// TestReasonPhrases: status lines carry the standard reason phrase, for the gateway's own
// statuses and for those relayed from the upstream.
func TestReasonPhrases(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	f := startGateway(t, testConfig(u))
	for _, c := range []struct {
		path, status string
	}{
		{"/", "200 OK"},
		{"/status/201", "201 Created"},
		{"/status/204", "204 No Content"},
		{"/status/404", "404 Not Found"},
		{"/status/418", "418 I'm a teapot"},
		{"/status/503", "503 Service Unavailable"},
	} {
		c2 := dialRaw(t, f.addr, false)
		c2.send("GET " + c.path + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
		resp, _ := c2.response("GET")
		wantStatus(t, resp, c.status)
	}
}

// TestHeaderTimeout: a request head that stops half way gets 408 Request Timeout and a close;
// the upstream never sees it.
func TestHeaderTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.Front.HeaderTimeout = timeout
			f := startGateway(t, cfg)
			for _, useTLS := range []bool{false, true} {
				addr := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
				t.Run(map[bool]string{false: "clear", true: "tls"}[useTLS], func(t *testing.T) {
					// The first head of a connection may be timed from the accept (h1.Config),
					// so the earliest allowed 408 is HeaderTimeout after the dial began.
					start := time.Now()
					c := dialRaw(t, addr, useTLS)
					c.send("GET /path/slow HTTP/1.1\r\nHost: exam")
					resp, _ := c.response("GET")
					elapsed := time.Since(start)
					wantStatus(t, resp, "408 Request Timeout")
					if elapsed < timeout {
						t.Errorf("408 after %v, before the header timeout of %v", elapsed, timeout)
					}
					c.expectClosed()
					if n := u.Requests(); n != 0 {
						t.Errorf("upstream saw %d requests, want 0", n)
					}
				})
			}
		})
	}
}

// TestIdleTimeout: a keep-alive connection with no request in progress is closed silently at the
// idle timeout, not before.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	cfg := testConfig(u)
	cfg.Front.IdleTimeout = idle
	cfg.Front.HeaderTimeout = 5 * time.Second
	f := startGateway(t, cfg)
	for _, useTLS := range []bool{false, true} {
		addr := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
		t.Run(map[bool]string{false: "clear", true: "tls"}[useTLS], func(t *testing.T) {
			c := dialRaw(t, addr, useTLS)
			c.send("GET /path/x HTTP/1.1\r\nHost: example.test\r\n\r\n")
			resp, body := c.response("GET")
			if resp.StatusCode != 200 || body != "/path/x" {
				t.Fatalf("status %d body %q, want 200 /path/x", resp.StatusCode, body)
			}
			start := time.Now()
			c.expectClosed()
			if elapsed := time.Since(start); elapsed < idle-50*time.Millisecond {
				t.Errorf("closed %v after the response, before the idle timeout of %v", elapsed, idle)
			}
		})
	}
}

// TestNoTCPKeepAliveProbes: client connections are kept alive by HTTP, not by TCP keep-alive
// probes, which nghttpx and HAProxy do not send by default either. On an idle connection the
// kernel keeps no keep-alive timer for the gateway's side, while the test's own side, dialled
// with Go's default probes, has one: /proc/net/tcp shows it as timer 2.
func TestNoTCPKeepAliveProbes(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	f := startGateway(t, testConfig(u))
	c := dialRaw(t, f.addr, false)
	c.send("GET /path/x HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	client := c.c.LocalAddr().String()
	if timer := settledTCPTimer(t, client, f.addr); timer != tcpTimerKeepAlive {
		t.Fatalf("the test's side has timer %d, want %d (keep-alive): /proc/net/tcp is not read right", timer, tcpTimerKeepAlive)
	}
	if timer := settledTCPTimer(t, f.addr, client); timer != 0 {
		t.Errorf("the gateway's side of an idle connection has timer %d, want 0 (none)", timer)
	}
}

// The timers /proc/net/tcp names in its "tr" field (proc(5)).
const (
	tcpTimerRetransmit = 1
	tcpTimerKeepAlive  = 2
)

// settledTCPTimer returns the kernel timer of the loopback TCP socket from local to remote, once
// no retransmit timer is pending on it (the last response's ACK may still be on its way).
func settledTCPTimer(t *testing.T, local, remote string) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		timer := procTCPTimer(t, local, remote)
		if timer != tcpTimerRetransmit || time.Now().After(deadline) {
			return timer
		}
		<-tick.C
	}
}

// procTCPTimer reads the "tr" field of the socket from local to remote (127.0.0.1 addresses) in
// /proc/net/tcp.
func procTCPTimer(t *testing.T, local, remote string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	want := procTCPAddr(t, local) + " " + procTCPAddr(t, remote)
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 6 || f[1]+" "+f[2] != want {
			continue
		}
		tr, _, _ := strings.Cut(f[5], ":")
		n, err := strconv.ParseInt(tr, 16, 32)
		if err != nil {
			t.Fatalf("/proc/net/tcp: timer %q: %v", f[5], err)
		}
		return int(n)
	}
	t.Fatalf("no socket %s in /proc/net/tcp", want)
	return 0
}

// procTCPAddr writes a 127.0.0.1 address as /proc/net/tcp does on a little-endian machine: the
// address's 32 bits as a number in host order, then the port, both in hex.
func procTCPAddr(t *testing.T, addr string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("address %q: want 127.0.0.1:port", addr)
	}
	p, _ := strconv.Atoi(port)
	return fmt.Sprintf("0100007F:%04X", p)
}
