//go:build unix

package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestBinaryRequestRate: past -request-burst-per-ip, a client address gets 429 with Retry-After,
// logged with its reason, and the upstream never sees the request.
func TestBinaryRequestRate(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-log-format", "json",
		"-request-rate-per-ip", "0.01", "-request-burst-per-ip", "2")
	clear, _ := p.waitServing(1)
	url := "http://" + clear[0] + "/bytes/3"
	var codes []int
	var retry string
	for range 3 {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		retry = resp.Header.Get("Retry-After")
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests || retry == "" {
		t.Errorf("statuses %v, last Retry-After %q; want 200, 200, 429 with Retry-After", codes, retry)
	}
	if n := u.Requests(); n != 2 {
		t.Errorf("the upstream got %d requests, want 2", n)
	}
	line := waitLine(t, p.stdoutLines, "the 429's access-log line", 10*time.Second, func(l logLine) bool { return l.str("error") != "" })
	if !strings.Contains(line.str("error"), "too_many_requests_from_this_address") {
		t.Errorf("access log: error %q, want too_many_requests_from_this_address", line.str("error"))
	}
}
