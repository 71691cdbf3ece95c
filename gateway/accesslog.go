package gateway

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"muxgate/h1"
	"muxgate/internal/pool"
)

// record gathers what the access log line of one request says.
type record struct {
	start    time.Time
	in       *http.Request
	status   int
	bytesIn  int64
	bytesOut int64
	info     *pool.Info
	route    *route // nil for a request answered before it had one
	reason   string
	err      error
}

// done ends a request's bookkeeping: its count in the metrics and its access-log line.
func (p *proxy) done(rec *record) {
	if p.metrics != nil {
		p.metrics.observe(rec)
	}
	p.logAccess(rec)
}

// refused is h1.Config.OnRefusal: a request h1 answered itself is counted and logged as well.
func (p *proxy) refused(r h1.Refusal) {
	if p.metrics != nil {
		p.metrics.refused(r)
	}
	p.logRefusal(r)
}

// logAccess writes the one access-log line of a request.
func (p *proxy) logAccess(rec *record) {
	ev := p.access.Log()
	if ev == nil {
		return
	}
	ev.Str("client", rec.in.RemoteAddr).
		Str("method", rec.in.Method).
		Str("target", rec.in.RequestURI).
		Str("proto", rec.in.Proto).
		Int("status", rec.status).
		Int64("bytes_in", rec.bytesIn).
		Int64("bytes_out", rec.bytesOut).
		Int64("duration_us", time.Since(rec.start).Microseconds()).
		Str("upstream", upstreamName(rec.route, rec.info))
	if i := rec.info; i.SessionID != 0 {
		ev.Str("upstream_proto", i.Protocol).Uint64("session", i.SessionID).Uint64("stream", i.StreamID)
		if i.Attempts > 1 {
			ev.Int("attempts", i.Attempts)
		}
	}
	if st := rec.in.TLS; st != nil {
		// What raising -tls-min-version or changing -tls-ciphers would take from whom.
		ev.Str("tls_version", tls.VersionName(st.Version)).Str("tls_cipher", tls.CipherSuiteName(st.CipherSuite))
		if st.DidResume {
			ev.Bool("tls_resumed", true)
		}
		if len(st.PeerCertificates) > 0 {
			ev.Str("tls_client", st.PeerCertificates[0].Subject.String())
		}
	}
	if p.forward.requestID != "" && rec.info != nil {
		if id := requestIDOf(rec.info.Request, p.forward.requestIDLower); id != "" {
			ev.Str("request_id", id)
		}
	}
	if rec.reason != "" {
		ev.Str("error", rec.reason)
	}
	ev.Send()
}

// logRefusal writes the access-log line of a request h1 answered itself (h1.Config.OnRefusal): a
// malformed or oversized head, say. It has the keys of logAccess's lines that apply, the request
// line's empty where it was not read, and error is the refusal's reason.
func (p *proxy) logRefusal(r h1.Refusal) {
	ev := p.access.Log()
	if ev == nil {
		return
	}
	ev.Str("client", r.RemoteAddr).
		Str("method", r.Method).
		Str("target", r.Target).
		Str("proto", r.Proto).
		Int("status", r.Status).
		Str("error", r.Reason).
		Send()
}

// logs reports whether l writes anything: an access log that is off (zerolog.Nop, the zero
// Logger, or a level above the one lines are logged at) costs no clock read per request.
func logs(l zerolog.Logger) bool {
	ev := l.Log()
	if ev == nil {
		return false
	}
	ev.Discard()
	return true
}

// upstreamName is the upstream of a request on rt for its log line: the one a balancer chose, or
// the route's first (or only) one.
func upstreamName(rt *route, info *pool.Info) string {
	switch {
	case rt == nil:
		return ""
	case info != nil && info.Upstream > 0 && int(info.Upstream) <= len(rt.names):
		return rt.names[info.Upstream-1]
	}
	return rt.names[0]
}
