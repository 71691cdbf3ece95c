//go:build unix

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is the muxgate binary running as a subprocess. Its standard output (the access log) and
// standard error (the process log) are collected line by line.
type proc struct {
	t   testing.TB
	cmd *exec.Cmd

	stdoutLines chan string // every line of standard output; sent by the stdout reader, closed at EOF
	stderrLines chan string // every line of standard error; sent by the stderr reader, closed at EOF

	mu     sync.Mutex // guards stderr
	stderr strings.Builder

	exited     chan struct{} // closed by the waiter once the process has exited
	outputDone chan struct{} // closed once the output readers reached the end of both pipes
	exitErr    error         // set by the waiter before exited is closed
}

// startBinary runs muxgate with args. The process is killed, if still running, when the test ends.
func startBinary(t testing.TB, args ...string) *proc {
	t.Helper()
	return startBinaryEnv(t, nil, args...)
}

// startBinaryEnv is startBinary with env added to the test's environment.
func startBinaryEnv(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	return launch(t, needBinary(t), env, false, args...)
}

// launch runs the program at path with args and env added to the test's environment. With
// shared, its output may outlive it, in a process it started (an upgrade's): the output is read
// through pipes of the test's own, until every process that holds them has ended (outputDone),
// and exited does not wait for that.
func launch(t testing.TB, path string, env []string, shared bool, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return launchCmd(t, cmd, path, shared)
}

// launchCmd is launch for a command made by the caller (one that runs the binary at path through
// a shell, with descriptors of its own, say).
func launchCmd(t testing.TB, cmd *exec.Cmd, path string, shared bool) *proc {
	t.Helper()
	p := &proc{
		t:           t,
		cmd:         cmd,
		stdoutLines: make(chan string, 1024),
		stderrLines: make(chan string, 1024),
		exited:      make(chan struct{}),
		outputDone:  make(chan struct{}),
	}
	stdout, stderr, closeWriters := p.outputPipes(shared)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.cmd, err)
	}
	closeWriters()
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		p.readLines(stdout, p.stdoutLines, nil)
	}()
	go func() {
		defer readers.Done()
		p.readLines(stderr, p.stderrLines, &p.stderr)
	}()
	go func() {
		readers.Wait()
		close(p.outputDone)
	}()
	go func() {
		if !shared {
			// Wait may be called only after the pipes have been read to their end.
			<-p.outputDone
		}
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				t.Errorf("muxgate (pid %d) did not exit within 10s of SIGKILL", p.cmd.Process.Pid)
			}
		}
		if shared {
			p.killSuccessors(path)
		}
		if t.Failed() {
			t.Logf("muxgate stderr:\n%s", p.stderrText())
		}
	})
	return p
}

// newPIDPattern finds the processes an upgrade started in a process log.
var newPIDPattern = regexp.MustCompile(`"new_pid":(\d+)`)

// killSuccessors kills, where a test left them running (it failed before it ended them), the
// processes that upgrades of p started: those its log names that still run the program at
// path.
func (p *proc) killSuccessors(path string) {
	for _, m := range newPIDPattern.FindAllStringSubmatch(p.stderrText(), -1) {
		pid, _ := strconv.Atoi(m[1])
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.HasPrefix(string(cmdline), path+"\x00") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// outputPipes returns the read ends of the pipes p's process writes its output to, and a
// function that closes the test's copies of their write ends once it has started.
func (p *proc) outputPipes(shared bool) (stdout, stderr io.Reader, closeWriters func()) {
	if !shared {
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			p.t.Fatal(err)
		}
		errOut, err := p.cmd.StderrPipe()
		if err != nil {
			p.t.Fatal(err)
		}
		return out, errOut, func() {}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		p.t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { outR.Close(); errR.Close() })
	p.cmd.Stdout, p.cmd.Stderr = outW, errW
	return outR, errR, func() { outW.Close(); errW.Close() }
}

// readLines sends every line of r to lines (dropping lines nobody reads once lines is full) and
// appends it to keep, if given.
func (p *proc) readLines(r io.Reader, lines chan<- string, keep *strings.Builder) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if keep != nil {
			p.mu.Lock()
			keep.WriteString(line + "\n")
			p.mu.Unlock()
		}
		select {
		case lines <- line:
		default:
		}
	}
	io.Copy(io.Discard, r)
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// repeatedKeys returns the keys that the JSON object in line names more than once, at its top
// level. A reader of such a line keeps one of the values, and which one depends on the reader.
func repeatedKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %q", line)
	}
	seen := map[string]bool{}
	var repeated []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := tok.(string)
		if seen[k] {
			repeated = append(repeated, k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return repeated, nil
}

// logLine is one JSON line of muxgate's process or access log.
type logLine map[string]any

func (l logLine) str(k string) string {
	switch v := l[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// waitLine reads lines until one is a JSON object for which match is true, within limit.
func waitLine(t testing.TB, lines <-chan string, what string, limit time.Duration, match func(logLine) bool) logLine {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("muxgate's output ended before %s", what)
			}
			var l logLine
			if json.Unmarshal([]byte(line), &l) == nil && match(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, limit)
		}
	}
}

// waitServing waits for the process log to announce n listeners and returns their addresses,
// clear-text ones first, in the order they were announced.
func (p *proc) waitServing(n int) (clear, tlsAddrs []string) {
	p.t.Helper()
	for range n {
		l := waitLine(p.t, p.stderrLines, `"serving" log line`, 20*time.Second, func(l logLine) bool {
			return l.str("message") == "serving"
		})
		if l.str("tls") == "true" {
			tlsAddrs = append(tlsAddrs, l.str("listen"))
		} else {
			clear = append(clear, l.str("listen"))
		}
	}
	return clear, tlsAddrs
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits, bounded, for the process to exit and returns its exit code.
func (p *proc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(limit):
		p.t.Fatalf("muxgate did not exit within %v", limit)
	}
	if p.exitErr == nil {
		return 0
	}
	if ee, ok := p.exitErr.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.t.Fatalf("muxgate was killed by %v", ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatalf("muxgate: %v", p.exitErr)
	return -1
}

// runBinary runs muxgate with args to its end, bounded, and returns its exit code and output.
func runBinary(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, needBinary(t), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("muxgate %s still ran after 20s (it should have exited)\nstderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("muxgate %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errOut.String()
}

// memStatus reads the resident set size and its high-water mark of process pid, in bytes.
func memStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: unexpected %q", pid, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}
