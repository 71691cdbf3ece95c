//go:build unix

package integration

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestBinarySocketActivation: a listening socket that a service manager passed (LISTEN_PID,
// LISTEN_FDS, descriptor 3: systemd's socket activation) is the one muxgate serves its listener
// on, and another passed for no listener is closed.
func TestBinarySocketActivation(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	bin := needBinary(t)
	var files []*os.File
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		ln.Close() // the descriptor f dup'ed keeps the socket open, for muxgate alone
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
		addrs = append(addrs, ln.Addr().String())
	}
	// The shell names its own process ID, which exec hands to muxgate, as systemd names the one it
	// starts.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" "$@"`, bin,
		"-upstream", u.url, "-listen", addrs[0], "-access-log", "off", "-log-format", "json")
	cmd.ExtraFiles = files
	p := launchCmd(t, cmd, bin, false)
	clear, _ := p.waitServing(1)
	if clear[0] != addrs[0] {
		t.Fatalf("serving on %s, want the socket passed, %s", clear[0], addrs[0])
	}
	for _, f := range files {
		f.Close() // muxgate holds the sockets now
	}
	if resp, body := get(t, newClient(t), "http://"+addrs[0]+"/bytes/3"); resp.StatusCode != http.StatusOK || body != "abc" {
		t.Errorf("through the socket passed: %s %q", resp.Status, body)
	}
	if c, err := net.Dial("tcp", addrs[1]); err == nil {
		c.Close()
		t.Errorf("the socket passed for no listener still takes connections")
	}
	log := p.stderrText()
	if !strings.Contains(log, "socket activation: taking the listening sockets passed") || !strings.Contains(log, "a socket passed for no listener") {
		t.Errorf("the log does not tell of the sockets passed:\n%s", log)
	}
}
