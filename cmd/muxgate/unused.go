package main

import (
	"strings"

	"github.com/rs/zerolog"
)

// warnUnused logs the flags that o's other flags leave without effect, which would otherwise be
// ignored without a word: certificates with no TLS listener, and the upstream TLS flags with an
// h2c upstream (the demo's is one).
func warnUnused(o *options, log zerolog.Logger) {
	if o.health.Path != "" && len(o.upstreams) < 2 {
		log.Warn().Msg("-health-check is unused: it checks the upstreams of several -upstream, and one is given")
	}
	if o.eject.After > 0 && len(o.upstreams) < 2 {
		log.Warn().Msg("-eject-after is unused: it takes one of several -upstream out, and one is given")
	}
	if len(o.cert) > 0 && o.tlsListeners() == 0 {
		log.Warn().Msg("-cert and -key are unused: they serve -listen-tls and -listen-tls-proxy, and none is given")
	}
	if (o.tlsMin != "" && o.tlsMin != "1.2" || o.tlsCiphers != "" || o.tlsH2) && o.tlsListeners() == 0 {
		log.Warn().Msg("-tls-min-version, -tls-ciphers and -tls-h2 are unused: they serve -listen-tls and -listen-tls-proxy, and none is given")
	}
	if o.redirectTo != 443 && !o.redirect && o.redirectTo != 0 {
		log.Warn().Msg("-redirect-https-port is unused: it serves -redirect-https, which is not given")
	}
	if o.clientCA != "" && o.tlsListeners() == 0 {
		log.Warn().Msg("-client-ca is unused: it serves -listen-tls and -listen-tls-proxy, and none is given")
	}
	if o.clientOpt && o.clientCA == "" {
		log.Warn().Msg("-client-cert-optional is unused: it serves -client-ca, which is not given")
	}
	if o.ticketKeys != "" && o.tlsListeners() == 0 {
		log.Warn().Msg("-tls-ticket-keys is unused: the keys serve -listen-tls and -listen-tls-proxy, and none is given")
	}
	if (o.demo || strings.HasPrefix(o.upstreams.first(), "h2c://") || strings.HasPrefix(o.upstreams.first(), "unix:")) && (o.upCA != "" || o.upInsecure || o.upName != "" || o.upCert != "") {
		log.Warn().Msg("-upstream-ca, -upstream-insecure, -upstream-server-name and -upstream-cert are unused: the upstream is h2c")
	}
}
