package certs

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// issue is Issue, failing t on error.
func issue(t *testing.T, ca tls.Certificate, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	c, err := Issue(ca, name, usage)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeCA writes ca's certificate as a PEM file at path.
func writeCA(t *testing.T, path string, ca tls.Certificate) {
	t.Helper()
	pem, _, err := PEM(ca)
	if err == nil {
		err = os.WriteFile(path, pem, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// clientHandshake connects to addr showing cert (none if nil) and reports the handshake's
// error, which a TLS 1.3 server sends after the client's Finished: the client learns it on its
// first read.
func clientHandshake(addr string, cert *tls.Certificate) error {
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = io.ReadFull(c, make([]byte, 1))
	return err
}

// TestClientAuth: a client certificate issued by the CA file's CA for client authentication
// passes; none, another CA's, or one for server authentication does not; with Optional, none
// passes too; a reload of the CA file changes which pass.
func TestClientAuth(t *testing.T) {
	server, err := SelfSigned("a.test")
	if err != nil {
		t.Fatal(err)
	}
	ca1, _ := SelfSigned("ca one")
	ca2, _ := SelfSigned("ca two")
	good, other, serverOnly := issue(t, ca1, "device-1", x509.ExtKeyUsageClientAuth), issue(t, ca2, "device-2", x509.ExtKeyUsageClientAuth), issue(t, ca1, "device-3", x509.ExtKeyUsageServerAuth)
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	writeCA(t, caFile, ca1)
	for _, optional := range []bool{false, true} {
		store := FromCertificates(server)
		if err := store.UseClientAuth(ClientAuth{CAFile: caFile, Optional: optional}); err != nil {
			t.Fatal(err)
		}
		addr := listen(t, store)
		if err := clientHandshake(addr, &good); err != nil {
			t.Errorf("optional %v: the CA's client certificate: %v", optional, err)
		}
		for name, cert := range map[string]*tls.Certificate{"another CA's": &other, "a server certificate": &serverOnly} {
			if err := clientHandshake(addr, cert); err == nil {
				t.Errorf("optional %v: %s passed", optional, name)
			}
		}
		if err := clientHandshake(addr, nil); (err == nil) != optional {
			t.Errorf("optional %v: no certificate: %v", optional, err)
		}
	}

	store := FromCertificates(server)
	store.UseClientAuth(ClientAuth{CAFile: caFile})
	addr := listen(t, store)
	// A session that good began resumes until its CA is taken out; then even its resumption is
	// refused.
	cache := tls.NewLRUClientSessionCache(1)
	resume := func() (bool, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{good}, ClientSessionCache: cache})
		if err != nil {
			return false, err
		}
		defer c.Close()
		_, err = io.ReadFull(c, make([]byte, 1))
		return c.ConnectionState().DidResume, err
	}
	resume()
	if resumed, err := resume(); !resumed || err != nil {
		t.Fatalf("a second connection: resumed %v, %v; want a resumption", resumed, err)
	}
	writeCA(t, caFile, ca2)
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if clientHandshake(addr, &good) == nil || clientHandshake(addr, &other) != nil {
		t.Error("after a reload with the other CA, the clients that pass did not change")
	}
	if _, err := resume(); err == nil {
		t.Error("a session of a CA taken out resumed")
	}
	os.WriteFile(caFile, []byte("no PEM"), 0o600)
	if err := store.Reload(); err == nil {
		t.Error("a reload of a CA file without a certificate: no error")
	}
	if clientHandshake(addr, &other) != nil {
		t.Error("a failed reload changed the CAs")
	}
}
