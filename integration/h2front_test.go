//go:build unix

package integration

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"

	"muxgate/certs"
	"muxgate/gateway"
	"muxgate/internal/demo"
)

// withHTTP2Front has cfg's TLS listener, testConfig's second, offer h2 and serve HTTP/2 to the
// clients that take it (-tls-h2).
func withHTTP2Front(cfg *gateway.Config) {
	store := certs.FromCertificates(serverCert)
	store.UsePolicy(certs.Policy{HTTP2: true})
	cfg.Listeners[1].TLS = store.ServerConfig()
	cfg.Front.HTTP2 = true
}

// newH2Transport is an HTTP/2 client transport that trusts the test certificate, its
// connections closed when the test ends.
func newH2Transport(t testing.TB) *http2.Transport {
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// TestHTTP2Front: with HTTP/2 offered on the TLS listener, a client that chooses it (Go's, then
// h2load, an independent one) is served through to each kind of upstream session, bodies both
// ways; an HTTP/1.1 client on the same listener is served as before.
func TestHTTP2Front(t *testing.T) {
	h2load := needTool(t, "h2load")
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			cfg := testConfig(startUpstream(t, k, demo.Options{}))
			cfg.Pool.H2Engine = k.engine
			withHTTP2Front(&cfg)
			f := startGateway(t, cfg)
			c := &http.Client{Transport: newH2Transport(t)}
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

// TestBinaryHTTP2FrontWebSocket: muxgate -tls-h2 takes an HTTP/2 client's WebSocket without
// GODEBUG set by the operator, and leaves it off where the operator set http2xconnect=0.
func TestBinaryHTTP2FrontWebSocket(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	certFile, keyFile := writePEM(t)
	for _, c := range []struct {
		godebug string
		takes   bool
	}{{"", true}, {"http2xconnect=0", false}} {
		t.Run("GODEBUG="+c.godebug, func(t *testing.T) {
			p := startBinaryEnv(t, []string{"GODEBUG=" + c.godebug}, "-upstream", u.url, "-listen-tls", "127.0.0.1:0",
				"-cert", certFile, "-key", keyFile, "-tls-h2", "-log-format", "json", "-access-log", "off")
			_, addrs := p.waitServing(1)
			if !c.takes {
				req, _ := http.NewRequest(http.MethodConnect, "https://"+addrs[0]+"/websocket", http.NoBody)
				req.Header.Set(":protocol", "websocket")
				if resp, err := newH2Transport(t).RoundTrip(req); err == nil {
					resp.Body.Close()
					t.Fatalf("extended CONNECT with http2xconnect=0: %s; want it refused by the client, unannounced", resp.Status)
				}
				return
			}
			resp, pw := openH2WebSocket(t, "https://"+addrs[0])
			pw.Write(maskedFrame(0x8, []byte{0x03, 0xe8})) // Close, 1000
			got := make([]byte, 4)
			if _, err := io.ReadFull(resp.Body, got); err != nil || !bytes.Equal(got, []byte{0x88, 0x02, 0x03, 0xe8}) {
				t.Fatalf("the upstream's Close: %x, %v", got, err)
			}
		})
	}
}

// TestHTTP2FrontWebSocket: a WebSocket from an HTTP/2 client, an extended CONNECT (RFC 8441),
// goes upstream as one over each kind of upstream session: the client gets 200, and its messages
// are echoed both ways until it closes; a refused one gets the upstream's answer.
func TestHTTP2FrontWebSocket(t *testing.T) {
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			cfg := testConfig(startUpstream(t, k, demo.Options{}))
			cfg.Pool.H2Engine = k.engine
			withHTTP2Front(&cfg)
			f := startGateway(t, cfg)
			c := &http.Client{Transport: newH2Transport(t)}
			pr, pw := io.Pipe()
			req, _ := http.NewRequest(http.MethodConnect, f.url(true)+"/websocket", pr)
			req.Header.Set(":protocol", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Sec-Websocket-Accept") != "" {
				t.Fatalf("extended CONNECT: %s, Sec-WebSocket-Accept %q; want 200 without one", resp.Status, resp.Header.Get("Sec-Websocket-Accept"))
			}
			for _, msg := range []string{"hi", "again"} {
				pw.Write(maskedFrame(0x1, []byte(msg)))
				got := make([]byte, 2+len(msg))
				if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != "\x81"+string(rune(len(msg)))+msg {
					t.Fatalf("echo of %q: %q, %v", msg, got, err)
				}
			}
			pw.Write(maskedFrame(0x8, []byte{0x03, 0xe8})) // Close, 1000
			got := make([]byte, 4)
			if _, err := io.ReadFull(resp.Body, got); err != nil || !bytes.Equal(got, []byte{0x88, 0x02, 0x03, 0xe8}) {
				t.Fatalf("the upstream's Close: %x, %v", got, err)
			}
			pw.Close()
			if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
				t.Errorf("after the Close: %q, %v; want the stream's end", rest, err)
			}

			req, _ = http.NewRequest(http.MethodConnect, f.url(true)+"/no/such/path", http.NoBody)
			req.Header.Set(":protocol", "websocket")
			if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("a WebSocket the upstream does not serve: %v, %v; want its 404", resp, err)
			} else {
				resp.Body.Close()
			}
		})
	}
}

// openH2WebSocket opens a WebSocket to base's /websocket (the demo upstream's echo) as an HTTP/2
// client does, an extended CONNECT, and has a message echoed; it returns the response, whose body
// is the upstream's side, and the writer of the client's side. Both end with the test.
func openH2WebSocket(t *testing.T, base string) (*http.Response, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, _ := http.NewRequest(http.MethodConnect, base+"/websocket", pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	resp, err := newH2Transport(t).RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("extended CONNECT: %v, %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	pw.Write(maskedFrame(0x1, []byte("hi")))
	got := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != "\x81\x02hi" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	return resp, pw
}

// TestHTTP2FrontWebSocketDrain: a drain closes an HTTP/2 client's WebSocket with a Close of
// status 1001, as an HTTP/1.1 client's, and ends long before its deadline once the client has
// answered.
func TestHTTP2FrontWebSocketDrain(t *testing.T) {
	cfg := testConfig(startUpstream(t, upstreamKinds[0], demo.Options{}))
	withHTTP2Front(&cfg)
	cfg.ShutdownTimeout = 30 * time.Second // far past the client's patience (rawDeadline)
	g := serveUntilDrain(t, cfg)
	resp, pw := openH2WebSocket(t, "https://"+g.Addrs()[1].String())
	g.drain()
	got := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, got); err != nil || !bytes.Equal(got, []byte{0x88, 0x02, 0x03, 0xe9}) {
		t.Fatalf("after the drain began: %x, %v; want a Close frame of status 1001", got, err)
	}
	pw.Write(maskedFrame(0x8, []byte{0x03, 0xe9})) // the client's answering Close
	pw.Close()
	g.drained(t, rawDeadline, "the WebSocket closed")
}

// TestHTTP2FrontWebSocketIdle: an HTTP/2 client's WebSocket on which nothing goes either way for
// -tunnel-idle-timeout ends, both streams, and the access log says tunnel_idle, as for an
// HTTP/1.1 client's.
func TestHTTP2FrontWebSocketIdle(t *testing.T) {
	cfg := testConfig(startUpstream(t, upstreamKinds[0], demo.Options{}))
	withHTTP2Front(&cfg)
	cfg.Front.TunnelIdleTimeout = 300 * time.Millisecond
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	f := startGateway(t, cfg)
	resp, _ := openH2WebSocket(t, f.url(true))
	ended := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		ended <- err
	}()
	select {
	case <-ended:
	case <-time.After(rawDeadline):
		t.Fatal("the idle WebSocket did not end")
	}
	if !access.await(rawDeadline, func(log string) bool { return strings.Contains(log, `"error":"tunnel_idle"`) }) {
		t.Errorf("the access log does not say tunnel_idle:\n%s", access.String())
	}
}
