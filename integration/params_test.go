//go:build unix

package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// TestUpstreamWeights: of two upstreams of weights 3 and 1, requests one after another go three to
// one; the access log and the metrics name each by its URL, without the weight.
func TestUpstreamWeights(t *testing.T) {
	heavy := startUpstream(t, upstreamKinds[0], demo.Options{})
	light := startUpstream(t, upstreamKinds[0], demo.Options{})
	cfg := testConfig(heavy)
	cfg.Upstream = heavy.url + ";weight=3"
	cfg.Upstreams = []string{light.url}
	cfg.MetricsAddr = "127.0.0.1:0"
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	f := startGateway(t, cfg)
	c := newClient(t)
	const n = 400
	for range n {
		if resp, _ := get(t, c, f.url(false)+"/bytes/1"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s, want 200", resp.Status)
		}
	}
	// 300 expected for the heavy one, with a standard deviation of 8.7.
	if h := heavy.Requests(); h < 260 || h > 340 || h+light.Requests() != n {
		t.Errorf("weights 3 and 1: %d and %d of %d requests, want about 300 and 100", h, light.Requests(), n)
	}
	if log := access.String(); strings.Contains(log, "weight") || !strings.Contains(log, `"upstream":"`+heavy.url+`"`) {
		t.Errorf("the access log names upstreams with their weights, or not the heavy one:\n%.300s", log)
	}
	m := scrape(t, "http://"+f.g.MetricsAddr().String())
	if _, ok := m[`muxgate_upstream_sessions{upstream="`+heavy.url+`",proto="h2",state="open"}`]; !ok {
		t.Errorf("no sessions metric for %s by its URL", heavy.url)
	}
}

// TestUpstreamHealthPath: an upstream's ;health=/path is where its checks go, without a
// -health-check for all: one that fails them gets no more requests, the other upstream all.
func TestUpstreamHealthPath(t *testing.T) {
	sick := startUpstream(t, upstreamKinds[0], demo.Options{})
	well := startUpstream(t, upstreamKinds[0], demo.Options{})
	cfg := testConfig(sick)
	cfg.Upstream = sick.url + ";health=/status/503"
	cfg.Upstreams = []string{well.url}
	cfg.HealthCheck.Interval = 100 * time.Millisecond
	f := startGateway(t, cfg)
	unhealthy := func(log string) bool {
		return strings.Contains(log, `"message":"upstream health changed"`) && strings.Contains(log, `"healthy":false`)
	}
	if !f.logs.await(rawDeadline, unhealthy) {
		t.Fatal("the upstream that fails its checks was not found unhealthy")
	}
	before := sick.Requests()
	c := newClient(t)
	for range 20 {
		if resp, _ := get(t, c, f.url(false)+"/bytes/1"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s, want 200", resp.Status)
		}
	}
	if n := sick.Requests() - before; n > 2 { // a check or two may come meanwhile
		t.Errorf("the unhealthy upstream got %d of 20 requests, want none but its checks", n)
	}
	if well.Requests() < 20 {
		t.Errorf("the healthy upstream got %d requests, want the 20", well.Requests())
	}
}
