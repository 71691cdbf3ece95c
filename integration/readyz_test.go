//go:build unix

package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// readyz returns the status and body of the gateway's GET /readyz.
func readyz(t *testing.T, f *front) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + f.g.MetricsAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestReadyz: /readyz answers 503 while no upstream can be reached, as a failed dial showed, and
// 200 before any dial and once the upstream answers again; with two upstreams, one down is not
// enough to fail it.
func TestReadyz(t *testing.T) {
	addr := freePort(t, upstreamKinds[0]) // nothing listens there for now
	cfg := testConfig(&upstream{url: "h2c://" + addr})
	cfg.MetricsAddr = "127.0.0.1:0"
	f := startGateway(t, cfg)
	c := newClient(t)
	if code, body := readyz(t, f); code != http.StatusOK {
		t.Errorf("before any request: %d %q, want 200", code, body)
	}
	if resp, _ := get(t, c, f.url(false)+"/bytes/3"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("a request to the upstream that is down: %s, want 502", resp.Status)
	}
	if code, body := readyz(t, f); code != http.StatusServiceUnavailable || body != "no upstream reachable" {
		t.Errorf("with the upstream down: %d %q, want 503 no upstream reachable", code, body)
	}
	startUpstreamAt(t, upstreamKinds[0], addr, demo.Options{})
	// Requests within the failed dial's back-off (100 ms) still fail at once; the first after it
	// dials. Bounded in count and time.
	deadline := time.Now().Add(rawDeadline)
	for i := 0; ; i++ {
		resp, _ := get(t, c, f.url(false)+"/bytes/3")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if i == 100000 || time.Now().After(deadline) {
			t.Fatalf("the upstream is back, but requests still get %s", resp.Status)
		}
	}
	if code, body := readyz(t, f); code != http.StatusOK {
		t.Errorf("with the upstream back: %d %q, want 200", code, body)
	}
}

// TestReadyzSeveral: with two upstreams, one that is down does not fail /readyz.
func TestReadyzSeveral(t *testing.T) {
	down := "h2c://" + freePort(t, upstreamKinds[0])
	cfg := testConfig(startUpstream(t, upstreamKinds[0], demo.Options{}))
	cfg.Upstreams = []string{down}
	cfg.MetricsAddr = "127.0.0.1:0"
	f := startGateway(t, cfg)
	c := newClient(t)
	for range 4 {
		if resp, _ := get(t, c, f.url(false)+"/bytes/3"); resp.StatusCode != http.StatusOK {
			t.Fatalf("with one upstream down: %s, want 200 from the other", resp.Status)
		}
	}
	if code, body := readyz(t, f); code != http.StatusOK {
		t.Errorf("with one of two upstreams down: %d %q, want 200", code, body)
	}
}
