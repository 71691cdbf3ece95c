//go:build unix

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"muxgate/certs"
	"muxgate/internal/porttest"
)

// caddyReadyLimit bounds the wait for a started Caddy to answer over TLS and over QUIC.
const caddyReadyLimit = 20 * time.Second

// caddyPeer is a Caddy server the test started on a loopback port, serving HTTP/1.1, HTTP/2
// over TLS on the TCP port and HTTP/3 on the UDP port of the same number.
type caddyPeer struct {
	addr  string         // 127.0.0.1:PORT, TCP and UDP
	roots *x509.CertPool // trusts the certificate Caddy serves for "localhost"
	log   *logBuffer     // Caddy's own output

	bin, dir string
	admin    string                       // its admin endpoint, 127.0.0.1:PORT, which reload uses
	site     func(greeting string) string // its Caddyfile, /hello answered with greeting
	configs  int                          // Caddyfiles written
}

// caddyfileFormat is the Caddyfile of a caddyPeer: storage, port, certificate and key files,
// admin endpoint, and the answer to /hello.
const caddyfileFormat = `{
	admin %[5]s
	auto_https off
	skip_install_trust
	storage file_system {
		root %[1]q
	}
	servers {
		protocols h1 h2 h3
	}
}

https://localhost:%[2]d, https://127.0.0.1:%[2]d {
	bind 127.0.0.1
	tls %[3]q %[4]q
	respond /hello %[6]q 200
	respond /proto "{http.request.proto}" 200
	respond "not found" 404
}
`

// writeConfig writes a new Caddyfile for p, /hello answered with greeting, and returns its path.
func (p *caddyPeer) writeConfig(t testing.TB, greeting string) string {
	t.Helper()
	p.configs++
	path := filepath.Join(p.dir, fmt.Sprintf("Caddyfile.%d", p.configs))
	if err := os.WriteFile(path, []byte(p.site(greeting)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// reload gives Caddy a new configuration through its admin endpoint, /hello answered with
// greeting, as an operator's "caddy reload" does; it returns once Caddy has taken it.
func (p *caddyPeer) reload(t testing.TB, greeting string) {
	t.Helper()
	cmd := exec.Command(p.bin, "reload", "--config", p.writeConfig(t, greeting), "--adapter", "caddyfile", "--address", p.admin)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(p.dir, "home"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// startCaddy writes a certificate for "localhost" and a Caddyfile into a temporary directory,
// runs Caddy on them until the test ends, and waits, bounded, until it answers over TLS and QUIC.
func startCaddy(t testing.TB) *caddyPeer {
	t.Helper()
	caddy := needTool(t, "caddy")

	cert, err := certs.SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := certs.PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"data", "config", "home", "storage"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	port := porttest.Free(t, true, true)
	p := &caddyPeer{
		addr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		roots: certs.Pool(cert),
		log:   &logBuffer{},
		bin:   caddy,
		dir:   dir,
		admin: freePort(t, upstreamKinds[0]),
	}
	p.site = func(greeting string) string {
		return fmt.Sprintf(caddyfileFormat, filepath.Join(dir, "storage"), port, certFile, keyFile, p.admin, greeting)
	}
	configFile := p.writeConfig(t, "hello from caddy")
	cmd := exec.Command(caddy, "run", "--config", configFile, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
	)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting caddy: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("caddy (pid %d) did not exit within 10s of SIGKILL", cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("caddy log:\n%s", lastLines(p.log.String(), 40))
		}
	})

	// Wait until Caddy answers over TLS (HTTP/2) and over QUIC (HTTP/3). The gateway passes on
	// the client's Host (127.0.0.1:...), so the site answers to both names; the certificate is
	// still found by SNI only, which is why every client here sends "localhost".
	tlsConf := &tls.Config{RootCAs: p.roots, ServerName: "localhost"}
	h2 := &http.Transport{TLSClientConfig: tlsConf.Clone(), ForceAttemptHTTP2: true}
	h3 := &http3.Transport{TLSClientConfig: tlsConf.Clone()}
	defer h2.CloseIdleConnections()
	defer h3.Close()
	deadline := time.Now().Add(caddyReadyLimit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for i, rt := range []http.RoundTripper{h2, h3} {
		for {
			select {
			case <-exited:
				t.Fatalf("caddy exited before answering: %v\n%s", waitErr, lastLines(p.log.String(), 40))
			default:
			}
			if lastErr = caddyPing(rt, p.addr, time.Until(deadline)); lastErr == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("caddy on %s did not answer over %s within %v: %v\n%s", p.addr, []string{"TLS", "QUIC"}[i], caddyReadyLimit, lastErr, lastLines(p.log.String(), 40))
			}
			<-tick.C
		}
	}
	return p
}

// caddyPing fetches /hello from addr through rt and checks the answer.
func caddyPing(rt http.RoundTripper, addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), min(limit, 2*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/hello", nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(b) != "hello from caddy" {
		return fmt.Errorf("GET /hello: %s %q", resp.Status, b)
	}
	return nil
}

// caddyAccess is what the Caddy test reads of an access-log line.
type caddyAccess struct {
	Target        string `json:"target"`
	Status        int    `json:"status"`
	UpstreamProto string `json:"upstream_proto"`
	Session       uint64 `json:"session"`
}

func caddyAccessLines(t testing.TB, log *logBuffer) []caddyAccess {
	t.Helper()
	var out []caddyAccess
	for line := range strings.Lines(log.String()) {
		var l caddyAccess
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// TestCaddyInterop: the gateway in front of Caddy 2.6, over HTTP/3 (QUIC) and over HTTP/2 on
// TLS. Caddy finds its certificate by SNI only, so the upstream server name must be sent; Caddy
// itself reports the protocol it served, and 50 sequential requests share one upstream session.
func TestCaddyInterop(t *testing.T) {
	p := startCaddy(t)
	kinds := []struct {
		name, scheme, alpn, proto string
	}{
		{name: "h3", scheme: "h3://", alpn: "h3", proto: "HTTP/3.0"},
		{name: "h2", scheme: "https://", alpn: "h2", proto: "HTTP/2.0"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			var log logBuffer
			cfg := h3Config(k.scheme+p.addr, &log)
			cfg.UpstreamTLS = &tls.Config{RootCAs: p.roots, ServerName: "localhost"}
			f := startGateway(t, cfg)
			c := newClient(t)

			for _, useTLS := range []bool{false, true} {
				base := f.url(useTLS)
				if resp, body := get(t, c, base+"/hello"); resp.StatusCode != 200 || body != "hello from caddy" {
					t.Fatalf("GET %s/hello: %s %q, want 200 %q", base, resp.Status, body, "hello from caddy")
				}
				if resp, body := get(t, c, base+"/proto"); resp.StatusCode != 200 || body != k.proto {
					t.Errorf("GET %s/proto: %s %q, want 200 %q (the protocol Caddy served)", base, resp.Status, body, k.proto)
				}
			}
			if resp, body := get(t, c, f.url(false)+"/missing"); resp.StatusCode != 404 || body != "not found" {
				t.Errorf("GET /missing: %s %q, want 404 %q", resp.Status, body, "not found")
			}

			const n = 50
			for i := range n {
				if resp, body := get(t, c, f.url(i%2 == 1)+"/hello"); resp.StatusCode != 200 || body != "hello from caddy" {
					t.Fatalf("request %d: %s %q", i, resp.Status, body)
				}
			}

			lines := caddyAccessLines(t, &log)
			if want := 5 + n; len(lines) != want {
				t.Errorf("%d access-log lines, want %d", len(lines), want)
			}
			sessions := map[uint64]bool{}
			for _, l := range lines {
				if l.UpstreamProto != k.alpn {
					t.Errorf("access log: %s served over %q, want %s", l.Target, l.UpstreamProto, k.alpn)
				}
				sessions[l.Session] = true
			}
			if len(sessions) != 1 {
				t.Errorf("sequential requests used %d upstream sessions %v, want 1", len(sessions), sessions)
			}
		})
	}
}

// TestCaddyReload: Caddy given a new configuration (caddy reload) while the gateway holds a
// session to it. Over HTTP/2, Caddy's GOAWAY moves the gateway to a session on the new
// configuration. Over HTTP/3, Caddy 2.6 keeps serving the connections it has on the old one and
// sends no GOAWAY; -max-session-age (here 1 s) bounds how long the gateway stays there. No
// request fails meanwhile.
func TestCaddyReload(t *testing.T) {
	p := startCaddy(t)
	for _, k := range []struct {
		name, scheme string
		age          time.Duration
	}{{"h2", "https://", 0}, {"h3", "h3://", time.Second}} {
		t.Run(k.name, func(t *testing.T) {
			var log logBuffer
			cfg := h3Config(k.scheme+p.addr, &log)
			cfg.UpstreamTLS = &tls.Config{RootCAs: p.roots, ServerName: "localhost"}
			cfg.Pool.MaxSessionAge = k.age
			f := startGateway(t, cfg)
			c := newClient(t)
			resp, before := get(t, c, f.url(false)+"/hello")
			if resp.StatusCode != 200 {
				t.Fatalf("GET /hello: %s %q", resp.Status, before)
			}
			again := "hello again over " + k.name
			p.reload(t, again)
			start := time.Now()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for n := 1; ; n++ {
				resp, body := get(t, c, f.url(false)+"/hello")
				if resp.StatusCode != 200 || body != before && body != again {
					t.Fatalf("request %d after the reload: %s %q, want 200 and %q or %q", n, resp.Status, body, before, again)
				}
				if body == again {
					t.Logf("the new configuration answered request %d after the reload, %v after it", n, time.Since(start).Round(time.Millisecond))
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatalf("after %d requests in 10 s the old configuration still answered", n)
				}
				<-tick.C
			}
		})
	}
}
