//go:build unix

package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// apacheModules is where Debian's apache2 package puts the modules the tests load.
const apacheModules = "/usr/lib/apache2/modules"

// apachePeer is an Apache httpd (mod_http2, an HTTP/2 implementation of its own on nghttp2's
// library, with its own flow control, GOAWAY and restart behaviour) that a test started on two
// loopback ports.
type apachePeer struct {
	// h2c and h2 are its ports, 127.0.0.1:PORT: HTTP/2 with prior knowledge, and HTTP/2 over
	// TLS (ALPN h2) with serverCert.
	h2c, h2  string
	big      []byte // served at /big
	errorLog string // Apache's error log file
	cmd      *exec.Cmd
}

// apacheConf is the configuration startApache writes: static files, a CGI that echoes the
// request body once it has read all of it, and a 1-second keep-alive timeout, after which mod_http2
// closes an idle session with GOAWAY.
const apacheConf = `ServerRoot %[1]s
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
ServerName localhost
ErrorLog %[1]s/error.log
LogLevel warn http2:info
%[2]s
LoadModule mpm_event_module %[3]s/mod_mpm_event.so
LoadModule authz_core_module %[3]s/mod_authz_core.so
LoadModule http2_module %[3]s/mod_http2.so
LoadModule alias_module %[3]s/mod_alias.so
LoadModule cgid_module %[3]s/mod_cgid.so
LoadModule ssl_module %[3]s/mod_ssl.so
KeepAliveTimeout 1
DocumentRoot %[1]s/www
ScriptSock %[1]s/cgid.sock
ScriptAlias /echo %[1]s/cgi/echo
Listen %[4]s
Protocols h2c http/1.1
Listen %[5]s https
<VirtualHost %[5]s>
	SSLEngine on
	SSLCertificateFile %[6]s
	SSLCertificateKeyFile %[7]s
	Protocols h2 http/1.1
</VirtualHost>
`

// echoCGI answers with the request body, read whole first: a script that wrote while Apache
// still fed it the body would stall both.
const echoCGI = "#!/bin/sh\nf=$(mktemp)\ncat >\"$f\"\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\ncat \"$f\"\nrm -f \"$f\"\n"

// startApache runs Apache in the foreground until the test ends, and returns once both its
// ports accept connections. Run as root, it serves as www-data, which must read its files.
func startApache(t *testing.T) *apachePeer {
	t.Helper()
	bin := needTool(t, "apache2")
	if _, err := os.Stat(filepath.Join(apacheModules, "mod_http2.so")); err != nil {
		t.Fatalf("apache2 is installed but its modules are not where Debian puts them: %v", err)
	}
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "User www-data\nGroup www-data"
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := &apachePeer{h2c: freePort(t, upstreamKinds[0]), h2: freePort(t, upstreamKinds[0]), big: make([]byte, 1<<20)}
	rand.Read(a.big)
	certFile, keyFile := writePEM(t) // read by the parent, as root, before it starts the children
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"www/f", []byte(strings.Repeat("a", 100)), 0o644},
		{"www/big", a.big, 0o644},
		{"cgi/echo", []byte(echoCGI), 0o755},
		{"httpd.conf", fmt.Appendf(nil, apacheConf, dir, user, apacheModules, a.h2c, a.h2, certFile, keyFile), 0o644},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	a.errorLog = filepath.Join(dir, "error.log")
	a.cmd = exec.Command(bin, "-f", filepath.Join(dir, "httpd.conf"), "-DFOREGROUND")
	out := &logBuffer{}
	a.cmd.Stdout, a.cmd.Stderr = out, out
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("starting apache2: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		a.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		// SIGTERM, not SIGKILL: the parent ends its children, which would outlive it.
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("apache2 (pid %d) did not exit within 10s of SIGTERM", a.cmd.Process.Pid)
			a.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("apache2 output:\n%s\nerror log:\n%s", out.String(), lastLines(a.log(), 30))
		}
	})
	for _, addr := range []string{a.h2c, a.h2} {
		awaitAccepting(t, "apache2", addr, exited, out)
	}
	return a
}

// apacheGateway starts a gateway whose upstream is a's h2c port, or its TLS port.
func apacheGateway(t *testing.T, a *apachePeer, overTLS bool) *front {
	t.Helper()
	cfg := testConfig(&upstream{url: "h2c://" + a.h2c})
	if overTLS {
		cfg = testConfig(&upstream{url: "https://" + a.h2})
	}
	cfg.Pool.RetryBuffer = 64 << 10 // as muxgate's -retry-buffer: POSTs Apache did not take go again
	return startGateway(t, cfg)
}

// TestApacheInterop: clients reach Apache's mod_http2 through the gateway, over h2c and over
// TLS: small files from many clients at once, a 1 MiB file (Apache's flow-control windows and
// frame sizes), 3 MB request bodies echoed back (muxgate's send side against Apache's windows),
// and a request after Apache closed the idle session (KeepAliveTimeout, GOAWAY).
func TestApacheInterop(t *testing.T) {
	a := startApache(t)
	for _, overTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "h2c", true: "h2"}[overTLS], func(t *testing.T) {
			f := apacheGateway(t, a, overTLS)
			c := newClient(t)
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					for range 20 {
						if resp, body := get(t, c, f.url(false)+"/f"); resp.StatusCode != 200 || body != strings.Repeat("a", 100) {
							t.Errorf("client %d: /f: %s, %d bytes", i, resp.Status, len(body))
							return
						}
					}
				})
			}
			wg.Wait()
			if resp, body := get(t, c, f.url(false)+"/big"); resp.StatusCode != 200 || body != string(a.big) {
				t.Errorf("/big: %s, %d bytes; want 200 and the %d bytes of the file", resp.Status, len(body), len(a.big))
			}
			upload := make([]byte, 3_000_000)
			rand.Read(upload)
			for i := range 4 {
				wg.Go(func() {
					resp, err := c.Post(f.url(false)+"/echo", "application/octet-stream", bytes.NewReader(upload))
					if err != nil {
						t.Errorf("upload %d: %v", i, err)
						return
					}
					defer resp.Body.Close()
					echoed, err := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 || err != nil || !bytes.Equal(echoed, upload) {
						t.Errorf("upload %d: %s, %d of %d bytes echoed, %v", i, resp.Status, len(echoed), len(upload), err)
					}
				})
			}
			wg.Wait()
			if !f.logs.await(10*time.Second, func(log string) bool { return strings.Contains(log, `"debug":"timeout"`) }) {
				t.Fatal("Apache did not close the idle session (GOAWAY, timeout) within 10s")
			}
			if resp, body := get(t, c, f.url(false)+"/f"); resp.StatusCode != 200 || len(body) != 100 {
				t.Errorf("/f after the idle session's GOAWAY: %s, %d bytes", resp.Status, len(body))
			}
		})
	}
}

// TestApacheGracefulRestart: Apache restarted gracefully (SIGUSR1) four times while 32 clients keep
// sending requests, GETs and POSTs: its old children send GOAWAY on their sessions, the last
// stream first unknown (2^31-1), then the one they took, and close them once their streams are
// done. No request fails that Apache did not take: those go again on a new session (RFC 9113
// 6.8), although a POST may not be sent twice otherwise. One kind of failure is Apache's: now and
// then an old child ends a connection, by a reset or a close, with streams in flight that no
// GOAWAY excluded (a connection it accepted as it stopped, or one after a GOAWAY that named those
// streams as taken). The POSTs on it, which Apache may have processed, get 502 (RFC 9113 6.8,
// RFC 9110 9.2.2); the GETs are sent again once, and get 502 only where Apache ended that
// second session under them too. Each 502 must be one of those. (Apache's static handler
// answers a POST to /f with the file; its CGI is no use here: mod_cgid answers 503 while a
// restart restarts it.)
func TestApacheGracefulRestart(t *testing.T) {
	a := startApache(t)
	restart := func() error {
		before := strings.Count(a.log(), apacheUp)
		if err := a.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			return err
		}
		return awaitLines(a.log, apacheUp, before)
	}
	// muxgate's own engine only; h2's TestDialAgainAfterConnectionEnded covers both engines
	// against an upstream that ends new connections as Apache's old children do.
	f := apacheGateway(t, a, false)
	l := restartUnderLoad(t, f, "/f", strings.Repeat("a", 100), 4, restart)
	checkApacheFailures(t, f, l)
	t.Logf("%d requests served across 4 graceful restarts; %d POSTs on a connection Apache ended, and %d GETs on two, got 502",
		l.served, l.failedPosts, l.failedGets)
}

// apacheUp is what Apache's error log says once it serves, at its start and after each restart.
const apacheUp = "resuming normal operations"

// log returns Apache's error log so far.
func (a *apachePeer) log() string {
	b, _ := os.ReadFile(a.errorLog)
	return string(b)
}

// checkApacheFailures checks that f logged as many failed requests as got 502 in l, each failed
// because its session ended, which leaves the upstream's processing of it unknown, unlike a
// GOAWAY that said it was not processed: a POST's first session, a GET's second, after the one
// its resend followed (the error then says it may have been processed, and names that session).
// No more GETs failed than were sent again so.
func checkApacheFailures(t *testing.T, f *front, l loadOutcome) {
	t.Helper()
	const maybe = "pool: request possibly processed by the upstream before its session died: "
	var posts, gets, resends int64
	for line := range strings.Lines(f.logs.String()) {
		var r struct{ Message, Method, Error string }
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		if r.Message == "retrying request" && strings.HasPrefix(r.Error, maybe) {
			resends++
		}
		if r.Message != "request failed" {
			continue
		}
		switch {
		case r.Method == "POST" && strings.HasPrefix(r.Error, "pool: upstream session failed: h2: session "):
			posts++
		case r.Method == "GET" && strings.HasPrefix(r.Error, maybe+"h2: session "):
			gets++
		default:
			t.Errorf("a %s failed other than on a session that Apache ended: %s", r.Method, r.Error)
		}
	}
	if posts != l.failedPosts || gets != l.failedGets {
		t.Errorf("%d POSTs and %d GETs got 502, the gateway logged %d and %d failed on sessions Apache ended",
			l.failedPosts, l.failedGets, posts, gets)
	}
	if gets > resends {
		t.Errorf("%d GETs failed, and only %d requests were sent again after their session ended", gets, resends)
	}
}
