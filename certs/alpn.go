package certs

import (
	"crypto/tls"
	"slices"
	"strings"
)

// HTTP/2 over TLS 1.2 takes only ephemeral key exchanges with AEAD ciphers (RFC 9113 9.2.2,
// Appendix A): x/net's server refuses a connection on another suite with INADEQUATE_SECURITY
// after the handshake. A client that offers h2 but shares no such suite with the listener (one
// limited to TLS 1.2 and CBC suites, where -tls-ciphers keeps those for old clients) would so
// fail where HTTP/1.1 serves it. Such a client is not offered h2.

// withoutH2Where is the GetConfigForClient of c, which offers h2: c without h2 for a client that
// could get no suite HTTP/2 allows (h2Allowed), nil (c itself) for the others.
func withoutH2Where(c *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if !slices.Contains(hello.SupportedProtos, "h2") || h2Allowed(hello, c) {
			return nil, nil
		}
		without := c.Clone()
		without.GetConfigForClient = nil
		without.NextProtos = slices.DeleteFunc(slices.Clone(c.NextProtos), func(p string) bool { return p == "h2" })
		return without, nil
	}
}

// h2Allowed reports whether a handshake of hello with c ends on what HTTP/2 allows: TLS 1.3, or
// TLS 1.2 with a suite both sides take that is an ECDHE key exchange with an AEAD cipher, which
// crypto/tls prefers to the others.
func h2Allowed(hello *tls.ClientHelloInfo, c *tls.Config) bool {
	if slices.Contains(hello.SupportedVersions, tls.VersionTLS13) && (c.MaxVersion == 0 || c.MaxVersion >= tls.VersionTLS13) {
		return true
	}
	ours := c.CipherSuites
	if ours == nil {
		for _, cs := range tls.CipherSuites() {
			ours = append(ours, cs.ID)
		}
	}
	for _, id := range hello.CipherSuites {
		if slices.Contains(ours, id) && h2Suite(id) {
			return true
		}
	}
	return false
}

// h2Suite reports whether the TLS 1.2 suite id is one HTTP/2 allows: ECDHE with AES-GCM or
// ChaCha20-Poly1305.
func h2Suite(id uint16) bool {
	name := tls.CipherSuiteName(id)
	return strings.HasPrefix(name, "TLS_ECDHE_") && (strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20"))
}
