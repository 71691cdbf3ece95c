//go:build unix

package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverReadyLimit bounds the wait for a started server (nghttpd, HAProxy) to accept connections.
const serverReadyLimit = 10 * time.Second

// startNghttpd runs nghttpd, nghttp2's server, in clear text (h2c with prior knowledge) on a
// free loopback port, serving a 100-byte file at /f, until the test ends. With -v it prints
// every header field it decodes, which the caller reads from the returned log.
func startNghttpd(t *testing.T) (addr string, log *logBuffer) {
	t.Helper()
	bin := needTool(t, "nghttpd")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr = freePort(t, upstreamKinds[0])
	_, port, _ := net.SplitHostPort(addr)
	log = &logBuffer{}
	runServer(t, exec.Command(bin, "-v", "--no-tls", "-a", "127.0.0.1", "-d", dir, port), addr, log)
	return addr, log
}

// runServer starts cmd, a server that is to accept TCP connections on addr, with its output in
// log, and returns once it does; the server is killed when the test ends.
func runServer(t *testing.T, cmd *exec.Cmd, addr string, log *logBuffer) {
	t.Helper()
	name := filepath.Base(cmd.Path)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	awaitAccepting(t, name, addr, exited, log)
}

// awaitAccepting returns once addr accepts TCP connections, and fails the test, with the end of
// the server's output in log, if the server exits first (exited) or does not accept within
// serverReadyLimit.
func awaitAccepting(t *testing.T, name, addr string, exited <-chan struct{}, log *logBuffer) {
	t.Helper()
	deadline := time.Now().Add(serverReadyLimit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before accepting on %s:\n%s", name, addr, lastLines(log.String(), 20))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s did not accept within %v: %v", name, addr, serverReadyLimit, err)
		}
	}
}

// nghttpdField matches a header field nghttpd -v reports as received.
var nghttpdField = regexp.MustCompile(`recv \(stream_id=(\d+)(, sensitive)?\) (:?[^:]+): (.*)$`)

// receivedField is a field as nghttp2's decoder got it.
type receivedField struct {
	value     string
	sensitive bool // sent never-indexed (RFC 7541 6.2.3)
}

// nghttpdRequests reads nghttpd's log: the fields of each stream, by the stream's :path.
func nghttpdRequests(log string) map[string]map[string]receivedField {
	streams := map[string]map[string]receivedField{}
	for line := range strings.Lines(log) {
		m := nghttpdField.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		if streams[m[1]] == nil {
			streams[m[1]] = map[string]receivedField{}
		}
		streams[m[1]][m[3]] = receivedField{value: m[4], sensitive: m[2] != ""}
	}
	byPath := map[string]map[string]receivedField{}
	for _, fields := range streams {
		byPath[fields[":path"].value] = fields
	}
	return byPath
}

// TestNghttpdInterop sends requests whose fields fill, evict and reuse the HPACK dynamic table
// of one upstream session to nghttpd, an independent HTTP/2 implementation, and checks that
// its decoder got every field as the client sent it: credentials and short cookies marked
// never-indexed (RFC 7541 7.1.3), and the session's compression state in step throughout
// (a decoder out of step fails the connection with COMPRESSION_ERROR, RFC 9113 4.3).
func TestNghttpdInterop(t *testing.T) {
	addr, log := startNghttpd(t)
	cfg := testConfig(&upstream{url: "h2c://" + addr})
	cfg.Pool.MaxSessions = 1
	f := startGateway(t, cfg)

	const requests = 200
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	sent := make([]http.Header, requests)
	for i := range requests {
		h := http.Header{}
		// Values up to 1.2 KB under seven names: the 4 KiB table keeps a few and evicts the rest.
		h.Set("X-Var-"+strconv.Itoa(i%7), strings.Repeat(string(rune('a'+i%26)), i*37%1200)+"-"+strconv.Itoa(i))
		h.Set("X-Stable", "same for every request")
		h.Set("Authorization", "Bearer token-"+strconv.Itoa(i%3))
		if i%10 == 0 {
			h.Set("Cookie", "session="+strings.Repeat("c", 40))
		} else {
			h.Set("Cookie", "s="+strconv.Itoa(i))
		}
		sent[i] = h
		req, err := http.NewRequest("GET", "http://"+f.addr+"/f?i="+strconv.Itoa(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h.Clone()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) != 100 {
			t.Fatalf("request %d: %s, %d bytes, %v\nnghttpd:\n%s", i, resp.Status, len(body), err, lastLines(log.String(), 30))
		}
	}

	// nghttpd prints a request's fields as it decodes them, then the HEADERS frame, before it
	// answers; os/exec copies that output into log on a goroutine of its own, which may lag.
	headersFrames := func(log string) bool { return strings.Count(log, "recv HEADERS frame") >= requests }
	if !log.await(serverReadyLimit, headersFrames) {
		t.Fatalf("nghttpd logged fewer than %d request HEADERS frames within %v", requests, serverReadyLimit)
	}
	got := nghttpdRequests(log.String())
	for i, h := range sent {
		path := "/f?i=" + strconv.Itoa(i)
		fields := got[path]
		if fields == nil {
			t.Fatalf("nghttpd logged no request for %s", path)
		}
		for k := range h {
			name := strings.ToLower(k)
			rf, ok := fields[name]
			if !ok || rf.value != h.Get(k) {
				t.Errorf("%s: nghttpd got %s: %.40q (present %v), want %.40q", path, name, rf.value, ok, h.Get(k))
			}
			wantSensitive := name == "authorization" || name == "cookie" && len(h.Get(k)) < 20
			if rf.sensitive != wantSensitive {
				t.Errorf("%s: %s sent never-indexed %v, want %v", path, name, rf.sensitive, wantSensitive)
			}
		}
	}
	if t.Failed() {
		sc := bufio.NewScanner(strings.NewReader(log.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), "GOAWAY") || strings.Contains(sc.Text(), "COMPRESSION") {
				t.Logf("nghttpd: %s", sc.Text())
			}
		}
	}
}
