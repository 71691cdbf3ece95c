//go:build unix

package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// proxiedClient is the loopback address the clients of these tests connect from (Linux routes
// all of 127/8 to lo), so that the client's address differs from the balancer's, 127.0.0.1.
const proxiedClient = "127.0.0.2"

// startTCPHAProxy runs HAProxy in TCP mode on a free loopback port until the test ends, passing
// each connection to backend behind a PROXY header (send: "send-proxy" for version 1,
// "send-proxy-v2" for version 2), and returns its address.
func startTCPHAProxy(t *testing.T, backend, send string) string {
	t.Helper()
	addr := freePort(t, upstreamKinds[0])
	runHAProxy(t, addr, "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"+
		"frontend f\n  bind "+addr+"\n  default_backend b\n"+
		"backend b\n  server s "+backend+" "+send+"\n")
	return addr
}

// TestProxyProtocolThroughHAProxy: behind HAProxy in TCP mode, which sends a PROXY header of
// either version (an independent implementation), the upstream's X-Forwarded-For and the access
// log name the client, not HAProxy; in clear text and with TLS passed through to muxgate.
func TestProxyProtocolThroughHAProxy(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	cfg := testConfig(u)
	for i := range cfg.Listeners {
		cfg.Listeners[i].ProxyProtocol = true
	}
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	f := startGateway(t, cfg)
	for _, send := range []string{"send-proxy", "send-proxy-v2"} {
		for _, useTLS := range []bool{false, true} {
			name := send + map[bool]string{false: " http", true: " https"}[useTLS]
			t.Run(name, func(t *testing.T) {
				backend := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
				balancer := startTCPHAProxy(t, backend, send)
				c := dialProxied(t, balancer, useTLS)
				for range 2 { // the address holds for every request of the connection
					c.send("GET /headers HTTP/1.1\r\nHost: example.test\r\n\r\n")
					resp, body := c.response("GET")
					if got := headerLines(body)["x-forwarded-for"]; resp.StatusCode != 200 || got != proxiedClient {
						t.Fatalf("got %d, x-forwarded-for %q; want 200, %s\n%s", resp.StatusCode, got, proxiedClient, body)
					}
				}
			})
		}
	}
	if log := access.String(); strings.Count(log, `"client":"`+proxiedClient+`:`) != 8 {
		t.Errorf("want 8 access-log lines with client %s:port, got:\n%s", proxiedClient, log)
	}
}

// dialProxied connects from proxiedClient to addr, in clear text or over TLS.
func dialProxied(t *testing.T, addr string, useTLS bool) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(proxiedClient)}, Timeout: rawDeadline}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, proxiedClient, err)
	}
	if useTLS {
		c = tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(rawDeadline))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// TestBinaryProxyProtocolCurl: the binary's -listen-proxy and -listen-tls-proxy take curl's PROXY
// header (version 1, --haproxy-protocol), in clear text and before a TLS handshake, while its
// -listen takes none; curl without a header gets its connection closed and no answer from a
// proxied listener, and the next client is served.
func TestBinaryProxyProtocolCurl(t *testing.T) {
	curl := needTool(t, "curl")
	certFile, keyFile := writePEM(t)
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-listen-proxy", "127.0.0.1:0",
		"-listen-tls-proxy", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-access-log", "off", "-log-format", "json")
	clear, tlsAddrs := p.waitServing(3)
	if len(clear) != 2 || len(tlsAddrs) != 1 {
		t.Fatalf("listeners: clear %v, tls %v; want two and one", clear, tlsAddrs)
	}
	plain, proxied, proxiedTLS := "http://"+clear[0], "http://"+clear[1], "https://"+tlsAddrs[0]
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args = append([]string{"-sS", "--max-time", "10", "--cacert", certFile, "--interface", proxiedClient}, args...)
		out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{
		{"--haproxy-protocol", proxied + "/headers"},
		{"--haproxy-protocol", proxiedTLS + "/headers"},
		{plain + "/headers"},
	} {
		out, err := run(args...)
		if got := headerLines(out)["x-forwarded-for"]; err != nil || got != proxiedClient {
			t.Errorf("curl %s: %v, x-forwarded-for %q, want %s\n%s", strings.Join(args, " "), err, got, proxiedClient, out)
		}
	}
	// curl's exit codes 52 and 56: the server closed the connection without a reply (a reset,
	// as the request was left unread).
	out, err := run(proxied + "/headers")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 52 && exit.ExitCode() != 56 {
		t.Errorf("curl without a PROXY header: %v, want exit code 52 or 56 (no reply)\n%s", err, out)
	}
	if out, err := run("--haproxy-protocol", proxied+"/headers"); err != nil {
		t.Errorf("the next client: %v\n%s", err, out)
	}
}
