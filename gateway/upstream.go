package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	"muxgate/h2"
)

var _ upstream = (*h2.Pool)(nil)

// target is a parsed upstream URL.
type target struct {
	proto   string // "h2c" or "h2"
	scheme  string // :scheme on the upstream requests
	address string // host:port to dial
	host    string // host without the port, the default TLS server name
}

// parseUpstream reads h2c://host:port or https://host[:port].
func parseUpstream(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("%w: upstream %q: %w", ErrConfig, raw, err)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return target{}, fmt.Errorf("%w: upstream %q: want scheme://host:port and nothing else", ErrConfig, raw)
	}
	var t target
	port := u.Port()
	switch u.Scheme {
	case "h2c":
		t.proto, t.scheme = "h2c", "http"
		if port == "" {
			return target{}, fmt.Errorf("%w: upstream %q: h2c needs a port", ErrConfig, raw)
		}
	case "https", "h2":
		t.proto, t.scheme = "h2", "https"
		if port == "" {
			port = "443"
		}
	default:
		return target{}, fmt.Errorf("%w: upstream %q: scheme must be h2c or https", ErrConfig, raw)
	}
	t.host = u.Hostname()
	t.address = net.JoinHostPort(t.host, port)
	return t, nil
}

// newPool builds the pool that serves t.
func newPool(cfg *Config, t target) (upstream, error) {
	pc := cfg.Pool
	h2cfg := h2.Config{
		Logger:               cfg.Logger.With().Str("upstream", cfg.Upstream).Logger(),
		Address:              t.address,
		MaxSessions:          pc.MaxSessions,
		MaxStreamsPerSession: pc.MaxStreamsPerSession,
		QueueLength:          pc.QueueLength,
		QueueTimeout:         pc.QueueTimeout,
		StreamWindow:         pc.StreamWindow,
		ConnWindow:           pc.ConnWindow,
		DialTimeout:          pc.DialTimeout,
		PingInterval:         pc.PingInterval,
		PingTimeout:          pc.PingTimeout,
	}
	if t.proto == "h2" {
		tc := &tls.Config{}
		if cfg.UpstreamTLS != nil {
			tc = cfg.UpstreamTLS.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = t.host
		}
		h2cfg.TLS = tc
	}
	return h2.New(h2cfg)
}
