//go:build unix

package integration

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// flagDefaults says, for every flag of cmd/muxgate, what its -help entry must show about its
// default: "" for a flag whose default is off or empty.
var flagDefaults = map[string]string{
	"demo":                    "",
	"listen":                  "default 127.0.0.1:8080",
	"listen-tls":              "",
	"listen-proxy":            "",
	"listen-tls-proxy":        "",
	"cert":                    "",
	"key":                     "",
	"tls-ticket-keys":         "default: keys of muxgate's own",
	"tls-min-version":         `(default "1.2")`,
	"tls-h2":                  "",
	"client-ca":               "default: no client certificates",
	"client-cert-optional":    "",
	"tls-ciphers":             "default: crypto/tls's defaults",
	"upstream":                "",
	"route":                   "",
	"upstream-ca":             "default: system roots",
	"upstream-server-name":    "default: the URL's host",
	"upstream-insecure":       "",
	"upstream-cert":           "",
	"upstream-key":            "",
	"health-check":            "default: none",
	"health-check-interval":   "(default 5s)",
	"eject-after":             "",
	"eject-time":              "(default 30s)",
	"max-sessions":            "(default 4)",
	"min-sessions":            "",
	"max-session-age":         "",
	"session-idle-timeout":    "(default 1m0s)",
	"body-hold":               "(default 2ms)",
	"upstream-body-timeout":   "(default 5m0s)",
	"request-rate-per-ip":     "",
	"request-burst-per-ip":    "",
	"set-request-header":      "",
	"redirect-https":          "",
	"forwarded":               "",
	"check":                   "",
	"version":                 "",
	"redirect-https-port":     "(default 443)",
	"set-response-header":     "",
	"max-streams-per-session": "0: the upstream's",
	"queue-length":            "(default 1024)",
	"queue-timeout":           "(default 5s)",
	"retry-buffer":            "(default 65536)",
	"stream-window":           "(default 262144)",
	"conn-window":             "(default 16777216)",
	"max-frame-size":          "(default 65536)",
	"dial-timeout":            "(default 5s)",
	"ping-interval":           "(default 30s)",
	"ping-timeout":            "(default 5s)",
	"quic-idle-timeout":       "(default 30s)",
	"h2-engine":               "(default \"own\")",
	"upstream-timeout":        "(default 30s)",
	"idle-gc":                 "(default 250ms)",
	"gc-percent":              "(default 400)",
	"procs-wait":              "(default 5ms)",
	"timer-slack":             "(default 1ms)",
	"cpu-profile":             "",
	"header-timeout":          "(default 10s)",
	"idle-timeout":            "(default 1m0s)",
	"park-after":              "(default 100ms)",
	"max-conns":               "(default 10000)",
	"max-header-bytes":        "(default 16384)",
	"max-header-count":        "(default 100)",
	"max-uri-bytes":           "(default 8192)",
	"max-requests-per-conn":   "(0: unlimited)",
	"pipeline-depth":          "(default 8)",
	"max-pipeline-buffer":     "(default 262144)",
	"write-timeout":           "(default 30s)",
	"body-read-timeout":       "(default 30s)",
	"tunnel-idle-timeout":     "(default 1h0m0s)",
	"min-body-rate":           "(default 1024)",
	"max-body-bytes":          "0: no limit",
	"max-conns-per-ip":        "(0: no limit)",
	"no-x-forwarded-for":      "",
	"no-x-forwarded-proto":    "",
	"no-via":                  "",
	"request-id-header":       "default: none",
	"shutdown-timeout":        "(default 30s)",
	"drain-grace":             "(default 1s)",
	"metrics-listen":          "default: none",
	"log-level":               `(default "info")`,
	"log-format":              "(default: console when stderr is a terminal, else json)",
	"access-log":              `(default "-")`,
	"access-log-flush":        "(default 100ms)",
	"pid-file":                "once listening",
	"flags-file":              "one per line",
}

// definedFlags lists the flags cmd/muxgate/flags.go defines: the name argument of every
// fs.XxxVar call.
func definedFlags(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../cmd/muxgate/flags.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 3 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasSuffix(sel.Sel.Name, "Var") {
			return true
		}
		if recv, ok := sel.X.(*ast.Ident); !ok || recv.Name != "fs" {
			return true
		}
		if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, err := strconv.Unquote(lit.Value)
			if err == nil {
				names = append(names, name)
			}
		}
		return true
	})
	if len(names) == 0 {
		t.Fatal("found no fs.XxxVar call in cmd/muxgate/flags.go: the test's parser is out of date")
	}
	return names
}

// TestBinaryHelp: -help exits 0 and documents every flag with its default.
func TestBinaryHelp(t *testing.T) {
	code, stdout, stderr := runBinary(t, "-help")
	if code != 0 {
		t.Fatalf("-help: exit code %d, want 0\nstderr:\n%s", code, stderr)
	}
	// flag.PrintDefaults: "  -name type\n    \tusage (default x)\n", usage possibly over lines.
	entries := map[string]string{}
	var current string
	for line := range strings.Lines(stdout) {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			current, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
			entries[current] = line
		} else if current != "" {
			entries[current] += line
		}
	}
	defined := definedFlags(t)
	for _, name := range defined {
		want, known := flagDefaults[name]
		if !known {
			t.Errorf("flag -%s is new: add its expected default to flagDefaults", name)
			continue
		}
		entry, ok := entries[name]
		if !ok {
			t.Errorf("-help does not list -%s", name)
			continue
		}
		if !strings.Contains(strings.Join(strings.Fields(entry), " "), want) {
			t.Errorf("-help entry of -%s does not show %q:\n%s", name, want, entry)
		}
	}
	for name := range flagDefaults {
		if !slices.Contains(defined, name) {
			t.Errorf("flagDefaults names -%s, which cmd/muxgate no longer defines", name)
		}
	}
}

// TestBinaryBadFlags: a usage error is one line on stderr and exit code 2, with nothing served.
func TestBinaryBadFlags(t *testing.T) {
	up := "h2c://127.0.0.1:1"
	dir := t.TempDir()
	cases := [][]string{
		{"-no-such-flag"},
		{"-upstream", up, "-no-such-flag"},
		{"-upstream", up, "-max-sessions", "many"},
		{"-upstream", up, "-max-sessions", "0"},
		{"-upstream", up, "-min-sessions", "5"},
		{"-upstream", up, "-min-sessions", "-1"},
		{"-upstream", up, "-route", "/api/"},
		{"-upstream", up, "-route", "a.test:80/=h2c://127.0.0.1:2"},
		{"-upstream", up, "-max-conns", "-1"},
		{"-upstream", up, "-max-body-bytes", "-1"},
		{"-upstream", up, "-retry-buffer", "-1"},
		{"-upstream", up, "-header-timeout", "forever"},
		{"-upstream", up, "-idle-timeout", "0s"},
		{"-upstream", up, "-park-after", "0s"},
		{"-upstream", up, "-procs-wait", "-1ms"},
		{"-upstream", up, "-timer-slack", "-1ms"},
		{"-upstream", up, "-access-log-flush", "-1ms"},
		{"-upstream", up, "-drain-grace", "-1s"},
		{"-upstream", up, "-flags-file", dir + "/missing-flags"},
		{"-upstream", up, "-cpu-profile", dir + "/missing-dir/cpu.pprof"},
		{"-upstream", up, "-stream-window", "0"},
		{"-upstream", up, "-conn-window", "100"},
		{"-upstream", up, "-max-frame-size", "16383"},
		{"-upstream", up, "-max-frame-size", "16777216"},
		{"-upstream", up, "-log-format", "xml"},
		{"-upstream", up, "-log-level", "loud"},
		{"-upstream", up, "-no-via=maybe"},
		{"-upstream", up, "stray-argument"},
		{},
		{"-demo", "-upstream", up},
		{"-upstream", up, "-listen-tls", "127.0.0.1:0"},
		{"-upstream", up, "-listen-tls", "127.0.0.1:0", "-cert", dir + "/missing.pem", "-key", dir + "/missing.key"},
		{"-upstream", up, "-upstream-ca", dir + "/missing-ca.pem"},
		{"-upstream", "ftp://127.0.0.1:21"},
		{"-upstream", "h2c://127.0.0.1"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runBinary(t, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || len(strings.TrimSpace(stderr)) == 0 {
				t.Errorf("stderr is not exactly one line:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
		})
	}
}

// TestBinaryDemo: -demo serves the embedded upstream, logs one access-log line per request, and
// drains and exits 0 on SIGTERM.
func TestBinaryDemo(t *testing.T) {
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json", "-log-level", "debug")
	addrs, _ := p.waitServing(1)
	addr := addrs[0]
	if !strings.Contains(p.stderrText(), "http://"+addr) {
		t.Errorf("-demo does not print where it listens (http://%s) on stderr:\n%s", addr, p.stderrText())
	}

	c := newClient(t)
	resp, body := get(t, c, "http://"+addr+"/")
	if resp.StatusCode != 200 || body != "hello from the muxgate demo upstream\n" {
		t.Fatalf("GET /: %s %q", resp.Status, body)
	}
	l := waitLine(t, p.stdoutLines, "access-log line", 10*time.Second, func(l logLine) bool { return l["status"] != nil })
	want := map[string]string{
		"method":    "GET",
		"target":    "/",
		"status":    "200",
		"bytes_in":  "0",
		"bytes_out": strconv.Itoa(len(body)),
	}
	for k, v := range want {
		if got := l.str(k); got != v {
			t.Errorf("access log %s = %q, want %q (line %v)", k, got, v, l)
		}
	}
	for _, k := range []string{"client", "duration_us", "upstream", "session", "stream"} {
		if l.str(k) == "" {
			t.Errorf("access log has no %s (line %v)", k, l)
		}
	}
	if !strings.HasPrefix(l.str("client"), "127.0.0.1:") {
		t.Errorf("access log client %q, want 127.0.0.1:port", l.str("client"))
	}
	if !strings.HasPrefix(l.str("upstream"), "h2c://127.0.0.1:") {
		t.Errorf("access log upstream %q, want the demo's h2c URL", l.str("upstream"))
	}

	// One line per request: two more requests, two more lines.
	get(t, c, "http://"+addr+"/path/a")
	get(t, c, "http://"+addr+"/status/404")
	for _, target := range []string{"/path/a", "/status/404"} {
		l := waitLine(t, p.stdoutLines, "access-log line for "+target, 10*time.Second, func(l logLine) bool { return l["status"] != nil })
		if l.str("target") != target {
			t.Errorf("access-log line for %s names %q", target, l.str("target"))
		}
	}
	// A request h1 refuses on its own has its line too.
	rc := dialRaw(t, addr, false)
	rc.send("GET /twice HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	if resp, _ := rc.response("GET"); resp.StatusCode != 400 {
		t.Errorf("two Host fields: got %d, want 400", resp.StatusCode)
	}
	l = waitLine(t, p.stdoutLines, "access-log line for a refusal", 10*time.Second, func(l logLine) bool { return l["status"] != nil })
	for k, v := range map[string]string{"method": "GET", "target": "/twice", "status": "400", "error": "more_than_one_host_header"} {
		if got := l.str(k); got != v {
			t.Errorf("refusal's access log %s = %q, want %q (line %v)", k, got, v, l)
		}
	}

	c.CloseIdleConnections()
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(p.stderrText(), `"drained"`) {
		t.Errorf("the process log does not say it drained:\n%s", p.stderrText())
	}
	if !strings.Contains(p.stderrText(), `"timeout_ms":30000`) {
		t.Errorf("the draining line does not give -shutdown-timeout's default in ms:\n%s", p.stderrText())
	}
	for line := range strings.Lines(p.stderrText()) {
		if !strings.HasPrefix(line, "{") {
			continue // -demo's banner
		}
		if keys, err := repeatedKeys(line); err != nil || len(keys) > 0 {
			t.Errorf("process log line names %v more than once (%v): %s", keys, err, line)
		}
	}
}

// TestBinaryAccessLogFile: access-log lines gather in a buffer until -access-log-flush has passed,
// and the ones still there at exit are written out.
func TestBinaryAccessLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json",
		"-access-log", path, "-access-log-flush", "1h")
	addrs, _ := p.waitServing(1)
	c := newClient(t)
	targets := []string{"/path/1", "/path/2", "/status/404"}
	for _, target := range targets {
		get(t, c, "http://"+addrs[0]+target)
	}
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		t.Errorf("access log before the flush: %q, %v; want it empty", b, err)
	}
	c.CloseIdleConnections()
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(targets) {
		t.Fatalf("access log at exit has %d lines, want %d:\n%s", len(lines), len(targets), b)
	}
	for i, l := range lines {
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil || ll.str("target") != targets[i] {
			t.Errorf("access-log line %d: %q (%v), want the request for %s", i, l, err, targets[i])
		}
	}
}

// TestBinaryCPUProfile: -cpu-profile writes a CPU profile of the run, whole once the process
// has drained and exited, that go tool pprof reads as one.
func TestBinaryCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-access-log", "off", "-cpu-profile", path)
	addrs, _ := p.waitServing(1)
	c := newClient(t)
	for i := range 200 {
		if resp, body := get(t, c, "http://"+addrs[0]+"/bytes/100"); resp.StatusCode != 200 || len(body) != 100 {
			t.Fatalf("request %d: %s, %d bytes", i, resp.Status, len(body))
		}
	}
	c.CloseIdleConnections()
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-raw", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PeriodType: cpu nanoseconds") {
		t.Errorf("go tool pprof -raw %s: %v\n%.600s", path, err, out)
	}
}

// TestBinaryAccessLogReopen: after the access-log file was renamed, SIGUSR1 makes muxgate write
// new lines to a fresh file of the old name; with -access-log off it only logs the signal.
func TestBinaryAccessLogReopen(t *testing.T) {
	dir := t.TempDir()
	path, rotated := filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1")
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json",
		"-access-log", path, "-access-log-flush", "0")
	addrs, _ := p.waitServing(1)
	c := dialRaw(t, addrs[0], false)
	for _, target := range []string{"/path/before", "/path/either"} {
		c.send("GET " + target + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
		c.response("GET")
	}
	// The connection read /path/either once the handler of /path/before, which logs it, returned.
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGUSR1)
	waitLine(t, p.stderrLines, `"access log reopened" line`, 10*time.Second, func(l logLine) bool {
		return l.str("message") == "access log reopened"
	})
	c.send("GET /path/after HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
	c.response("GET")
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	old, fresh := readTargets(t, rotated), readTargets(t, path)
	if len(old) == 0 || old[0] != "/path/before" || slices.Contains(old, "/path/after") {
		t.Errorf("renamed file logs %v, want /path/before first and not /path/after", old)
	}
	if len(fresh) == 0 || fresh[len(fresh)-1] != "/path/after" || slices.Contains(fresh, "/path/before") {
		t.Errorf("reopened file logs %v, want /path/after last and not /path/before", fresh)
	}
	if n := len(old) + len(fresh); n != 3 {
		t.Errorf("%d lines in the two files, want 3", n)
	}

	q := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json", "-access-log", "off")
	q.waitServing(1)
	q.signal(syscall.SIGUSR1)
	waitLine(t, q.stderrLines, "the SIGUSR1 line", 10*time.Second, func(l logLine) bool {
		return strings.HasPrefix(l.str("message"), "SIGUSR1")
	})
	q.signal(syscall.SIGTERM)
	if code := q.wait(20 * time.Second); code != 0 {
		t.Errorf("with -access-log off: exit code %d after SIGUSR1 and SIGTERM, want 0", code)
	}
}

// readTargets returns the target of each line of the access log at path.
func readTargets(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for l := range strings.Lines(string(b)) {
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		targets = append(targets, ll.str("target"))
	}
	return targets
}

// TestBinaryDrain: on SIGTERM a request in flight is answered (with Connection: close), an idle
// keep-alive connection is closed, and the process exits 0.
func TestBinaryDrain(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			b := newBlocker(t)
			u := startUpstream(t, k, demo.Options{Handler: b.handler()})
			certFile, keyFile := writePEM(t)
			p := startBinary(t, "-upstream", u.url, "-upstream-ca", certFile, "-listen", "127.0.0.1:0",
				"-listen-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile,
				"-access-log", "off", "-log-format", "json", "-shutdown-timeout", "10s")
			defer b.unblock()
			clear, tlsAddrs := p.waitServing(2)
			if len(clear) != 1 || len(tlsAddrs) != 1 {
				t.Fatalf("listeners: clear %v, tls %v; want one of each", clear, tlsAddrs)
			}

			idle := dialRaw(t, tlsAddrs[0], true)
			idle.send("GET /path/idle HTTP/1.1\r\nHost: example.test\r\n\r\n")
			if resp, body := idle.response("GET"); resp.StatusCode != 200 || body != "/path/idle" {
				t.Fatalf("GET /path/idle: %s %q", resp.Status, body)
			}
			busy := dialRaw(t, clear[0], false)
			busy.send("GET /block/busy HTTP/1.1\r\nHost: example.test\r\n\r\n")
			b.waitEntered(t)

			p.signal(syscall.SIGTERM)
			waitLine(t, p.stderrLines, `"draining" log line`, 10*time.Second, func(l logLine) bool {
				return l.str("message") == "draining"
			})
			idle.expectClosed()
			b.unblock()
			resp, body := busy.response("GET")
			if resp.StatusCode != 200 || body != "released /block/busy" {
				t.Errorf("request in flight at SIGTERM: %s %q, want 200", resp.Status, body)
			}
			if !resp.Close { // ReadResponse takes Connection: close out of the header
				t.Error("the response during the drain has no Connection: close")
			}
			busy.expectClosed()
			if code := p.wait(20 * time.Second); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
		})
	}
}

// TestBinaryDrainPipelined: a drain that begins while pipelined requests are at the upstream
// answers all of them, in order, the last with Connection: close, and then closes.
func TestBinaryDrainPipelined(t *testing.T) {
	b := newBlocker(t)
	u := startUpstream(t, upstreamKinds[0], demo.Options{Handler: b.handler()})
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json")
	defer b.unblock()
	clear, _ := p.waitServing(1)
	c := dialRaw(t, clear[0], false)
	paths := []string{"/block/a", "/block/b", "/block/c"}
	var pipeline strings.Builder
	for _, path := range paths {
		pipeline.WriteString("GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
	}
	c.send(pipeline.String()) // one write: read together, they go upstream at once
	for range paths {
		b.waitEntered(t) // all three read, and sent upstream
	}
	p.signal(syscall.SIGTERM)
	waitLine(t, p.stderrLines, `"draining" log line`, 10*time.Second, func(l logLine) bool {
		return l.str("message") == "draining"
	})
	b.unblock()
	for i, path := range paths {
		resp, body := c.response("GET")
		if last := i == len(paths)-1; resp.StatusCode != 200 || body != "released "+path || resp.Close != last {
			t.Errorf("%s: %s %q (close %v), want 200 with Connection: close on the last only", path, resp.Status, body, resp.Close)
		}
	}
	c.expectClosed()
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestBinaryProcessors: started with GOMAXPROCS=2, muxgate starts on one processor, takes the
// second once a load needs it, serves throughout, and gives the second up once idle again.
func TestBinaryProcessors(t *testing.T) {
	h2load := needTool(t, "h2load")
	// -procs-wait 100us: on a machine other tests keep busy, muxgate's one processor may never
	// reach the busy threshold, and its goroutines' waits for it are what shows the need; a
	// tenth of the default makes that signal certain without changing what is tested.
	p := startBinaryEnv(t, []string{"GOMAXPROCS=2"}, "-demo", "-listen", "127.0.0.1:0",
		"-log-format", "json", "-log-level", "debug", "-access-log", "off", "-procs-wait", "100us")
	procsTo := func(n string) func(logLine) bool {
		return func(l logLine) bool { return l.str("message") == "processors" && l.str("to") == n }
	}
	// The governor's first line and the listener's come in either order.
	var addr string
	var one bool
	waitLine(t, p.stderrLines, "the listener and one processor at the start", 10*time.Second, func(l logLine) bool {
		if l.str("message") == "serving" {
			addr = l.str("listen")
		}
		one = one || procsTo("1")(l)
		return addr != "" && one
	})

	// 64 clients as fast as they can go, the demo upstream in the same process: more than one
	// processor's worth of work, for 5 seconds.
	load := exec.Command(h2load, "--h1", "-t", "1", "-c", "64", "-D", "5", "http://"+addr+"/")
	var out strings.Builder
	load.Stdout, load.Stderr = &out, &out
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	waitLine(t, p.stderrLines, "a processor added back under load", 10*time.Second, procsTo("2"))
	if err := load.Wait(); err != nil {
		t.Fatalf("h2load: %v\n%s", err, out.String())
	}
	r, err := parseH2load(out.String())
	if err != nil {
		t.Fatalf("h2load: %v\n%s", err, out.String())
	}
	if r.succeeded == 0 || r.failed+r.errored+r.timeout > 0 {
		t.Errorf("h2load: %+v\n%s", r, out.String())
	}
	waitLine(t, p.stderrLines, "a processor taken away once idle", 10*time.Second, procsTo("1"))
}

// TestBinaryReloadOnHUP: SIGHUP reloads the certificates and says so in the process log, a
// failed reload too (as a log line, not bare text on stderr), and the old certificates serve
// on; without -listen-tls it is only logged: the signal must not end the process, as it would
// by default.
func TestBinaryReloadOnHUP(t *testing.T) {
	certFile, keyFile := writePEM(t)
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-listen-tls", "127.0.0.1:0",
		"-cert", certFile, "-key", keyFile, "-log-format", "json", "-access-log", "off")
	_, tlsAddrs := p.waitServing(2)
	message := func(m string) func(logLine) bool {
		return func(l logLine) bool { return l.str("message") == m }
	}
	p.signal(syscall.SIGHUP)
	line := waitLine(t, p.stderrLines, `"certificates reloaded"`, 10*time.Second, message("certificates reloaded"))
	// Log times are RFC 3339 with milliseconds, which order the lines of one second.
	if ts := line.str("time"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`).MatchString(ts) {
		t.Errorf("log line time %q, want RFC 3339 with milliseconds", ts)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	waitLine(t, p.stderrLines, `"certificate reload failed"`, 10*time.Second, message("certificate reload failed, keeping the old ones"))
	c := dialRaw(t, tlsAddrs[0], true)
	c.send("GET /path/after HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/after" {
		t.Errorf("after the failed reload: %s %q, want 200 with the old certificate", resp.Status, body)
	}

	q := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json", "-access-log", "off")
	addrs, _ := q.waitServing(1)
	q.signal(syscall.SIGHUP)
	waitLine(t, q.stderrLines, "the SIGHUP line", 10*time.Second, func(l logLine) bool {
		return strings.HasPrefix(l.str("message"), "SIGHUP")
	})
	c = dialRaw(t, addrs[0], false)
	c.send("GET /path/after-hup HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/after-hup" {
		t.Errorf("without -listen-tls, after SIGHUP: %s %q, want 200", resp.Status, body)
	}
	q.signal(syscall.SIGTERM)
	if code := q.wait(20 * time.Second); code != 0 {
		t.Errorf("without -listen-tls: exit code %d after SIGHUP and SIGTERM, want 0", code)
	}
}
