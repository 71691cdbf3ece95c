package gateway

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"muxgate/h1"
	"muxgate/internal/pool"
)

// TestCollector: what the collector sends matches what it describes (the pedantic registry
// checks every metric against its description), for a single pool and for an h3+h2 fallback,
// whose pools both report, by protocol, with the fallback's own two metrics; and the answers are
// counted by code and reason, refusals included.
func TestCollector(t *testing.T) {
	fb, p3, p2 := newTestFallback()
	p3.state = pool.State{Protocol: "h3", Queued: 2, DialFailures: 3}
	p2.state = pool.State{Protocol: "h2", Sessions: []pool.SessionState{
		{ID: 1, InFlight: 5}, {ID: 2, Draining: true, InFlight: 1}, {ID: 3, Closed: true},
	}}
	fb.state.OnSecondary, fb.state.Switches = true, 4
	h2Only := map[string]float64{
		`muxgate_upstream_sessions{proto="h2",state="open"}`:              1,
		`muxgate_upstream_sessions{proto="h2",state="draining"}`:          1,
		`muxgate_upstream_streams{proto="h2"}`:                            6,
		`muxgate_upstream_queued_requests{proto="h2"}`:                    0,
		`muxgate_requests_total{code="200"}`:                              1,
		`muxgate_requests_total{code="431"}`:                              1,
		`muxgate_requests_total{code="502"}`:                              1,
		`muxgate_request_errors_total{reason="upstream_error"}`:           1,
		`muxgate_request_errors_total{reason="request_header_too_large"}`: 1,
	}
	withH3 := map[string]float64{
		`muxgate_upstream_fallback_active`:                   1,
		`muxgate_upstream_fallback_switches_total`:           4,
		`muxgate_upstream_sessions{proto="h3",state="open"}`: 0,
		`muxgate_upstream_queued_requests{proto="h3"}`:       2,
		`muxgate_upstream_dial_failures{proto="h3"}`:         3,
	}
	for _, tc := range []struct {
		name   string
		up     upstream
		want   []map[string]float64
		absent string
	}{
		{"pool", p2, []map[string]float64{h2Only}, "muxgate_upstream_fallback_active"},
		{"fallback", fb, []map[string]float64{h2Only, withH3}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Gateway{up: tc.up, front: h1.New(h1.Config{}, nil), metrics: newMetrics()}
			g.metrics.count(200, "")
			g.metrics.count(502, "upstream_error")
			g.metrics.refused(h1.Refusal{Status: 431, Reason: "request_header_too_large"})
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(collector{g})
			got := gather(t, reg)
			for _, want := range tc.want {
				for name, v := range want {
					if g, ok := got[name]; !ok || g != v {
						t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
					}
				}
			}
			if _, ok := got[tc.absent]; ok {
				t.Errorf("%s is there for an upstream without fallback", tc.absent)
			}
		})
	}
}

// gather collects reg's metrics as `name{label="value",...}` (labels in name order) to value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	m := make(map[string]float64)
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(labels)
			name := f.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case s.Counter != nil:
				m[name] = s.GetCounter().GetValue()
			case s.Gauge != nil:
				m[name] = s.GetGauge().GetValue()
			}
		}
	}
	return m
}
