package certs

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Policy is what the client listeners accept of TLS: the lowest protocol version, and the
// cipher suites of TLS 1.0 to 1.2 (TLS 1.3's are not configurable in crypto/tls). The zero value
// is TLS 1.2 at least, with crypto/tls's default suites.
type Policy struct {
	MinVersion   uint16   // 0: TLS 1.2
	CipherSuites []uint16 // nil: crypto/tls's defaults
	// HTTP2 offers h2 by ALPN before http/1.1 (the listeners' server must take it: h1's
	// Config.HTTP2). False: HTTP/1.x alone.
	HTTP2 bool
}

// versions are the names ParseVersion takes.
var versions = map[string]uint16{
	"1.0": tls.VersionTLS10,
	"1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// ParseVersion reads a TLS version: 1.0, 1.1, 1.2 or 1.3.
func ParseVersion(v string) (uint16, error) {
	n, ok := versions[v]
	if !ok {
		return 0, fmt.Errorf("certs: TLS version %q: want 1.0, 1.1, 1.2 or 1.3", v)
	}
	return n, nil
}

// ParseCipherSuites reads a comma-separated list of cipher suite names as IANA gives them
// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), each one that crypto/tls implements for TLS 1.0 to
// 1.2, those it deems insecure included (the RSA key exchange and 3DES suites that old clients
// may need, which its defaults leave out).
func ParseCipherSuites(list string) ([]uint16, error) {
	known := map[string]uint16{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if cs.SupportedVersions[0] != tls.VersionTLS13 {
			known[cs.Name] = cs.ID
		}
	}
	var ids []uint16
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		id, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("certs: cipher suite %q: not one of crypto/tls's for TLS 1.0 to 1.2", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// nextProtos is the ALPN list of the client listeners (RFC 7301): h2 first where offered, then
// http/1.1, and http/1.0, which curl --http1.0 offers alone.
func nextProtos(h2 bool) []string {
	if h2 {
		return []string{"h2", "http/1.1", "http/1.0"}
	}
	return []string{"http/1.1", "http/1.0"}
}
