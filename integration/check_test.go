//go:build unix

package integration

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryCheck: -check says whether a configuration is good without binding its ports (one
// in use passes) or dialing its upstreams, and names the first fault with exit code 2.
func TestBinaryCheck(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	certFile, keyFile := writePEM(t)
	good := []string{"-check", "-listen", busy.Addr().String(), "-listen-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
		"-upstream", "h2c://127.0.0.1:1", "-upstream", "h2c://127.0.0.1:2", "-health-check", "/healthz"}
	if code, stdout, stderr := runBinary(t, good...); code != 0 || !strings.Contains(stdout, "the configuration is good") {
		t.Errorf("a good configuration: exit %d, %q, %q; want 0 and it said good", code, stdout, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen-tls", "127.0.0.1:0", "-cert", filepath.Join(t.TempDir(), "missing.pem"), "-key", keyFile}, "missing.pem"},
		{[]string{"-listen", "127.0.0.1:99999"}, "invalid port"},
		{[]string{"-upstream", "h2c://127.0.0.1"}, "h2c needs a port"},
		{[]string{"-request-id-header", "X Bad"}, "request"},
	} {
		args := append([]string{"-check", "-upstream", "h2c://127.0.0.1:1"}, tc.args...)
		if code, _, stderr := runBinary(t, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestBinaryVersion: -version prints the build and exits, whatever else the flags lack.
func TestBinaryVersion(t *testing.T) {
	code, stdout, stderr := runBinary(t, "-version")
	if code != 0 || !strings.HasPrefix(stdout, "muxgate ") || !strings.Contains(stdout, " go1.") {
		t.Errorf("-version: exit %d, %q, %q; want 0 and the build", code, stdout, stderr)
	}
}
