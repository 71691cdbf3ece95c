package certs

import (
	"crypto/tls"
	"io"
	"sync"
	"testing"
)

// anyNameCache is a client session cache that offers its one session to every server name, as
// a client that replays a ticket under another name does (openssl s_client -sess_in).
type anyNameCache struct {
	mu sync.Mutex
	cs *tls.ClientSessionState
}

func (c *anyNameCache) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cs, c.cs != nil
}

func (c *anyNameCache) Put(_ string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs != nil {
		c.cs = cs
	}
}

// TestResumptionBySNI: a session resumes on the same store's other listeners under the name it
// was issued under, and not under another name (RFC 6066 3), over TLS 1.2 and TLS 1.3.
func TestResumptionBySNI(t *testing.T) {
	a, err := SelfSigned("a.test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := SelfSigned("b.test")
	if err != nil {
		t.Fatal(err)
	}
	store := FromCertificates(a, b)
	one, two := listen(t, store), listen(t, store)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := &anyNameCache{}
		dial := func(addr, name string) bool {
			t.Helper()
			// Without verification, the client offers its session whatever the name, as
			// crypto/tls's client does not when it checks the name against the session's
			// certificate.
			cfg := &tls.Config{ServerName: name, ClientSessionCache: cache, InsecureSkipVerify: true,
				MinVersion: version, MaxVersion: version, NextProtos: []string{"http/1.1"}}
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatalf("TLS %x to %s as %s: %v", version, addr, name, err)
			}
			defer c.Close()
			io.ReadFull(c, make([]byte, 1)) // the server's byte: TLS 1.3 tickets come after the handshake
			return c.ConnectionState().DidResume
		}
		dial(one, "a.test")
		if dial(one, "b.test") {
			t.Errorf("TLS %x: a session of a.test resumed under b.test", version)
		}
		if dial(one, "a.test") { // the cache holds b.test's session now
			t.Errorf("TLS %x: a session of b.test resumed under a.test", version)
		}
		if !dial(two, "a.test") {
			t.Errorf("TLS %x: a session of a.test did not resume on the other listener under a.test", version)
		}
	}
}

// listen serves TLS with store's configuration on a loopback port, writing one byte to each
// client, until the test ends.
func listen(t *testing.T, store *Store) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", store.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.Write([]byte{1})
				io.Copy(io.Discard, c)
			})
		}
	})
	return ln.Addr().String()
}
