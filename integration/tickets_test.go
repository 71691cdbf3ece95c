//go:build unix

package integration

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// tlsGet sends a GET over a new TLS connection to addr with the given version and session cache
// and reports whether the session resumed. Reading the response reads TLS 1.3's session ticket
// too, which comes after the handshake.
func tlsGet(t *testing.T, addr string, version uint16, cache tls.ClientSessionCache) bool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"},
		MinVersion: version, MaxVersion: version, ClientSessionCache: cache})
	if err != nil {
		t.Fatalf("TLS %x to %s: %v", version, addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(rawDeadline))
	io.WriteString(c, "GET /bytes/5 HTTP/1.1\r\nHost: example.test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("TLS %x to %s: %v", version, addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("TLS %x to %s: %s", version, addr, resp.Status)
	}
	return c.ConnectionState().DidResume
}

var ticketVersions = map[string]uint16{"TLS 1.2": tls.VersionTLS12, "TLS 1.3": tls.VersionTLS13}

// TestBinaryUpgradeResumesTLS: the new process of an upgrade takes the old one's session ticket
// keys, so that clients resume their TLS sessions with it rather than each costing it a full
// handshake; the metrics count both kinds.
func TestBinaryUpgradeResumesTLS(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	certFile, keyFile := writePEM(t)
	p := launch(t, needBinary(t), nil, true, "-upstream", u.url, "-listen-tls", "127.0.0.1:0",
		"-cert", certFile, "-key", keyFile, "-metrics-listen", "127.0.0.1:0",
		"-log-format", "json", "-access-log", "off")
	_, addrs := p.waitServing(1)
	admin := "http://" + waitMessage(t, p, "serving metrics").str("listen")
	caches := map[string]tls.ClientSessionCache{}
	for name, v := range ticketVersions {
		caches[name] = tls.NewLRUClientSessionCache(4)
		tlsGet(t, addrs[0], v, caches[name])
		if !tlsGet(t, addrs[0], v, caches[name]) {
			t.Fatalf("%s: the session did not resume on the same process", name)
		}
	}

	p.signal(syscall.SIGUSR2)
	newPID := int(waitMessage(t, p, "upgrade: the new process serves; draining this one")["new_pid"].(float64))
	t.Cleanup(func() { endSuccessor(t, p, newPID) })
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("the old process's exit code %d, want 0", code)
	}
	for name, v := range ticketVersions {
		if !tlsGet(t, addrs[0], v, caches[name]) {
			t.Errorf("%s: the session did not resume with the new process", name)
		}
	}
	m := scrape(t, admin)
	for _, v := range []string{"1.2", "1.3"} {
		full, resumed := m[`muxgate_client_tls_handshakes_total{resumed="false",version="`+v+`"}`], m[`muxgate_client_tls_handshakes_total{resumed="true",version="`+v+`"}`]
		if full != 0 || resumed != 1 {
			t.Errorf("the new process's metrics: %v full and %v resumed TLS %s handshakes, want 0 and 1", full, resumed, v)
		}
	}
}

// TestBinaryTicketKeysFile: two processes given the same -tls-ticket-keys resume each other's
// sessions, and SIGHUP reads the file again; processes with keys of their own do not.
func TestBinaryTicketKeysFile(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	certFile, keyFile := writePEM(t)
	keys := filepath.Join(t.TempDir(), "ticket-keys")
	writeKeys := func(fill byte) {
		t.Helper()
		k := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(fill)), 32)))
		if err := os.WriteFile(keys, []byte("# muxgate's session ticket keys\n"+k+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := func(extra ...string) (*proc, string) {
		t.Helper()
		args := append([]string{"-upstream", u.url, "-listen-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
			"-log-format", "json", "-access-log", "off"}, extra...)
		p := startBinary(t, args...)
		_, addrs := p.waitServing(1)
		return p, addrs[0]
	}
	writeKeys('a')
	_, one := start("-tls-ticket-keys", keys)
	p2, two := start("-tls-ticket-keys", keys)
	_, own := start()
	for name, v := range ticketVersions {
		cache := tls.NewLRUClientSessionCache(4)
		tlsGet(t, one, v, cache)
		if !tlsGet(t, two, v, cache) {
			t.Errorf("%s: a session of one process did not resume on another with the same key file", name)
		}
		if tlsGet(t, own, v, cache) {
			t.Errorf("%s: a session resumed on a process with keys of its own", name)
		}
	}

	writeKeys('b')
	p2.signal(syscall.SIGHUP)
	waitMessage(t, p2, "session ticket keys reloaded")
	for name, v := range ticketVersions {
		cache := tls.NewLRUClientSessionCache(4)
		tlsGet(t, one, v, cache)
		if tlsGet(t, two, v, cache) {
			t.Errorf("%s: a session resumed with a key taken out of the file", name)
		}
	}

	os.WriteFile(keys, []byte("not a key\n"), 0o600)
	p2.signal(syscall.SIGHUP)
	waitMessage(t, p2, "session ticket key reload failed, keeping the old ones")
	code, _, stderr := runBinary(t, "-upstream", u.url, "-listen-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
		"-tls-ticket-keys", keys)
	if code != 2 || !strings.Contains(stderr, "-tls-ticket-keys: certs: session ticket keys "+keys+": line 1") {
		t.Errorf("a bad key file at start: exit %d, %q; want 2 and the file's line named", code, stderr)
	}
}
