//go:build unix

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"muxgate/certs"
	"muxgate/internal/demo"
)

// TestBinaryClientCert: with -client-ca, a client (curl, on OpenSSL) that shows a certificate
// of that CA is served, and the upstream gets the certificate in Client-Cert (RFC 9440); one that
// shows none gets no handshake; a Client-Cert that a client sends itself never reaches the
// upstream; the access log names the client.
func TestBinaryClientCert(t *testing.T) {
	curl := needTool(t, "curl")
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	ca, err := certs.SelfSigned("muxgate test client CA")
	if err != nil {
		t.Fatal(err)
	}
	device, err := certs.Issue(ca, "device-7", x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _, err := certs.PEM(ca)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	deviceCert, deviceKey := writeCertPEM(t, device)
	certFile, keyFile := writePEM(t)
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-listen-tls", "127.0.0.1:0",
		"-cert", certFile, "-key", keyFile, "-client-ca", caFile, "-log-format", "json")
	clear, tlsAddrs := p.waitServing(2)

	out, err := exec.Command(curl, "-sS", "-k", "--cert", deviceCert, "--key", deviceKey,
		"-H", "Client-Cert: :c3Bvb2Zl:", "https://"+tlsAddrs[0]+"/headers").CombinedOutput()
	want := ":" + base64.StdEncoding.EncodeToString(device.Certificate[0]) + ":"
	if err != nil || headerLines(string(out))["client-cert"] != want {
		t.Errorf("curl with the device's certificate: %v, the upstream saw %q; want Client-Cert %s", err, out, want)
	}
	line := waitLine(t, p.stdoutLines, "the device's access-log line", 10*time.Second, func(l logLine) bool { return l.str("target") == "/headers" })
	if c := line.str("tls_client"); c != "CN=device-7" {
		t.Errorf("access log tls_client %q, want CN=device-7", c)
	}

	if out, err := exec.Command(curl, "-sS", "-k", "https://"+tlsAddrs[0]+"/headers").CombinedOutput(); err == nil {
		t.Errorf("curl without a certificate: %q, want a failed handshake", out)
	}
	// A Go client shows another CA's certificate: refused too.
	stranger, _ := certs.SelfSigned("stranger")
	if err := tlsClientHandshake(tlsAddrs[0], stranger); err == nil {
		t.Error("a certificate of another CA passed")
	}
	out, err = exec.Command(curl, "-sS", "-H", "Client-Cert: :c3Bvb2Zl:", "http://"+clear[0]+"/headers").CombinedOutput()
	if err != nil || strings.Contains(strings.ToLower(string(out)), "client-cert") {
		t.Errorf("a clear-text client's own Client-Cert: %v, the upstream saw %q; want it dropped", err, out)
	}
}

// tlsClientHandshake connects to addr showing cert and reads, which reports a TLS 1.3 server's
// refusal of the client's certificate.
func tlsClientHandshake(addr string, cert tls.Certificate) error {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(rawDeadline))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	_, err = c.Read(make([]byte, 1))
	return err
}
