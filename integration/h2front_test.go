package integration

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"muxgate/certs"
	"muxgate/internal/demo"
)

// TestHTTP2Front: with HTTP/2 offered on the TLS listener, a client that chooses it (Go's, then
// h2load, an independent one) is served through to each kind of upstream session, bodies both
// ways; an HTTP/1.1 client on the same listener is served as before.
func TestHTTP2Front(t *testing.T) {
	h2load := needTool(t, "h2load")
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			cfg := testConfig(startUpstream(t, k, demo.Options{}))
			cfg.Pool.H2Engine = k.engine
			store := certs.FromCertificates(serverCert)
			store.UsePolicy(certs.Policy{HTTP2: true})
			cfg.Listeners[1].TLS = store.ServerConfig()
			cfg.Front.HTTP2 = true
			f := startGateway(t, cfg)
			c := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
			resp, err := c.Get(f.url(true) + "/bytes/10")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 || len(b) != 10 {
				t.Errorf("GET over HTTP/2: %s %s with %d bytes", resp.Proto, resp.Status, len(b))
			}
			resp, err = c.Get(f.url(true) + "/headers")
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if via := headerLines(string(b))["via"]; via != "2 muxgate" {
				t.Errorf("the upstream saw Via %q from an HTTP/2 client, want 2 muxgate (RFC 9110 7.6.3)", via)
			}
			body := strings.Repeat("x", 100<<10)
			resp, err = c.Post(f.url(true)+"/echo", "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(b, []byte(body)) {
				t.Errorf("POST over HTTP/2: %d bytes back, want the %d sent", len(b), len(body))
			}
			if resp, body := get(t, newClient(t), f.url(true)+"/bytes/5"); resp.Proto != "HTTP/1.1" || len(body) != 5 {
				t.Errorf("HTTP/1.1 on the same listener: %s with %d bytes", resp.Proto, len(body))
			}
			out, err := exec.Command(h2load, "-n", "2000", "-c", "4", "-m", "10", f.url(true)+"/bytes/100").CombinedOutput()
			if r, perr := parseH2load(string(out)); err != nil || perr != nil || r.succeeded != 2000 {
				t.Errorf("h2load over HTTP/2: %v, %+v, %v\n%s", err, r, perr, out)
			}
		})
	}
}

// TestBinaryHTTP2Front: -tls-h2 reaches the TLS listeners: curl chooses HTTP/2 and gets it, but
// over TLS 1.2 with a CBC suite alone, where it gets HTTP/1.1.
func TestBinaryHTTP2Front(t *testing.T) {
	curl := needTool(t, "curl")
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	certFile, keyFile := writePEM(t)
	p := startBinary(t, "-upstream", u.url, "-listen-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
		"-tls-h2", "-log-format", "json", "-access-log", "off",
		"-tls-ciphers", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA")
	_, addrs := p.waitServing(1)
	out, err := exec.Command(curl, "-sS", "-k", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "https://"+addrs[0]+"/bytes/5").CombinedOutput()
	if err != nil || string(out) != "2 200" {
		t.Errorf("curl --http2: %v, %q; want 2 200", err, out)
	}
	// A client limited to TLS 1.2 and a CBC suite, which HTTP/2 refuses (RFC 9113 9.2.2), is
	// served HTTP/1.1 rather than offered h2 and cut off.
	out, err = exec.Command(curl, "-sS", "-k", "--http2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA",
		"-o", "/dev/null", "-w", "%{http_version} %{http_code}", "https://"+addrs[0]+"/bytes/5").CombinedOutput()
	if err != nil || string(out) != "1.1 200" {
		t.Errorf("curl --http2 over TLS 1.2 with a CBC suite: %v, %q; want 1.1 200", err, out)
	}
}
