package gateway

import (
	"encoding/base64"
	"net/http"
	"strings"

	"muxgate/internal/fieldlist"
)

// With Config.ClientCertFields, the certificate a client showed (mutual TLS) goes upstream in
// the fields of RFC 9440: Client-Cert, the end-entity certificate, and Client-Cert-Chain, the
// certificates that came with it, each DER as a structured-field byte sequence (":base64:"). The
// fields a client sends under these names are dropped, whether or not it showed a certificate:
// only the gateway may say who the client is (RFC 9440 4).

// clientCertFields returns the Client-Cert field and, if there are more certificates, the
// Client-Cert-Chain field for r's client, whose connection's handshake verified them; none for a
// client that showed no certificate.
func clientCertFields(r *http.Request) []fieldlist.Field {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	certs := r.TLS.PeerCertificates
	fields := []fieldlist.Field{{Name: "client-cert", Value: byteSequence(certs[0].Raw)}}
	if len(certs) > 1 {
		chain := make([]string, len(certs)-1)
		for i, c := range certs[1:] {
			chain[i] = byteSequence(c.Raw)
		}
		fields = append(fields, fieldlist.Field{Name: "client-cert-chain", Value: strings.Join(chain, ", ")})
	}
	return fields
}

// byteSequence is b as a structured-field byte sequence (RFC 8941 3.3.5).
func byteSequence(b []byte) string {
	return ":" + base64.StdEncoding.EncodeToString(b) + ":"
}

// clientCertName reports whether name is one of the fields clientCertFields writes.
func clientCertName(name string) bool {
	return fieldlist.SameName(name, "client-cert") || fieldlist.SameName(name, "client-cert-chain")
}

// setClientCert puts r's client certificate fields in h in place of the client's own.
func setClientCert(h http.Header, r *http.Request) {
	for k := range h {
		if clientCertName(k) {
			delete(h, k)
		}
	}
	for _, f := range clientCertFields(r) {
		h[http.CanonicalHeaderKey(f.Name)] = []string{f.Value}
	}
}
