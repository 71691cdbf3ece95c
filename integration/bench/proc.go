//go:build linux

package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"muxgate/internal/porttest"
)

// proc is a target running as a child process of the bench, in the foreground.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer // the last of its standard output and error

	done    chan struct{} // closed by the wait goroutine when the process has exited
	waitErr error         // written by the wait goroutine before it closes done
}

// startProc starts cmd with its output captured. The child gets SIGKILL if the bench dies
// first, so that no proxy outlives an interrupted run.
func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, out: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ready waits until addr answers GET /bytes/1 with a complete status line (h2load counts a
// status line without a reason phrase as a failure), or fails after timeout or when the process
// exits.
func (p *proc) ready(addr string, useTLS bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s: exited during start-up (%v): %s", p.name, p.waitErr, tail(p.out.String(), 600))
		}
		if last = probe(addr, useTLS); last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: not ready after %v: %w; output: %s", p.name, timeout, last, tail(p.out.String(), 600))
}

// probe sends one request on a new connection and checks the status line.
func probe(addr string, useTLS bool) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if useTLS {
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET /bytes/1 HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") || len(line) == len("HTTP/1.1 200 ") {
		return fmt.Errorf("status line %q, want HTTP/1.1 200 with a reason phrase", line)
	}
	return nil
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after grace. Processes it forked
// (nghttpx's worker) are recorded first and killed by PID if they outlive it. A process that
// had already exited is an error: it died during the measurement.
func (p *proc) stop(grace time.Duration) error {
	type child struct {
		pid  int
		comm string
	}
	var children []child
	for _, pid := range tree(p.pid())[1:] {
		if st, err := readStat(pid); err == nil {
			children = append(children, child{pid, st.comm})
		}
	}
	died := p.exited()
	if !died {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
	for _, c := range children {
		// The PID may have been reused meanwhile; only a process of the same name is ours.
		if st, err := readStat(c.pid); err == nil && st.comm == c.comm {
			syscall.Kill(c.pid, syscall.SIGKILL)
		}
	}
	if died {
		return fmt.Errorf("%s: exited before it was stopped (%v): %s", p.name, p.waitErr, tail(p.out.String(), 600))
	}
	var exit *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &exit) {
		return fmt.Errorf("%s: %w", p.name, p.waitErr)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it, and the first tailBufferHead: a crash's
// cause comes before its goroutines' stacks, which can be longer than max.
type tailBuffer struct {
	mu    sync.Mutex // guards b and first
	b     []byte
	first []byte
	max   int
}

const tailBufferHead = 2 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := tailBufferHead - len(t.first); n > 0 {
		t.first = append(t.first, p[:min(n, len(p))]...)
	}
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// head returns at most the first n bytes written, n at most tailBufferHead, trimmed of space.
func (t *tailBuffer) head(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.first[:min(n, len(t.first))]))
}

// freePort returns a loopback TCP port that was free a moment ago, below the ephemeral range
// that h2load's connections and the proxies' upstream connections take theirs from (see
// porttest.Pick). Another process may still take it before the target binds it; the start then
// fails and says so.
func freePort() (int, error) {
	return porttest.Pick(true, false)
}

// writeFile writes a target's config into its run directory.
func writeFile(path, text string) error {
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
