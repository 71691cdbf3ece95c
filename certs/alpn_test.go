package certs

import (
	"crypto/tls"
	"testing"
)

// TestWithoutH2: a listener that offers h2 gives it to a client that can have TLS 1.3, or TLS 1.2
// with an ECDHE AEAD suite, and http/1.1 to one limited to TLS 1.2 and CBC suites, which HTTP/2
// refuses (RFC 9113 9.2.2); a session resumed later still gets the listener's ticket keys.
func TestWithoutH2(t *testing.T) {
	ec, err := SelfSigned("a.test")
	if err != nil {
		t.Fatal(err)
	}
	suites, err := ParseCipherSuites("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA")
	if err != nil {
		t.Fatal(err)
	}
	store := FromCertificates(ec)
	store.UsePolicy(Policy{CipherSuites: suites, HTTP2: true})
	addr := listen(t, store)
	cache := tls.NewLRUClientSessionCache(4)
	for _, tc := range []struct {
		name   string
		max    uint16
		suites []uint16
		want   string
	}{
		{"TLS 1.3", 0, nil, "h2"},
		{"TLS 1.2, GCM", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, "h2"},
		{"TLS 1.2, CBC only", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, "http/1.1"},
		{"TLS 1.2, CBC only, resumed", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, "http/1.1"},
	} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "a.test", MaxVersion: tc.max,
			CipherSuites: tc.suites, NextProtos: []string{"h2", "http/1.1"}, ClientSessionCache: cache})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c.Read(make([]byte, 1)) // the listener's byte: the handshake, and a TLS 1.3 ticket, are through
		st := c.ConnectionState()
		c.Close()
		if st.NegotiatedProtocol != tc.want {
			t.Errorf("%s: ALPN %q (suite %s), want %q", tc.name, st.NegotiatedProtocol, tls.CipherSuiteName(st.CipherSuite), tc.want)
		}
		if tc.name == "TLS 1.2, CBC only, resumed" && !st.DidResume {
			t.Errorf("%s: a full handshake, want the session resumed with the listener's keys", tc.name)
		}
	}
}
