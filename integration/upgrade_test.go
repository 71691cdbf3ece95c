//go:build unix

package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestBinaryUpgrade: on SIGUSR2 muxgate starts the program anew, hands the new process its
// sockets and drains once it serves. Clients that keep coming lose no request, h2load's among
// them, which never sends a request again; a request in flight in the old process is answered
// there; and while the old process drains, the metrics port's /healthz answers 200, from the
// new one.
func TestBinaryUpgrade(t *testing.T) {
	h2load := needTool(t, "h2load")
	b := newBlocker(t)
	u := startUpstream(t, upstreamKinds[0], demo.Options{Handler: b.handler()})
	pidFile := filepath.Join(t.TempDir(), "muxgate.pid")
	certFile, keyFile := writePEM(t)
	// Two client listeners with one configured address: each must get its own socket back.
	p := launch(t, needBinary(t), nil, true, "-upstream", u.url, "-listen", "127.0.0.1:0",
		"-listen-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
		"-metrics-listen", "127.0.0.1:0", "-log-format", "json", "-shutdown-timeout", "20s",
		"-pid-file", pidFile)
	clear, tlsAddrs := p.waitServing(2)
	admin := "http://" + waitMessage(t, p, "serving metrics").str("listen")
	checkPIDFile(t, pidFile, p.cmd.Process.Pid)

	busy := dialRaw(t, clear[0], false)
	busy.send("GET /block/busy HTTP/1.1\r\nHost: example.test\r\n\r\n")
	b.waitEntered(t)
	load := startLoad(t, "http://"+clear[0]+"/bytes/100")
	load.await(200)
	// h2load's requests are those for /bytes/99: the first one in the access log says it runs.
	hl := exec.Command(h2load, "--h1", "-c", "16", "-n", "20000", "http://"+clear[0]+"/bytes/99")
	var hlOut strings.Builder
	hl.Stdout, hl.Stderr = &hlOut, &hlOut
	if err := hl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hl.Process.Kill() }) // a no-op once it has ended
	waitLine(t, p.stdoutLines, "h2load's first request in the access log", 20*time.Second, func(l logLine) bool {
		return l.str("target") == "/bytes/99"
	})

	p.signal(syscall.SIGUSR2)
	newPID := int(waitMessage(t, p, "upgrade: the new process serves; draining this one")["new_pid"].(float64))
	t.Cleanup(func() { endSuccessor(t, p, newPID) })
	checkPIDFile(t, pidFile, newPID)
	load.await(load.ok.Load() + 200)
	for range 5 {
		if code := healthz(t, admin); code != http.StatusOK {
			t.Errorf("/healthz during the old process's drain: %d, want 200 from the new process", code)
		}
	}

	b.unblock()
	resp, body := busy.response("GET")
	if resp.StatusCode != http.StatusOK || body != "released /block/busy" || !resp.Close {
		t.Errorf("the request in flight at SIGUSR2: %s %q (close %v), want 200 with Connection: close", resp.Status, body, resp.Close)
	}
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("the old process's exit code %d, want 0", code)
	}
	load.await(load.ok.Load() + 200)
	load.stop()
	if err := hl.Wait(); err != nil {
		t.Fatalf("h2load: %v\n%s", err, hlOut.String())
	}
	if r, err := parseH2load(hlOut.String()); err != nil || r.succeeded != 20000 {
		t.Errorf("h2load across the upgrade: %+v, %v; want all 20000 requests to succeed\n%s", r, err, hlOut.String())
	}
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across the upgrade; first: %v", n, n+load.ok.Load(), load.firstErr())
	} else {
		t.Logf("%d requests across the upgrade, none failed", load.ok.Load())
	}
	checkPIDFile(t, pidFile, newPID) // the old process left it as the new one wrote it
	tc := dialRaw(t, tlsAddrs[0], true)
	tc.send("GET /bytes/7 HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp, body := tc.response("GET"); resp.StatusCode != http.StatusOK || len(body) != 7 {
		t.Errorf("GET over TLS from the new process: %s with %d bytes, want 200 with 7", resp.Status, len(body))
	}
	endSuccessor(t, p, newPID)
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("-pid-file after the new process's exit: %v, want it removed", err)
	}
}

// checkPIDFile checks that path holds pid.
func checkPIDFile(t *testing.T, path string, pid int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != fmt.Sprintf("%d\n", pid) {
		t.Errorf("-pid-file holds %q (%v), want %d", b, err, pid)
	}
}

// TestBinaryUpgradeFails: an upgrade whose new process cannot start, or ends before it serves,
// is logged, and the old process serves on; the next SIGUSR2, with a program that works at the
// path again, upgrades. The path is the one the program was started by: a symbolic link, here,
// which an upgrade follows to where it points then.
func TestBinaryUpgradeFails(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	dir := t.TempDir()
	link := filepath.Join(dir, "muxgate")
	// install writes a program and points the link at it; the running program's file stays.
	install := func(name string, content []byte) {
		t.Helper()
		target := filepath.Join(dir, name)
		os.Remove(link)
		if err := errors.Join(os.WriteFile(target, content, 0o755), os.Symlink(target, link)); err != nil {
			t.Fatal(err)
		}
	}
	program, err := os.ReadFile(needBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	install("muxgate-1", program)
	p := launch(t, link, nil, true, "-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json")
	clear, _ := p.waitServing(1)
	url := "http://" + clear[0] + "/bytes/10"

	for _, c := range []struct {
		name, want string
		prepare    func()
	}{
		{"no program", "no such file", func() { os.Remove(link) }},
		{"a program that exits", "exit status 3", func() { install("exits", []byte("#!/bin/sh\nexit 3\n")) }},
	} {
		c.prepare()
		p.signal(syscall.SIGUSR2)
		l := waitMessage(t, p, "upgrade failed; this process serves on")
		if !strings.Contains(l.str("error"), c.want) {
			t.Errorf("%s: the failure logged is %q, want it to say %q", c.name, l.str("error"), c.want)
		}
		if code := statusOf(t, url); code != http.StatusOK {
			t.Errorf("%s: GET after the failed upgrade: %d, want 200", c.name, code)
		}
	}

	install("muxgate-2", program)
	p.signal(syscall.SIGUSR2)
	newPID := int(waitMessage(t, p, "upgrade: the new process serves; draining this one")["new_pid"].(float64))
	t.Cleanup(func() { endSuccessor(t, p, newPID) })
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("the old process's exit code %d, want 0", code)
	}
	if code := statusOf(t, url); code != http.StatusOK {
		t.Errorf("GET from the new process: %d, want 200", code)
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", newPID)); err == nil && exe != filepath.Join(dir, "muxgate-2") {
		t.Errorf("the new process runs %s, want the link's target, muxgate-2", exe)
	}
}

// waitMessage waits for p's process log line with this message.
func waitMessage(t *testing.T, p *proc, msg string) logLine {
	t.Helper()
	return waitLine(t, p.stderrLines, fmt.Sprintf("%q log line", msg), 20*time.Second, func(l logLine) bool {
		return l.str("message") == msg
	})
}

// endSuccessor ends pid, the process that an upgrade of p's started, with SIGTERM, and waits for
// it: its output, which it shares with p, ends with it.
func endSuccessor(t *testing.T, p *proc, pid int) {
	select {
	case <-p.outputDone:
		return // ended already
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM to the new process %d: %v", pid, err)
		return
	}
	select {
	case <-p.outputDone:
	case <-time.After(20 * time.Second):
		t.Errorf("the new process %d did not end within 20s of SIGTERM", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// statusOf returns the status of a GET of url on a connection of its own.
func statusOf(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func healthz(t *testing.T, admin string) int { return statusOf(t, admin+"/healthz") }

// loadRun is a bounded load of GETs from 8 clients, half of them on kept-alive connections and
// half on a new connection per request, until stop, 60 s, or 20,000 requests per client.
type loadRun struct {
	ok, failed atomic.Int64
	progress   chan struct{} // a token after each success, when nobody has taken the last one
	done       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	first      error
}

func startLoad(t *testing.T, url string) *loadRun {
	l := &loadRun{progress: make(chan struct{}, 1), done: make(chan struct{})}
	deadline := time.Now().Add(60 * time.Second)
	for i := range 8 {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: i%2 == 0}, Timeout: 10 * time.Second}
		l.wg.Go(func() {
			defer c.CloseIdleConnections()
			for n := 0; n < 20000 && time.Now().Before(deadline); n++ {
				select {
				case <-l.done:
					return
				default:
				}
				l.record(fetch(c, url))
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

// fetch GETs url, which must answer 200 with 100 bytes.
func fetch(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || n != 100) {
		err = fmt.Errorf("%s with %d bytes", resp.Status, n)
	}
	return err
}

func (l *loadRun) record(err error) {
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		if l.first == nil {
			l.first = err
		}
		l.mu.Unlock()
		return
	}
	l.ok.Add(1)
	select {
	case l.progress <- struct{}{}:
	default:
	}
}

// await waits, within 20 s, until n requests have succeeded.
func (l *loadRun) await(n int64) {
	timeout := time.After(20 * time.Second)
	for l.ok.Load() < n {
		select {
		case <-l.progress:
		case <-timeout:
			return // the caller's checks of the counts report it
		}
	}
}

func (l *loadRun) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}

func (l *loadRun) firstErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// TestBinaryNotify: under a service manager (NOTIFY_SOCKET), muxgate says READY=1 once it
// serves; an upgrade's new process says MAINPID= with its pid, and the old one says nothing as
// it drains, for the service goes on; SIGTERM's drain says STOPPING=1.
func TestBinaryNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	next := func(want string) {
		t.Helper()
		sock.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, 256)
		n, err := sock.Read(b)
		if err != nil || string(b[:n]) != want {
			t.Fatalf("notify socket: got %q, %v; want %q", b[:n], err, want)
		}
	}
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	p := launch(t, needBinary(t), []string{"NOTIFY_SOCKET=" + path}, true,
		"-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json")
	p.waitServing(1)
	next("READY=1")

	p.signal(syscall.SIGUSR2)
	newPID := int(waitMessage(t, p, "upgrade: the new process serves; draining this one")["new_pid"].(float64))
	t.Cleanup(func() { endSuccessor(t, p, newPID) })
	next(fmt.Sprintf("MAINPID=%d\nREADY=1", newPID))
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("the old process's exit code %d, want 0", code)
	}
	endSuccessor(t, p, newPID)
	next("STOPPING=1")
	// Both processes have ended: whatever they sent is queued. (A read whose deadline has
	// passed would not look.)
	rc, err := sock.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 256)
	var n int
	var rerr error
	rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), b, syscall.MSG_DONTWAIT)
		return true
	})
	if rerr != syscall.EAGAIN {
		t.Errorf("after STOPPING=1: got %q, %v; want no datagram more", b[:max(n, 0)], rerr)
	}
}

// TestBinaryUpgradeNewFlags: the new process of an upgrade reads -flags-file again, so that an
// upgrade changes the flags there without a restart: here, the upstream.
func TestBinaryUpgradeNewFlags(t *testing.T) {
	a := startUpstream(t, upstreamKinds[0], demo.Options{})
	b := startUpstream(t, upstreamKinds[0], demo.Options{})
	flags := filepath.Join(t.TempDir(), "muxgate.flags")
	write := func(u *upstream) {
		t.Helper()
		content := "# the upstream changes\n-upstream " + u.url + "\n-listen 127.0.0.1:0\n"
		if err := os.WriteFile(flags, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a)
	p := launch(t, needBinary(t), nil, true, "-flags-file", flags, "-access-log", "off", "-log-format", "json")
	clear, _ := p.waitServing(1)
	url := "http://" + clear[0] + "/bytes/10"
	if code := statusOf(t, url); code != http.StatusOK || a.Requests() != 1 {
		t.Fatalf("GET: %d, the first upstream got %d requests; want 200 from it", code, a.Requests())
	}

	write(b)
	p.signal(syscall.SIGUSR2)
	newPID := int(waitMessage(t, p, "upgrade: the new process serves; draining this one")["new_pid"].(float64))
	t.Cleanup(func() { endSuccessor(t, p, newPID) })
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("the old process's exit code %d, want 0", code)
	}
	if code := statusOf(t, url); code != http.StatusOK || b.Requests() != 1 || a.Requests() != 1 {
		t.Errorf("GET after the upgrade: %d, the upstreams got %d and %d requests; want 200 from the second",
			code, a.Requests(), b.Requests())
	}
}
