package certs

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
)

// legacyHandshake connects to addr as an old client: TLS 1.0 alone, no SNI, and only the RSA key
// exchange suite; it returns the handshake's error and the certificate's public key algorithm.
func legacyHandshake(t *testing.T, addr string) (x509.PublicKeyAlgorithm, error) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true,
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm, nil
}

// TestLegacyPolicy: with TLS 1.0 allowed and the RSA key exchange named, an old client that
// sends no SNI and takes only RSA gets the store's RSA certificate, though an ECDSA one comes
// first; with the default policy it gets no handshake.
func TestLegacyPolicy(t *testing.T) {
	ec, err := SelfSigned("a.test")
	if err != nil {
		t.Fatal(err)
	}
	rsaCert, err := SelfSignedRSA("a.test")
	if err != nil {
		t.Fatal(err)
	}
	suites, err := ParseCipherSuites("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA")
	if err != nil {
		t.Fatal(err)
	}
	legacy := FromCertificates(ec, rsaCert)
	legacy.UsePolicy(Policy{MinVersion: tls.VersionTLS10, CipherSuites: suites})
	alg, err := legacyHandshake(t, listen(t, legacy))
	if err != nil || alg != x509.RSA {
		t.Errorf("legacy client with the legacy policy: %v, key %v; want a handshake with the RSA certificate", err, alg)
	}
	if _, err := legacyHandshake(t, listen(t, FromCertificates(ec, rsaCert))); err == nil {
		t.Error("legacy client with the default policy: a handshake, want none below TLS 1.2")
	}

	// A modern client still gets the first certificate it takes, and TLS 1.3.
	c, err := tls.Dial("tcp", listen(t, legacy), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.Version != tls.VersionTLS13 || st.PeerCertificates[0].PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("modern client: version %x, key %v; want TLS 1.3 with the ECDSA certificate", st.Version, st.PeerCertificates[0].PublicKeyAlgorithm)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1", "TLS1.2", "1.4", "tls1.2"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q): no error", bad)
		}
	}
}

func TestParseCipherSuites(t *testing.T) {
	got, err := ParseCipherSuites("TLS_RSA_WITH_3DES_EDE_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
	if err != nil || !slices.Equal(got, []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}) {
		t.Errorf("got %x, %v", got, err)
	}
	for _, bad := range []string{"", "TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA,,"} {
		if _, err := ParseCipherSuites(bad); err == nil || !strings.Contains(err.Error(), "cipher suite") {
			t.Errorf("ParseCipherSuites(%q): %v, want an error naming the suite", bad, err)
		}
	}
}

func FuzzParseCipherSuites(f *testing.F) {
	f.Add("TLS_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
	f.Add(",")
	f.Fuzz(func(t *testing.T, list string) {
		ids, err := ParseCipherSuites(list)
		if err != nil {
			return
		}
		if len(ids) != strings.Count(list, ",")+1 {
			t.Fatalf("%q: %d suites", list, len(ids))
		}
		for _, id := range ids {
			if name := tls.CipherSuiteName(id); !strings.Contains(list, name) {
				t.Fatalf("%q: suite %s not in the list", list, name)
			}
		}
	})
}
