//go:build unix

package integration

import (
	"net/http"
	"testing"

	"muxgate/gateway"
	"muxgate/internal/demo"
)

// TestRedirectHTTPS: with RedirectHTTPS, a request on the clear-text listener gets 308 to its
// target over HTTPS, its method kept and nothing sent upstream; an ACME challenge goes upstream,
// and the TLS listener serves as ever.
func TestRedirectHTTPS(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	cfg := testConfig(u)
	cfg.RedirectHTTPS = 8443
	cfg.SetResponseFields = []gateway.Field{{Name: "Strict-Transport-Security", Value: "max-age=63072000"}}
	f := startGateway(t, cfg)
	c := dialRaw(t, f.addr, false)
	c.send("POST /form?x=1 HTTP/1.1\r\nHost: shop.test:8080\r\nContent-Length: 3\r\n\r\nabc")
	resp, _ := c.response("POST")
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://shop.test:8443/form?x=1" || resp.Close {
		t.Errorf("clear-text POST: %s, Location %q, close %v; want 308 to https://shop.test:8443/form?x=1, kept alive", resp.Status, resp.Header.Get("Location"), resp.Close)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("the redirect has no Strict-Transport-Security, which -set-response-header set: %v", resp.Header)
	}
	c.send("HEAD / HTTP/1.1\r\nHost: shop.test\r\n\r\n")
	if resp, body := c.response("HEAD"); resp.StatusCode != http.StatusPermanentRedirect || body != "" {
		t.Errorf("clear-text HEAD: %s with %q, want 308 without a body", resp.Status, body)
	}
	if n := u.Requests(); n != 0 {
		t.Errorf("the upstream got %d requests, want none", n)
	}
	c.send("GET /.well-known/acme-challenge/token HTTP/1.1\r\nHost: shop.test\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode == http.StatusPermanentRedirect || u.Requests() != 1 {
		t.Errorf("an ACME challenge: %s, the upstream got %d requests; want it sent upstream", resp.Status, u.Requests())
	}
	if resp, body := get(t, newClient(t), f.url(true)+"/bytes/4"); resp.StatusCode != http.StatusOK || len(body) != 4 {
		t.Errorf("over TLS: %s with %d bytes, want 200 with 4", resp.Status, len(body))
	}
}

// TestBinaryRedirectHTTPS: -redirect-https and its port reach the gateway.
func TestBinaryRedirectHTTPS(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json",
		"-redirect-https", "-redirect-https-port", "8443")
	clear, _ := p.waitServing(1)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get("http://" + clear[0] + "/a?b")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://127.0.0.1:8443/a?b"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("%s to %q, want 308 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
}
