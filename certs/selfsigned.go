package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// SelfSigned makes a certificate for hosts (names or IP addresses), valid for a day, signed by
// itself. It is for tries and tests only: nothing trusts it unless told to (see Pool).
func SelfSigned(hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: key: %w", err)
	}
	return selfSigned(key, x509.KeyUsageDigitalSignature, hosts)
}

// SelfSignedRSA is SelfSigned with a 2048-bit RSA key, which old clients that take no ECDSA
// need, and which the RSA key exchange (TLS_RSA_WITH_*) encrypts to.
func SelfSignedRSA(hosts ...string) (tls.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: key: %w", err)
	}
	return selfSigned(key, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, hosts)
}

func selfSigned(key crypto.Signer, usage x509.KeyUsage, hosts []string) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "muxgate self-signed"},
		KeyUsage:              usage | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, tmpl, key, key)
}

// sign completes tmpl (serial number, a day's validity) and signs it with parentKey as parent,
// for key.
func sign(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: serial: %w", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: parse: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Issue makes a certificate for name, valid for a day, signed by ca (one that SelfSigned made),
// for the extended key usage given: a client certificate for mutual TLS, say. For tries and
// tests only.
func Issue(ca tls.Certificate, name string, usage x509.ExtKeyUsage) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: key: %w", err)
	}
	caKey, ok := ca.PrivateKey.(crypto.Signer)
	if !ok || ca.Leaf == nil {
		return tls.Certificate{}, errors.New("certs: the CA has no parsed certificate or no signing key")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	return sign(tmpl, ca.Leaf, key, caKey)
}

// Pool returns a certificate pool that trusts the given certificates, for clients in tests.
func Pool(certs ...tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		if c.Leaf != nil {
			p.AddCert(c.Leaf)
		}
	}
	return p
}

// PEM encodes a certificate's chain and its key, to write them to files that curl, h2load and
// the -cert/-key flags read.
func PEM(c tls.Certificate) (certPEM, keyPEM []byte, err error) {
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadPoolFile reads LoadPool's PEM from the file at path; an error names the file.
func LoadPoolFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificates: %w", err)
	}
	pool, err := LoadPool(pem)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificates %s: %w", path, err)
	}
	return pool, nil
}

// LoadPool reads a PEM file of CA certificates for verifying an upstream.
func LoadPool(pemBytes []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("certs: no PEM certificate found")
	}
	return p, nil
}
