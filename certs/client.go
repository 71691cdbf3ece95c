package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ClientAuth has the TLS listeners ask each client for a certificate and verify it against
// the CA certificates of a file (mutual TLS): a client whose certificate does not verify, for
// client authentication, is refused its handshake.
type ClientAuth struct {
	CAFile   string // PEM CA certificates; "": no client certificate is asked for
	Optional bool   // a client that shows no certificate is served too; one that shows one must pass
}

// UseClientAuth has ServerConfig's configuration ask for and verify client certificates as ca
// says, and reads its CA file, which Reload reads again. It must come before ServerConfig.
func (s *Store) UseClientAuth(ca ClientAuth) error {
	s.client = ca
	if ca.CAFile == "" {
		return nil
	}
	pool, err := LoadPoolFile(ca.CAFile)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.clientCAs = pool
	s.mu.Unlock()
	return nil
}

// errNoClientCert refuses a client that showed no certificate where one is required.
var errNoClientCert = errors.New("certs: the client showed no certificate")

// verifyClient is tls.Config.VerifyConnection with client authentication: the client's chain
// must lead to one of the CAs now in use and allow client authentication (RFC 5280 4.2.1.12).
func (s *Store) verifyClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		if s.client.Optional {
			return nil
		}
		return errNoClientCert
	}
	s.mu.RLock()
	roots := s.clientCAs
	s.mu.RUnlock()
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("certs: client certificate: %w", err)
	}
	return nil
}
