// Package certs loads the certificates muxgate serves to its clients (and shows its upstream),
// picks one by SNI, reloads them from disk on request, and makes self-signed ones for tries and
// tests.
package certs

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Pair names a certificate chain and its key, both PEM files.
type Pair struct {
	CertFile string
	KeyFile  string
}

// Store holds the serving certificates. It is safe for concurrent use: GetCertificate may run
// during Reload and sees either the old set or the new one, never a mix.
type Store struct {
	pairs []Pair

	mu    sync.RWMutex      // guards certs
	certs []tls.Certificate // guarded by mu; in the order of pairs, the first is the default

	tickets *Tickets   // set by UseTickets, before ServerConfig; nil: crypto/tls's keys
	policy  Policy     // set by UsePolicy, before ServerConfig
	client  ClientAuth // set by UseClientAuth, before ServerConfig

	clientCAs *x509.CertPool // guarded by mu; from client.CAFile, reloaded with the certificates

	once   sync.Once
	config *tls.Config // ServerConfig's, made once
}

// Load reads every pair; an error names the file that failed.
func Load(pairs ...Pair) (*Store, error) {
	if len(pairs) == 0 {
		return nil, errors.New("certs: no certificate given")
	}
	s := &Store{pairs: pairs}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// FromCertificates serves certificates already in memory (tests, the demo); Reload keeps them.
func FromCertificates(certs ...tls.Certificate) *Store {
	return &Store{certs: certs}
}

// Reload reads the files again, the client CA file too (UseClientAuth). On error the
// certificates and CAs in use stay as they were.
func (s *Store) Reload() error {
	var cas *x509.CertPool
	if s.client.CAFile != "" {
		var err error
		if cas, err = LoadPoolFile(s.client.CAFile); err != nil {
			return err
		}
	}
	if len(s.pairs) == 0 {
		s.mu.Lock()
		s.clientCAs = cas
		s.mu.Unlock()
		return nil
	}
	loaded := make([]tls.Certificate, 0, len(s.pairs))
	for _, p := range s.pairs {
		c, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return fmt.Errorf("certs: load %s: %w", p.CertFile, err)
		}
		if c.Leaf == nil && len(c.Certificate) > 0 {
			c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		loaded = append(loaded, c)
	}
	s.mu.Lock()
	s.certs = loaded
	s.clientCAs = cas
	s.mu.Unlock()
	return nil
}

// GetCertificate picks the first certificate that the client can use whose names match its
// SNI; where none does, or the client sent no SNI (as some old clients do not), the first one
// the client can use; else the first certificate. So an ECDSA and an RSA certificate for one
// name serve clients that take ECDSA and those that take only RSA alike. It fits
// tls.Config.GetCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.certs) == 0 {
		return nil, errors.New("certs: store is empty")
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		for i := range s.certs {
			if hello.SupportsCertificate(&s.certs[i]) == nil && matches(&s.certs[i], name) {
				return &s.certs[i], nil
			}
		}
	}
	for i := range s.certs {
		if hello.SupportsCertificate(&s.certs[i]) == nil {
			return &s.certs[i], nil
		}
	}
	return &s.certs[0], nil
}

// GetClientCertificate gives the store's first certificate to a server that asks for one: the
// certificate muxgate shows its upstream (-upstream-cert), reloaded with the others. It fits
// tls.Config.GetClientCertificate. A server that accepts none of what it names still gets it,
// and refuses the handshake itself, which says more than a certificate withheld.
func (s *Store) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.certs) == 0 {
		return nil, errors.New("certs: store is empty")
	}
	return &s.certs[0], nil
}

func matches(c *tls.Certificate, name string) bool {
	if c.Leaf == nil {
		return false
	}
	return c.Leaf.VerifyHostname(name) == nil
}

// ServerConfig returns the TLS configuration of the HTTP/1.x listeners, the same one for all of
// them: ALPN http/1.1 (and http/1.0, which curl --http1.0 offers alone), TLS 1.2 at least,
// certificates from the store. Its session tickets are shared by every listener, so that a
// client resumes on any, and hold the SNI name they were issued under: a session resumes only
// under the same name (RFC 6066 3), which crypto/tls leaves to its user.
func (s *Store) ServerConfig() *tls.Config {
	s.once.Do(func() { s.config = s.newServerConfig() })
	return s.config
}

// UsePolicy has ServerConfig's configuration take pol's protocol versions and cipher suites. It
// must come before ServerConfig.
func (s *Store) UsePolicy(pol Policy) { s.policy = pol }

// UseTickets has ServerConfig's configuration seal and open session tickets with t's keys, in
// place of keys that crypto/tls makes and keeps to itself. It must come before ServerConfig.
func (s *Store) UseTickets(t *Tickets) { s.tickets = t }

func (s *Store) newServerConfig() *tls.Config {
	c := &tls.Config{
		MinVersion:     cmp.Or(s.policy.MinVersion, tls.VersionTLS12),
		CipherSuites:   s.policy.CipherSuites,
		NextProtos:     nextProtos(s.policy.HTTP2),
		GetCertificate: s.GetCertificate,
	}
	c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(ss.Extra, sniTag(cs.ServerName))
		return c.EncryptTicket(cs, ss)
	}
	c.UnwrapSession = func(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := c.DecryptTicket(ticket, cs)
		if err != nil || ss == nil {
			return nil, err
		}
		tag := sniTag(cs.ServerName)
		if !slices.ContainsFunc(ss.Extra, func(e []byte) bool { return bytes.Equal(e, tag) }) {
			return nil, nil // a full handshake instead
		}
		return ss, nil
	}
	if s.tickets != nil {
		s.tickets.use(c)
	}
	if s.policy.HTTP2 {
		c.GetConfigForClient = withoutH2Where(c)
	}
	if s.client.CAFile != "" {
		// Verified here rather than by ClientCAs, so that a reload changes the CAs, and on
		// every handshake, resumed ones included.
		c.ClientAuth = tls.RequireAnyClientCert
		if s.client.Optional {
			c.ClientAuth = tls.RequestClientCert
		}
		c.VerifyConnection = s.verifyClient
	}
	return c
}

// sniTag is what a session ticket keeps of the SNI name it was issued under; names compare
// without regard to case or a trailing dot.
func sniTag(name string) []byte {
	return []byte("sni:" + strings.ToLower(strings.TrimSuffix(name, ".")))
}
