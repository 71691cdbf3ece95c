//go:build unix

package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"muxgate/certs"
	"muxgate/internal/demo"
)

// TestBinaryLegacyTLS: an old client (curl, on OpenSSL, here made to offer TLS 1.0 alone and
// only the RSA key exchange, with no SNI as it dials an address) is served by a muxgate told to
// take such clients (-tls-min-version 1.0, -tls-ciphers with that suite), with the RSA
// certificate of the two it has, though the ECDSA one comes first; a muxgate left at its
// defaults refuses it, and a modern client still gets TLS 1.3.
func TestBinaryLegacyTLS(t *testing.T) {
	curl := needTool(t, "curl")
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	ecCert, ecKey := writePEM(t)
	rsa, err := certs.SelfSignedRSA("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rsaCert, rsaKey := writeCertPEM(t, rsa)
	start := func(extra ...string) (*proc, string) {
		t.Helper()
		args := append([]string{"-upstream", u.url, "-listen-tls", "127.0.0.1:0", "-cert", ecCert, "-key", ecKey,
			"-cert", rsaCert, "-key", rsaKey, "-log-format", "json"}, extra...)
		p := startBinary(t, args...)
		_, addrs := p.waitServing(1)
		return p, "https://" + addrs[0] + "/bytes/5"
	}
	p, legacy := start("-tls-min-version", "1.0", "-tls-ciphers", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA")
	_, strict := start("-access-log", "off")
	// OpenSSL 3 refuses TLS 1.0's SHA-1 at its default security level: SECLEVEL=0 lets it offer
	// what an old client would.
	old := func(url string) (string, error) {
		out, err := exec.Command(curl, "-sS", "-k", "--tlsv1.0", "--tls-max", "1.0", "--ciphers", "AES128-SHA:@SECLEVEL=0",
			"-w", "%{http_code} %{ssl_verify_result}", "-o", "/dev/null", url).CombinedOutput()
		return string(out), err
	}
	if out, err := old(legacy); err != nil || !strings.HasPrefix(out, "200") {
		t.Errorf("old client to a muxgate that takes it: %v, %q; want 200", err, out)
	}
	// The access log says which clients an operator would lose by raising the version.
	line := waitLine(t, p.stdoutLines, "the old client's access-log line", 10*time.Second, func(l logLine) bool { return l.str("target") == "/bytes/5" })
	if v, c := line.str("tls_version"), line.str("tls_cipher"); v != "TLS 1.0" || c != "TLS_RSA_WITH_AES_128_CBC_SHA" {
		t.Errorf("access log: tls_version %q, tls_cipher %q; want TLS 1.0 and TLS_RSA_WITH_AES_128_CBC_SHA", v, c)
	}
	if out, err := old(strict); err == nil {
		t.Errorf("old client to a muxgate at its defaults: %q, want a failed handshake", out)
	}
	out, err := exec.Command(curl, "-sS", "-k", "-v", "-o", "/dev/null", legacy).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TLSv1.3") {
		t.Errorf("modern client to the muxgate that takes old ones: %v, want TLS 1.3\n%s", err, out)
	}
}
