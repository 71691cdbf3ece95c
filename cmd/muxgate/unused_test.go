package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"muxgate/gateway"
)

// TestWarnUnused: a flag that the others leave without effect is named in a warning; a
// configuration that uses all its flags gets none.
func TestWarnUnused(t *testing.T) {
	for _, tc := range []struct {
		o    options
		want []string
	}{
		{options{cert: listFlag{"c.pem"}, key: listFlag{"c.key"}, upstreams: listFlag{"https://a"}}, []string{"-cert and -key are unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, health: gateway.HealthCheck{Path: "/h"}}, []string{"-health-check is unused"}},
		{options{upstreams: listFlag{"h2c://a:1", "h2c://a:2"}, health: gateway.HealthCheck{Path: "/h"}}, nil},
		{options{upstreams: listFlag{"h2c://a:1"}, upCA: "ca.pem"}, []string{"-upstream-ca, -upstream-insecure, -upstream-server-name and -upstream-cert are unused"}},
		{options{demo: true, upInsecure: true}, []string{"-upstream-ca, -upstream-insecure, -upstream-server-name and -upstream-cert are unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, tlsMin: "1.0", ticketKeys: "keys"}, []string{"-tls-min-version, -tls-ciphers and -tls-h2 are unused", "-tls-ticket-keys is unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, tlsMin: "1.2", tlsCiphers: "TLS_RSA_WITH_AES_128_CBC_SHA"}, []string{"-tls-min-version, -tls-ciphers and -tls-h2 are unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, redirectTo: 8443}, []string{"-redirect-https-port is unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, clientCA: "ca.pem"}, []string{"-client-ca is unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, clientOpt: true}, []string{"-client-cert-optional is unused"}},
		{options{upstreams: listFlag{"h2c://a:1"}, redirectTo: 8443, redirect: true}, nil},
		{options{cert: listFlag{"c.pem"}, key: listFlag{"c.key"}, listenTLS: listFlag{":8443"}, upstreams: listFlag{"https://a"}, upCA: "ca.pem",
			tlsMin: "1.0", tlsCiphers: "TLS_RSA_WITH_AES_128_CBC_SHA", ticketKeys: "keys"}, nil},
	} {
		var b bytes.Buffer
		warnUnused(&tc.o, zerolog.New(&b))
		if got := strings.Count(b.String(), "\n"); got != len(tc.want) {
			t.Errorf("%+v: %d warnings %q, want %d", tc.o, got, b.String(), len(tc.want))
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%+v: warnings %q, want one saying %q", tc.o, b.String(), w)
			}
		}
	}
}
