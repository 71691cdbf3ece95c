package gateway

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"muxgate/h1"
	"muxgate/internal/pool"
	"muxgate/internal/version"
)

// TestWriteMetrics: the metrics page parses with Prometheus's own parser (so names, HELP and
// TYPE lines, labels and histograms are well formed), for a single pool and for an h3+h2
// fallback, whose pools both report, by protocol, with the fallback's own two metrics; answers
// are counted by code and reason, refusals included, retries by what their attempts met, and
// durations fall in their buckets.
func TestWriteMetrics(t *testing.T) {
	fb, p3, p2 := newTestFallback()
	p3.state = pool.State{Protocol: "h3", Queued: 2, DialFailures: 3}
	p2.state = pool.State{Protocol: "h2", Sessions: []pool.SessionState{
		{ID: 1, InFlight: 5}, {ID: 2, Draining: true, InFlight: 1}, {ID: 3, Closed: true},
	}, Opened: 7}
	p2.state.Ends[pool.EndGoAway], p2.state.Ends[pool.EndSpare] = 2, 3
	fb.state.OnSecondary, fb.state.Switches = true, 4
	common := map[string]float64{
		`muxgate_upstream_sessions{proto="h2",state="open"}`:                 1,
		`muxgate_upstream_sessions{proto="h2",state="draining"}`:             1,
		`muxgate_upstream_streams{proto="h2"}`:                               6,
		`muxgate_upstream_sessions_opened_total{proto="h2"}`:                 7,
		`muxgate_upstream_sessions_ended_total{proto="h2",reason="goaway"}`:  2,
		`muxgate_upstream_sessions_ended_total{proto="h2",reason="spare"}`:   3,
		`muxgate_upstream_sessions_ended_total{proto="h2",reason="silent"}`:  0,
		`muxgate_upstream_queued_requests{proto="h2"}`:                       0,
		`muxgate_requests_total{code="200"}`:                                 1,
		`muxgate_requests_total{code="431"}`:                                 1,
		`muxgate_requests_total{code="502"}`:                                 1,
		`muxgate_request_errors_total{reason="upstream_error"}`:              1,
		`muxgate_request_errors_total{reason="request_header_too_large"}`:    1,
		`muxgate_response_body_bytes_total`:                                  100,
		`muxgate_upstream_retries_total`:                                     2,
		`muxgate_upstream_resent_total`:                                      1,
		`muxgate_client_connections_total`:                                   0,
		`muxgate_client_tls_failures_total`:                                  0,
		`muxgate_client_tls_handshakes_total{resumed="false",version="1.0"}`: 0,
		`muxgate_client_tls_handshakes_total{resumed="true",version="1.3"}`:  0,
		`muxgate_client_proxy_header_failures_total`:                         0,
		`muxgate_request_duration_seconds_bucket{le="0.001"}`:                0,
		`muxgate_request_duration_seconds_bucket{le="0.005"}`:                1,
		`muxgate_request_duration_seconds_bucket{le="+Inf"}`:                 2,
		`muxgate_request_duration_seconds_count`:                             2,
		`muxgate_draining`:                                                   0,
		`go_goroutines`:                                                      -1, // present
		`process_resident_memory_bytes`:                                      -1,
	}
	fallback := map[string]float64{
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
		{"pool", p2, []map[string]float64{common}, "muxgate_upstream_fallback_active"},
		{"fallback", fb, []map[string]float64{common, fallback}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Gateway{routes: oneRoute(tc.up, "http", "127.0.0.1:9"), front: h1.New(h1.Config{}, nil), metrics: newMetrics()}
			g.metrics.observe(&record{status: 200, bytesOut: 100, info: &pool.Info{Attempts: 3}, start: time.Now().Add(-3 * time.Millisecond)})
			// A GET resent once after its session died, and failed so again: not a retry of the
			// not-processed kind.
			g.metrics.observe(&record{status: 502, reason: "upstream_error", info: &pool.Info{Attempts: 2, Resent: true}, start: time.Now().Add(-time.Minute)})
			g.metrics.refused(h1.Refusal{Status: 431, Reason: "request_header_too_large"})
			got := parseMetrics(t, g)
			for _, want := range tc.want {
				for name, v := range want {
					if g, ok := got[name]; !ok || v >= 0 && g != v {
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

// parseMetrics writes g's metrics, parses them with Prometheus's parser, and returns each
// sample as `name{label="value",...}` (labels in name order; a histogram's buckets, sum and
// count as the text format names them) to its value.
func parseMetrics(t *testing.T, g *Gateway) map[string]float64 {
	t.Helper()
	var b bytes.Buffer
	if err := writeMetrics(&b, g); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses the metrics: %v\n%s", err, b.String())
	}
	m := make(map[string]float64)
	put := func(name string, labels []string, v float64) {
		sort.Strings(labels)
		if len(labels) > 0 {
			name += "{" + strings.Join(labels, ",") + "}"
		}
		m[name] = v
	}
	for name, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			switch {
			case s.Counter != nil:
				put(name, labels, s.GetCounter().GetValue())
			case s.Gauge != nil:
				put(name, labels, s.GetGauge().GetValue())
			case s.Histogram != nil:
				for _, bk := range s.GetHistogram().GetBucket() {
					put(name+"_bucket", append(labels, `le="`+model.FloatString(bk.GetUpperBound()).String()+`"`), float64(bk.GetCumulativeCount()))
				}
				put(name+"_bucket", append(labels, `le="+Inf"`), float64(s.GetHistogram().GetSampleCount()))
				put(name+"_count", labels, float64(s.GetHistogram().GetSampleCount()))
				put(name+"_sum", labels, s.GetHistogram().GetSampleSum())
			}
		}
	}
	return m
}

// TestWriteMetricsBalancer: with several upstreams, each pool's samples name their upstream, and
// an h3+h2 member's own two metrics do too.
func TestWriteMetricsBalancer(t *testing.T) {
	fb, p3, p2 := newTestFallback()
	p3.state = pool.State{Protocol: "h3", DialFailures: 3}
	p2.state = pool.State{Protocol: "h2"}
	fb.state.Switches = 2
	one := &fakePool{state: pool.State{Protocol: "h2", Sessions: []pool.SessionState{{ID: 1, InFlight: 4}}}}
	b := newBalancer([]*member{{name: "https://a:1", up: one}, {name: "h3+h2://b:2", up: fb}}, HealthCheck{}, Ejection{}, zerolog.Nop())
	g := &Gateway{routes: oneRoute(b, "https", "a:1"), front: h1.New(h1.Config{}, nil), metrics: newMetrics()}
	got := parseMetrics(t, g)
	for name, v := range map[string]float64{
		`muxgate_upstream_sessions{proto="h2",state="open",upstream="https://a:1"}`: 1,
		`muxgate_upstream_streams{proto="h2",upstream="https://a:1"}`:               4,
		`muxgate_upstream_dial_failures{proto="h3",upstream="h3+h2://b:2"}`:         3,
		`muxgate_upstream_streams{proto="h2",upstream="h3+h2://b:2"}`:               0,
		`muxgate_upstream_fallback_switches_total{upstream="h3+h2://b:2"}`:          2,
	} {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	if _, ok := got[`muxgate_upstream_fallback_active{upstream="https://a:1"}`]; ok {
		t.Errorf("an HTTP/2 upstream has a fallback metric")
	}
}

// TestWriteMetricsRoutes: with routes, every pool's samples name their upstream, the one pool of
// a route too, and the families of two balancers' members are written once (Prometheus's parser
// refuses a family given twice).
func TestWriteMetricsRoutes(t *testing.T) {
	pool1 := func(streams int) *fakePool {
		return &fakePool{state: pool.State{Protocol: "h2", Sessions: []pool.SessionState{{ID: 1, InFlight: streams}}}}
	}
	eject := Ejection{After: 2, For: time.Minute}
	ab := newBalancer([]*member{{name: "h2c://a:1", up: pool1(1)}, {name: "h2c://b:1", up: pool1(2)}}, HealthCheck{}, eject, zerolog.Nop())
	cd := newBalancer([]*member{{name: "h2c://c:1", up: pool1(3)}, {name: "h2c://d:1", up: pool1(4)}}, HealthCheck{}, eject, zerolog.Nop())
	cd.members[1].out.ejected.Store(5)
	rt := oneRoute(pool1(5), "http", "e:1")
	for _, b := range []*balancer{ab, cd} {
		rt.all = append(rt.all, &route{up: b, names: []string{b.members[0].name, b.members[1].name}})
	}
	g := &Gateway{routes: rt, front: h1.New(h1.Config{}, nil), metrics: newMetrics()}
	got := parseMetrics(t, g)
	for name, v := range map[string]float64{
		`muxgate_upstream_streams{proto="h2",upstream="http://e:1"}`: 5,
		`muxgate_upstream_streams{proto="h2",upstream="h2c://a:1"}`:  1,
		`muxgate_upstream_streams{proto="h2",upstream="h2c://d:1"}`:  4,
		`muxgate_upstream_ejections_total{upstream="h2c://a:1"}`:     0,
		`muxgate_upstream_ejections_total{upstream="h2c://d:1"}`:     5,
	} {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}

// TestBuildInfo: muxgate_build_info is 1 with the running build in its labels.
func TestBuildInfo(t *testing.T) {
	_, _, p2 := newTestFallback()
	g := &Gateway{routes: oneRoute(p2, "http", "127.0.0.1:9"), front: h1.New(h1.Config{}, nil), metrics: newMetrics()}
	v := version.Get()
	name := `muxgate_build_info{goversion="` + v.Go + `",revision="` + v.Revision + `",version="` + v.Version + `"}`
	if got, ok := parseMetrics(t, g)[name]; !ok || got != 1 {
		t.Errorf("%s = %v (present %v), want 1", name, got, ok)
	}
}
