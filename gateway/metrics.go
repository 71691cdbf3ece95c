package gateway

import (
	"io"
	"net/http"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"muxgate/h1"
	"muxgate/internal/pool"
	"muxgate/internal/version"
)

// metrics counts the gateway's answers for Prometheus (Config.MetricsAddr). What a request adds
// on its way out is a few atomic adds, with no lock and no allocation; only a failure takes a
// lock, to count its reason. Gauges (connections, sessions, streams, the queue) are read from the
// front end's and the pools' state when scraped.
//
// The text format (Prometheus's exposition format 0.0.4) is written here rather than with
// client_golang, which made the binary 3.8 MB larger and its peak RSS under the benchmark's loads
// 3 to 7 MiB larger, metrics on or off; Prometheus's own parser checks this output in the tests.
type metrics struct {
	codes    [600]atomic.Uint64 // answers by status code; 499: the client left first
	bytesIn  atomic.Uint64      // request body bytes read from clients
	bytesOut atomic.Uint64      // response body bytes written to clients
	retries  atomic.Uint64      // upstream attempts beyond the first that followed one not processed
	resent   atomic.Uint64      // idempotent requests sent again after an attempt possibly processed
	tunnels  atomic.Int64       // WebSocket connections switched and not yet closed

	// The duration histogram: counts per bucket (not cumulative; the last is +Inf), and the sum
	// in nanoseconds.
	buckets [len(durationBounds) + 1]atomic.Uint64
	durSum  atomic.Uint64

	mu      sync.Mutex
	reasons map[string]uint64 // guarded by mu: failed and refused requests by reason
}

// durationBounds are the upper bounds of the duration histogram's buckets, in seconds.
var durationBounds = [...]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics() *metrics { return &metrics{reasons: make(map[string]uint64)} }

// observe counts a proxied request that ended, as its access-log line describes it.
func (m *metrics) observe(rec *record) {
	m.count(rec.status, rec.reason)
	m.bytesIn.Add(uint64(rec.bytesIn))
	m.bytesOut.Add(uint64(rec.bytesOut))
	if a := rec.info.Attempts; a > 1 {
		if rec.info.Resent {
			m.resent.Add(1)
			a--
		}
		m.retries.Add(uint64(a - 1))
	}
	if rec.status == http.StatusSwitchingProtocols {
		// A WebSocket's time is its conversation's, not an answer's.
		return
	}
	d := time.Since(rec.start)
	i := 0
	for i < len(durationBounds) && d.Seconds() > durationBounds[i] {
		i++
	}
	m.buckets[i].Add(1)
	m.durSum.Add(uint64(d))
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

// writeMetrics writes g's metrics to w in Prometheus's text format: the gateway's, then the Go
// runtime's and the process's.
func writeMetrics(w io.Writer, g *Gateway) error {
	var e expo
	g.metrics.write(&e)
	writeFront(&e, g)
	writeUpstream(&e, g.routes.all)
	writeRuntime(&e)
	writeProcess(&e)
	writeBuild(&e)
	_, err := w.Write(e.b)
	return err
}

// write writes the request counters and the duration histogram.
func (m *metrics) write(e *expo) {
	e.family("muxgate_requests_total", "counter", "Requests answered, by status code (499: the client closed before its answer; never sent).")
	for code := range m.codes {
		if n := m.codes[code].Load(); n > 0 {
			e.sample("muxgate_requests_total", float64(n), "code", strconv.Itoa(code))
		}
	}
	e.family("muxgate_request_errors_total", "counter", "Requests that failed or that muxgate refused, by the reason the access log gives.")
	m.mu.Lock()
	reasons := make([]string, 0, len(m.reasons))
	for r := range m.reasons {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		e.sample("muxgate_request_errors_total", float64(m.reasons[r]), "reason", r)
	}
	m.mu.Unlock()
	e.family("muxgate_request_body_bytes_total", "counter", "Request body bytes read from clients.")
	e.sample("muxgate_request_body_bytes_total", float64(m.bytesIn.Load()))
	e.family("muxgate_response_body_bytes_total", "counter", "Response body bytes written to clients.")
	e.sample("muxgate_response_body_bytes_total", float64(m.bytesOut.Load()))
	e.family("muxgate_websockets_open", "gauge", "WebSocket connections switched (101) and not yet closed.")
	e.sample("muxgate_websockets_open", float64(m.tunnels.Load()))
	e.family("muxgate_upstream_retries_total", "counter", "Requests sent again, on another session, because the upstream had provably not processed them.")
	e.sample("muxgate_upstream_retries_total", float64(m.retries.Load()))
	e.family("muxgate_upstream_resent_total", "counter", "Idempotent requests sent again, once, because their session died after they were sent and the upstream may have processed them (RFC 9110 9.2.2).")
	e.sample("muxgate_upstream_resent_total", float64(m.resent.Load()))

	const h = "muxgate_request_duration_seconds"
	e.family(h, "histogram", "Time from a proxied request's head to the end of its answer (not counting WebSocket connections).")
	var total uint64
	for i := range m.buckets {
		total += m.buckets[i].Load()
		le := "+Inf"
		if i < len(durationBounds) {
			le = strconv.FormatFloat(durationBounds[i], 'g', -1, 64)
		}
		e.sample(h+"_bucket", float64(total), "le", le)
	}
	e.sample(h+"_sum", time.Duration(m.durSum.Load()).Seconds())
	e.sample(h+"_count", float64(total))
}

// tlsVersions are the values of the version label: [i] is TLS 1.i, as in h1.State.TLSHandshakes.
var tlsVersions = [len(h1.State{}.TLSHandshakes)]string{"1.0", "1.1", "1.2", "1.3"}

// writeBuild writes muxgate_build_info, the Prometheus way of naming the running build: a gauge
// of 1 whose labels say which.
func writeBuild(e *expo) {
	v := version.Get()
	e.family("muxgate_build_info", "gauge", "1, with the running build in its labels: the module's version, the commit it was built from, the Go version.")
	e.sample("muxgate_build_info", 1, "goversion", v.Go, "revision", v.Revision, "version", v.Version)
}

// writeFront writes the client side's gauges.
func writeFront(e *expo, g *Gateway) {
	st := g.front.State()
	e.family("muxgate_client_connections", "gauge", "Client connections open.")
	e.sample("muxgate_client_connections", float64(st.Conns))
	e.family("muxgate_client_connections_total", "counter", "Client connections accepted.")
	e.sample("muxgate_client_connections_total", float64(st.Accepted))
	e.family("muxgate_client_tls_failures_total", "counter", "TLS client connections closed before a request: a failed or timed-out handshake, or ALPN that chose another protocol.")
	e.sample("muxgate_client_tls_failures_total", float64(st.TLSFailures))
	e.family("muxgate_client_tls_handshakes_total", "counter", "TLS client handshakes completed, by protocol version; resumed=\"true\" those that resumed an earlier session with a ticket, without a full handshake.")
	for i, n := range st.TLSHandshakes {
		v := tlsVersions[i]
		e.sample("muxgate_client_tls_handshakes_total", float64(n.Full), "resumed", "false", "version", v)
		e.sample("muxgate_client_tls_handshakes_total", float64(n.Resumed), "resumed", "true", "version", v)
	}
	e.family("muxgate_client_proxy_header_failures_total", "counter", "Client connections to a -listen-proxy or -listen-tls-proxy listener closed because they did not begin with a valid PROXY protocol header.")
	e.sample("muxgate_client_proxy_header_failures_total", float64(st.ProxyFailures))
	e.family("muxgate_client_requests_active", "gauge", "Client requests being handled or answered.")
	e.sample("muxgate_client_requests_active", float64(st.Active))
	e.family("muxgate_draining", "gauge", "1 once muxgate drains (SIGTERM or SIGINT), else 0.")
	e.sample("muxgate_draining", boolValue(g.draining.Load()))
}

// writeUpstream writes the gauges of the pools of routes' upstreams, with a proto label (h2 or
// h3: an h3+h2 upstream has a pool of each), and an h3+h2 upstream's own two. With several
// upstreams (a balancer, or routes), each sample has an upstream label too, the upstream's URL.
// An upstream in several routes has one pool, written once; where several balancers check its
// health or eject it, the first one's say is written.
func writeUpstream(e *expo, routes []*route) {
	var pools []labelledPool
	var fallbacks []labelledFallback
	var ejecting, checked []*member // members of balancers that eject, that check health
	seen := map[string]bool{}
	first := func(name string) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		return true
	}
	for _, rt := range routes {
		b, ok := rt.up.(*balancer)
		if !ok {
			var labels []string
			if len(routes) > 1 {
				labels = []string{"upstream", rt.names[0]}
			}
			if first(rt.names[0]) {
				pools, fallbacks = collectUpstream(rt.up, labels, pools, fallbacks)
			}
			continue
		}
		for _, m := range b.members {
			if first(m.name) {
				pools, fallbacks = collectUpstream(m.up, []string{"upstream", m.name}, pools, fallbacks)
			}
		}
	}
	clear(seen)
	for _, rt := range routes {
		if b, ok := rt.up.(*balancer); ok {
			for _, m := range b.members {
				if !first(m.name) {
					continue
				}
				if b.eject.After > 0 {
					ejecting = append(ejecting, m)
				}
				if m.checked {
					checked = append(checked, m)
				}
			}
		}
	}
	if len(ejecting) > 0 {
		e.family("muxgate_upstream_ejected", "gauge", "With -eject-after: 1 while the upstream is ejected for failing requests in a row, else 0.")
		now := time.Now().UnixNano()
		for _, m := range ejecting {
			e.sample("muxgate_upstream_ejected", boolValue(m.out.ejectedAt(now)), "upstream", m.name)
		}
		e.family("muxgate_upstream_ejections_total", "counter", "With -eject-after: times the upstream was ejected.")
		for _, m := range ejecting {
			e.sample("muxgate_upstream_ejections_total", float64(m.out.ejected.Load()), "upstream", m.name)
		}
	}
	if len(checked) > 0 {
		e.family("muxgate_upstream_healthy", "gauge", "With health checks: 1 while the upstream passes them, else 0.")
		for _, m := range checked {
			e.sample("muxgate_upstream_healthy", boolValue(!m.health.unhealthy.Load()), "upstream", m.name)
		}
	}
	if len(fallbacks) > 0 {
		e.family("muxgate_upstream_fallback_active", "gauge", "h3+h2 upstreams: 1 while requests go over HTTP/2 instead of HTTP/3, else 0.")
		for _, f := range fallbacks {
			e.sample("muxgate_upstream_fallback_active", boolValue(f.st.OnSecondary), f.labels...)
		}
		e.family("muxgate_upstream_fallback_switches_total", "counter", "h3+h2 upstreams: switches from HTTP/3 to HTTP/2.")
		for _, f := range fallbacks {
			e.sample("muxgate_upstream_fallback_switches_total", float64(f.st.Switches), f.labels...)
		}
	}
	e.family("muxgate_upstream_sessions", "gauge", "Upstream sessions, open (taking streams) or draining.")
	for _, p := range pools {
		open, draining, _ := sessionCounts(p.st)
		e.sample("muxgate_upstream_sessions", float64(open), p.with("state", "open")...)
		e.sample("muxgate_upstream_sessions", float64(draining), p.with("state", "draining")...)
	}
	e.family("muxgate_upstream_sessions_opened_total", "counter", "Upstream sessions dialed.")
	for _, p := range pools {
		e.sample("muxgate_upstream_sessions_opened_total", float64(p.st.Opened), p.with()...)
	}
	e.family("muxgate_upstream_sessions_ended_total", "counter", "Upstream sessions that stopped taking streams, by reason: goaway (the upstream's), closed, silent (a PING unanswered), refused (a stream, with none in flight), age (-max-session-age), spare (-session-idle-timeout).")
	for _, p := range pools {
		for r, n := range p.st.Ends {
			e.sample("muxgate_upstream_sessions_ended_total", float64(n), p.with("reason", pool.EndReason(r).String())...)
		}
	}
	e.family("muxgate_upstream_streams", "gauge", "Upstream streams in use.")
	for _, p := range pools {
		_, _, streams := sessionCounts(p.st)
		e.sample("muxgate_upstream_streams", float64(streams), p.with()...)
	}
	e.family("muxgate_upstream_queued_requests", "gauge", "Requests waiting for an upstream stream.")
	for _, p := range pools {
		e.sample("muxgate_upstream_queued_requests", float64(p.st.Queued), p.with()...)
	}
	e.family("muxgate_upstream_dial_failures", "gauge", "Failed upstream dials since the last successful one; with several upstreams, sessions dropped for an unanswered PING count too.")
	for _, p := range pools {
		e.sample("muxgate_upstream_dial_failures", float64(p.st.DialFailures), p.with()...)
	}
}

// labelledPool is a pool's state with the labels that name its upstream (none for the only one).
type labelledPool struct {
	labels []string
	st     pool.State
}

// with is p's labels, its proto, and more.
func (p labelledPool) with(more ...string) []string {
	return append(append(slices.Clip(p.labels), "proto", p.st.Protocol), more...)
}

// labelledFallback is an h3+h2 upstream's choice with the labels that name it.
type labelledFallback struct {
	labels []string
	st     fallbackState
}

// collectUpstream appends up's pools and, for an h3+h2 upstream, its choice, labelled so.
func collectUpstream(up upstream, labels []string, pools []labelledPool, fallbacks []labelledFallback) ([]labelledPool, []labelledFallback) {
	switch up := up.(type) {
	case *fallback:
		st, primary, secondary := up.State()
		fallbacks = append(fallbacks, labelledFallback{labels, st})
		pools = append(pools, labelledPool{labels, primary}, labelledPool{labels, secondary})
	case statePool:
		pools = append(pools, labelledPool{labels, up.State()})
	}
	return pools, fallbacks
}

// sessionCounts counts st's sessions that take streams and those that drain, and the streams
// in use on all of them.
func sessionCounts(st pool.State) (open, draining, streams int) {
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
	return open, draining, streams
}

// runtimeSamples are the Go runtime's metrics written, by their runtime/metrics names.
var runtimeSamples = []struct{ name, typ, help, from string }{
	{"go_gomaxprocs", "gauge", "Processors the Go scheduler runs goroutines on (muxgate's governor sets it).", "/sched/gomaxprocs:threads"},
	{"go_goroutines", "gauge", "Goroutines.", "/sched/goroutines:goroutines"},
	{"go_heap_objects_bytes", "gauge", "Bytes of live and not yet swept heap objects.", "/memory/classes/heap/objects:bytes"},
	{"go_memory_total_bytes", "gauge", "Memory the Go runtime has mapped.", "/memory/classes/total:bytes"},
	{"go_gc_cycles_total", "counter", "Completed garbage collections.", "/gc/cycles/total:gc-cycles"},
}

// writeRuntime writes the Go runtime's metrics.
func writeRuntime(e *expo) {
	s := make([]rtmetrics.Sample, len(runtimeSamples))
	for i, r := range runtimeSamples {
		s[i].Name = r.from
	}
	rtmetrics.Read(s)
	for i, r := range runtimeSamples {
		var v float64
		switch s[i].Value.Kind() {
		case rtmetrics.KindUint64:
			v = float64(s[i].Value.Uint64())
		case rtmetrics.KindFloat64:
			v = s[i].Value.Float64()
		default:
			continue // not in this Go version
		}
		e.family(r.name, r.typ, r.help)
		e.sample(r.name, v)
	}
}

// expo is a text-format body being written.
type expo struct{ b []byte }

// family starts a metric family: its HELP and TYPE lines.
func (e *expo) family(name, typ, help string) {
	e.b = append(e.b, "# HELP "...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, help...)
	e.b = append(e.b, "\n# TYPE "...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, typ...)
	e.b = append(e.b, '\n')
}

// sample writes one sample of name with value v and labels, given as name, value pairs.
func (e *expo) sample(name string, v float64, labels ...string) {
	e.b = append(e.b, name...)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			e.b = append(e.b, '{')
		} else {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, labels[i]...)
		e.b = append(e.b, `="`...)
		e.b = append(e.b, labelEscaper.Replace(labels[i+1])...)
		e.b = append(e.b, '"')
	}
	if len(labels) > 1 {
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ' ')
	e.b = strconv.AppendFloat(e.b, v, 'g', -1, 64) // +Inf, -Inf and NaN as the format spells them
	e.b = append(e.b, '\n')
}

// labelEscaper escapes a label value as the text format wants: backslash, double quote and line
// feed.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
