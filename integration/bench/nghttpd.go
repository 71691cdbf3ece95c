//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Upstream servers for -upstream-server.
const (
	serverGo      = "go"      // internal/demo in the bench process: the default
	serverNghttpd = "nghttpd" // nghttp2's server in a process of its own, serving static files
)

// nghttpd is nghttp2's HTTP/2 server as the proxies' h2c upstream. It answers from one event
// loop at a fraction of the Go demo's CPU per request, so on the shared cores the proxies, not
// the upstream, bound the requests per second. It serves the scenarios' bodies as files: the
// file bytes/N holds N bytes.
type nghttpd struct {
	proc *proc
	addr string
	port int
}

// startNghttpd writes the files the scenarios ask for under dir/htdocs and starts nghttpd on a
// free loopback port with one worker thread.
func startNghttpd(bin, dir string) (*nghttpd, error) {
	root := filepath.Join(dir, "htdocs")
	if err := writeBodies(root); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--no-tls", "--htdocs="+root, "--workers=1", strconv.Itoa(port))
	p, err := startProc("nghttpd", cmd)
	if err != nil {
		return nil, err
	}
	n := &nghttpd{proc: p, port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	if err := n.listening(10 * time.Second); err != nil {
		p.stop(time.Second)
		return nil, err
	}
	return n, nil
}

// writeBodies writes bytes/N for every scenario path /bytes/N, and bytes/1 for the readiness
// probe.
func writeBodies(root string) error {
	paths := []string{"/bytes/1"}
	for _, s := range scenarios {
		paths = append(paths, s.path)
	}
	for _, p := range paths {
		n, err := strconv.Atoi(strings.TrimPrefix(p, "/bytes/"))
		if err != nil || !strings.HasPrefix(p, "/bytes/") {
			return fmt.Errorf("nghttpd: no file for %s", p)
		}
		name := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, bytes.Repeat([]byte{'x'}, n), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// listening waits until nghttpd accepts connections.
func (n *nghttpd) listening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if n.proc.exited() {
			return fmt.Errorf("nghttpd: exited during start-up (%v): %s", n.proc.waitErr, tail(n.proc.out.String(), 600))
		}
		c, err := net.DialTimeout("tcp", n.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nghttpd: not listening after %v: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpu is nghttpd's CPU time so far.
func (n *nghttpd) cpu() time.Duration {
	st, err := readStat(n.proc.pid())
	if err != nil {
		return 0
	}
	return st.cpu
}

// established counts the connections nghttpd holds open now. nghttpd keeps no count of the
// connections it accepted; each proxy is started fresh for its run and keeps its sessions open,
// so at a run's end these are that proxy's.
func (n *nghttpd) established() int64 {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0
	}
	return countEstablished(string(b), n.port)
}

// countEstablished counts the sockets in the text of /proc/net/tcp that are ESTABLISHED and
// whose local port is port: the server's side of each connection to it, not the client's.
func countEstablished(text string, port int) int64 {
	local := fmt.Sprintf(":%04X", port)
	var count int64
	// Not a bufio.Scanner, which stops without a word at a line past 64 KiB and so would
	// miss every connection after it.
	for line := range strings.Lines(text) {
		// sl local_address rem_address st ...; st 01 is ESTABLISHED.
		fields := strings.Fields(line)
		if len(fields) > 3 && strings.HasSuffix(fields[1], local) && fields[3] == "01" {
			count++
		}
	}
	return count
}
