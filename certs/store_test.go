package certs

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
)

func TestGetCertificateBySNI(t *testing.T) {
	a, err := SelfSigned("a.example")
	if err != nil {
		t.Fatal(err)
	}
	b, err := SelfSigned("b.example", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := FromCertificates(a, b)
	for _, tc := range []struct {
		sni  string
		want *tls.Certificate
	}{
		{"a.example", &a},
		{"B.example.", &b},
		{"", &a},
		{"unknown.example", &a},
	} {
		got, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: tc.sni, SupportedVersions: []uint16{tls.VersionTLS13}})
		if err != nil {
			t.Fatalf("SNI %q: %v", tc.sni, err)
		}
		if got.Leaf != tc.want.Leaf {
			t.Errorf("SNI %q: got certificate for %v, want %v", tc.sni, got.Leaf.DNSNames, tc.want.Leaf.DNSNames)
		}
	}
}

func TestLoadAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func(host string) *tls.Certificate {
		c, err := SelfSigned(host)
		if err != nil {
			t.Fatal(err)
		}
		cp, kp, err := PEM(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, cp, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, kp, 0o600); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	write("one.example")
	s, err := Load(Pair{certFile, keyFile})
	if err != nil {
		t.Fatal(err)
	}
	hello := &tls.ClientHelloInfo{ServerName: "two.example", SupportedVersions: []uint16{tls.VersionTLS13}}
	got, _ := s.GetCertificate(hello)
	if got.Leaf.DNSNames[0] != "one.example" {
		t.Fatalf("got %v, want one.example", got.Leaf.DNSNames)
	}
	write("two.example")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetCertificate(hello)
	if got.Leaf.DNSNames[0] != "two.example" {
		t.Fatalf("after reload got %v, want two.example", got.Leaf.DNSNames)
	}
	// The certificate shown to an upstream follows the reload too.
	if client, err := s.GetClientCertificate(&tls.CertificateRequestInfo{}); err != nil || client.Leaf.DNSNames[0] != "two.example" {
		t.Fatalf("client certificate after reload: %v, %v; want two.example", client, err)
	}
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a broken key succeeded")
	}
	got, _ = s.GetCertificate(hello)
	if got.Leaf.DNSNames[0] != "two.example" {
		t.Fatalf("a failed reload changed the certificate to %v", got.Leaf.DNSNames)
	}
	if _, err := Load(Pair{filepath.Join(dir, "missing"), keyFile}); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}
