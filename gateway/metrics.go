package gateway

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"muxgate/h1"
	"muxgate/internal/pool"
)

// metrics counts the gateway's answers for Prometheus (Config.MetricsAddr). What a request adds
// on its way out is a few atomic adds and a histogram observation, with no lock and no
// allocation; only a failure takes a lock, to count its reason. Gauges (connections, sessions,
// streams, the queue) are read from the front end's and the pools' state when scraped.
type metrics struct {
	codes    [600]atomic.Uint64 // answers by status code; 499: the client left first
	bytesIn  atomic.Uint64      // request body bytes read from clients
	bytesOut atomic.Uint64      // response body bytes written to clients
	duration prometheus.Histogram

	mu      sync.Mutex
	reasons map[string]uint64 // guarded by mu: failed and refused requests by reason
}

func newMetrics() *metrics {
	return &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "muxgate_request_duration_seconds",
			Help:    "Time from a proxied request's head to the end of its answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		reasons: make(map[string]uint64),
	}
}

// observe counts a proxied request that ended, as its access-log line describes it.
func (m *metrics) observe(rec *record) {
	m.count(rec.status, rec.reason)
	m.bytesIn.Add(uint64(rec.bytesIn))
	m.bytesOut.Add(uint64(rec.bytesOut))
	m.duration.Observe(time.Since(rec.start).Seconds())
}

// refused counts a request h1 answered itself (h1.Config.OnRefusal).
func (m *metrics) refused(r h1.Refusal) { m.count(r.Status, r.Reason) }

// count adds an answer with status code and, for a failure, its reason.
func (m *metrics) count(code int, reason string) {
	if code >= 100 && code < len(m.codes) {
		m.codes[code].Add(1)
	}
	if reason != "" {
		m.mu.Lock()
		m.reasons[reason]++
		m.mu.Unlock()
	}
}

// The metrics' descriptions. Upstream gauges have a proto label (h2 or h3): an h3+h2 upstream
// has a pool of each.
var (
	descRequests = prometheus.NewDesc("muxgate_requests_total",
		"Requests answered, by status code (499: the client closed before its answer; never sent).", []string{"code"}, nil)
	descErrors = prometheus.NewDesc("muxgate_request_errors_total",
		"Requests that failed or that muxgate refused, by the reason the access log gives.", []string{"reason"}, nil)
	descBytesIn = prometheus.NewDesc("muxgate_request_body_bytes_total",
		"Request body bytes read from clients.", nil, nil)
	descBytesOut = prometheus.NewDesc("muxgate_response_body_bytes_total",
		"Response body bytes written to clients.", nil, nil)
	descConns = prometheus.NewDesc("muxgate_client_connections",
		"Client connections open.", nil, nil)
	descActive = prometheus.NewDesc("muxgate_client_requests_active",
		"Client requests being handled or answered.", nil, nil)
	descDraining = prometheus.NewDesc("muxgate_draining",
		"1 once muxgate drains (SIGTERM or SIGINT), else 0.", nil, nil)
	descSessions = prometheus.NewDesc("muxgate_upstream_sessions",
		"Upstream sessions, open (taking streams) or draining.", []string{"proto", "state"}, nil)
	descStreams = prometheus.NewDesc("muxgate_upstream_streams",
		"Upstream streams in use.", []string{"proto"}, nil)
	descQueued = prometheus.NewDesc("muxgate_upstream_queued_requests",
		"Requests waiting for an upstream stream.", []string{"proto"}, nil)
	descDialFailures = prometheus.NewDesc("muxgate_upstream_dial_failures",
		"Failed upstream dials since the last successful one.", []string{"proto"}, nil)
	descFallback = prometheus.NewDesc("muxgate_upstream_fallback_active",
		"h3+h2 upstreams: 1 while requests go over HTTP/2 instead of HTTP/3, else 0.", nil, nil)
	descSwitches = prometheus.NewDesc("muxgate_upstream_fallback_switches_total",
		"h3+h2 upstreams: switches from HTTP/3 to HTTP/2.", nil, nil)
)

// collector is the gateway's prometheus.Collector.
type collector struct{ g *Gateway }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descErrors, descBytesIn, descBytesOut, descConns,
		descActive, descDraining, descSessions, descStreams, descQueued, descDialFailures} {
		ch <- d
	}
	if _, ok := c.g.up.(*fallback); ok {
		ch <- descFallback
		ch <- descSwitches
	}
	c.g.metrics.duration.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.g.metrics
	for code := range m.codes {
		if n := m.codes[code].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), strconv.Itoa(code))
		}
	}
	m.mu.Lock()
	for reason, n := range m.reasons {
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), reason)
	}
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descBytesIn, prometheus.CounterValue, float64(m.bytesIn.Load()))
	ch <- prometheus.MustNewConstMetric(descBytesOut, prometheus.CounterValue, float64(m.bytesOut.Load()))
	m.duration.Collect(ch)

	front := c.g.front.State()
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(front.Conns))
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(front.Active))
	ch <- prometheus.MustNewConstMetric(descDraining, prometheus.GaugeValue, boolValue(c.g.draining.Load()))
	switch up := c.g.up.(type) {
	case *fallback:
		st, primary, secondary := up.State()
		ch <- prometheus.MustNewConstMetric(descFallback, prometheus.GaugeValue, boolValue(st.OnSecondary))
		ch <- prometheus.MustNewConstMetric(descSwitches, prometheus.CounterValue, float64(st.Switches))
		collectPool(ch, primary)
		collectPool(ch, secondary)
	case statePool:
		collectPool(ch, up.State())
	}
}

// collectPool sends the gauges of one pool's state.
func collectPool(ch chan<- prometheus.Metric, st pool.State) {
	var open, draining, streams int
	for _, s := range st.Sessions {
		switch {
		case s.Closed:
		case s.Draining:
			draining++
		default:
			open++
		}
		streams += s.InFlight
	}
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(open), st.Protocol, "open")
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(draining), st.Protocol, "draining")
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(streams), st.Protocol)
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(st.Queued), st.Protocol)
	ch <- prometheus.MustNewConstMetric(descDialFailures, prometheus.GaugeValue, float64(st.DialFailures), st.Protocol)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
