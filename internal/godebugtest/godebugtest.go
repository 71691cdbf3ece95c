// Package godebugtest runs a test under a GODEBUG setting that a package
// reads only once, at init: x/net's and net/http's HTTP/2 servers announce
// extended CONNECT (RFC 8441) only with http2xconnect=1 in the environment
// of the process (golang/go#71128), so a test that needs such a server runs
// in a child process of its test binary.
package godebugtest

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// XConnect is the setting that makes x/net's and net/http's HTTP/2 servers
// announce SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
const XConnect = "http2xconnect=1"

// Run reports whether the test t runs with setting in GODEBUG; the caller
// then goes on with the test. If not, Run runs t alone in a child process
// of the test binary with setting added to GODEBUG, fails t if the child
// fails or does not run it, and returns false: the caller returns at once.
func Run(t *testing.T, setting string) bool {
	t.Helper()
	godebug := os.Getenv("GODEBUG")
	if slices.Contains(strings.Split(godebug, ","), setting) {
		return true
	}
	if godebug != "" {
		setting = godebug + "," + setting
	}
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG="+setting)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s with GODEBUG=%s in a child process: %v\n%s", t.Name(), setting, err, out)
	}
	return false
}

// runPattern is the -test.run pattern that matches the test named name,
// subtests included, and no other.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
