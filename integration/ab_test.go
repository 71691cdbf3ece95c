//go:build unix

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestApacheBenchKeepAlive: ApacheBench (`ab -k`, Debian's apache2-utils), an HTTP/1.0 client
// that keeps its connections alive with `Connection: Keep-Alive`, as legacy clients do, gets
// every answer on the connections it opened: GETs of a body of known length, in clear text and
// over TLS, and POSTs echoed. A body of unknown length cannot be framed for HTTP/1.0 but by the
// close: each such answer ends its connection, and ab still reads every body whole.
func TestApacheBenchKeepAlive(t *testing.T) {
	ab := needTool(t, "ab")
	f := startGateway(t, testConfig(startUpstream(t, upstreamKinds[0], demo.Options{})))
	post := filepath.Join(t.TempDir(), "body")
	body := strings.Repeat("posted by ab ", 100)
	if err := os.WriteFile(post, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		requests  int
		length    int
		keptAlive int // of requests
	}{
		{"GET", []string{"-c", "8", "-n", "400", f.url(false) + "/bytes/100"}, 400, 100, 400},
		{"POST", []string{"-c", "4", "-n", "100", "-p", post, "-T", "text/plain", f.url(false) + "/echo"}, 100, len(body), 100},
		{"unknown length", []string{"-c", "4", "-n", "100", f.url(false) + "/stream/1000"}, 100, 1000, 0},
		{"GET over TLS", []string{"-c", "8", "-n", "400", f.url(true) + "/bytes/100"}, 400, 100, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(ab, append([]string{"-k", "-q", "-s", "10"}, tc.args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("ab: %v\n%s", err, out)
			}
			got := abFigures(string(out))
			want := map[string]int{
				"Complete requests":   tc.requests,
				"Failed requests":     0,
				"Keep-Alive requests": tc.keptAlive,
				"Document Length":     tc.length,
				"Non-2xx responses":   0,
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %d, want %d\n%s", k, got[k], v, out)
				}
			}
		})
	}
}

// abFigure is a line of ab's report: a name, a colon, spaces, and a number.
var abFigure = regexp.MustCompile(`(?m)^([A-Za-z0-9 -]+):\s+([0-9]+)`)

// abFigures reads the whole numbers of ab's report by name; one it did not print (Non-2xx
// responses, where every answer was 2xx) is 0.
func abFigures(out string) map[string]int {
	m := map[string]int{}
	for _, g := range abFigure.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(g[2])
		m[g[1]] = n
	}
	return m
}
