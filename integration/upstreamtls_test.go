//go:build unix

package integration

import (
	"crypto/tls"
	"testing"

	"muxgate/certs"
	"muxgate/internal/demo"
)

// TestBinaryUpstreamClientCert: with -upstream-cert and -upstream-key, muxgate shows its
// certificate to an upstream that asks for one and verifies it (mutual TLS), over HTTP/2 and
// HTTP/3; without them the same upstream refuses the handshake, and the client gets 502.
func TestBinaryUpstreamClientCert(t *testing.T) {
	client, err := certs.SelfSigned("muxgate.test")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, clientKey := writeCertPEM(t, client)
	caFile, _ := writePEM(t)
	for _, k := range upstreamKinds {
		if !k.tls {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			cfg := certs.FromCertificates(serverCert).ServerConfig().Clone()
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = certs.Pool(client)
			u := startUpstream(t, k, demo.Options{TLS: cfg})
			for _, tc := range []struct {
				name   string
				flags  []string
				status int
			}{
				{"with the certificate", []string{"-upstream-cert", clientCert, "-upstream-key", clientKey}, 200},
				{"without", nil, 502},
			} {
				args := append([]string{"-upstream", u.url, "-upstream-ca", caFile, "-listen", "127.0.0.1:0",
					"-access-log", "off", "-log-format", "json", "-dial-timeout", "2s"}, tc.flags...)
				p := startBinary(t, args...)
				clear, _ := p.waitServing(1)
				c := dialRaw(t, clear[0], false)
				c.send("GET /path/mtls HTTP/1.1\r\nHost: example.test\r\n\r\n")
				if resp, body := c.response("GET"); resp.StatusCode != tc.status {
					t.Errorf("%s: %s %q, want %d", tc.name, resp.Status, body, tc.status)
				}
			}
		})
	}
}
