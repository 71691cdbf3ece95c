package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"reflect"
	"testing"
)

// TestClientCertFields: the end-entity certificate goes in Client-Cert and the rest in
// Client-Cert-Chain, as byte sequences; a client's own fields of those names are replaced, and
// dropped for a client without a certificate.
func TestClientCertFields(t *testing.T) {
	leaf, inter := &x509.Certificate{Raw: []byte("leaf")}, &x509.Certificate{Raw: []byte("ca-1")}
	r := &http.Request{TLS: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf, inter, inter}}}
	h := http.Header{"Client-Cert": {":c3Bvb2Y=:"}, "client-cert-chain": {"x"}, "A": {"1"}}
	setClientCert(h, r)
	want := http.Header{"Client-Cert": {":bGVhZg==:"}, "Client-Cert-Chain": {":Y2EtMQ==:, :Y2EtMQ==:"}, "A": {"1"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("with a chain: %v, want %v", h, want)
	}
	h = http.Header{"Client-Cert": {":c3Bvb2Y=:"}}
	setClientCert(h, &http.Request{})
	if len(h) != 0 {
		t.Errorf("without a certificate: %v, want the client's field dropped", h)
	}
}
