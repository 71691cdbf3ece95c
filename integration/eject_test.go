//go:build unix

package integration

import (
	"net/http"
	"testing"
	"time"

	"muxgate/gateway"
	"muxgate/internal/demo"
)

// TestEjection: of two upstreams, one answers 503 to everything; with -eject-after 3 it gets
// three requests and is then passed over, and the metrics say so.
func TestEjection(t *testing.T) {
	broken := startUpstream(t, upstreamKinds[0], demo.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})})
	good := startUpstream(t, upstreamKinds[0], demo.Options{})
	cfg := testConfig(broken)
	cfg.Upstreams = []string{good.url}
	cfg.Eject = gateway.Ejection{After: 3, For: time.Minute}
	cfg.MetricsAddr = "127.0.0.1:0"
	f := startGateway(t, cfg)
	c := newClient(t)
	failed := 0
	for range 40 {
		resp, _ := get(t, c, f.url(false)+"/bytes/10")
		if resp.StatusCode != http.StatusOK {
			failed++
		}
	}
	if failed != 3 || broken.Requests() != 3 {
		t.Errorf("%d of 40 requests failed and the broken upstream got %d; want 3 and 3", failed, broken.Requests())
	}
	m := scrape(t, "http://"+f.g.MetricsAddr().String())
	for name, want := range map[string]float64{
		`muxgate_upstream_ejected{upstream="` + broken.url + `"}`:         1,
		`muxgate_upstream_ejected{upstream="` + good.url + `"}`:           0,
		`muxgate_upstream_ejections_total{upstream="` + broken.url + `"}`: 1,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
}
