package gateway

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
)

func TestForwardedElement(t *testing.T) {
	for _, tc := range []struct {
		remote, host string
		tls          bool
		want         string
	}{
		{"192.0.2.43:5000", "a.test", false, "for=192.0.2.43;host=a.test;proto=http"},
		{"[2001:db8::1]:443", "a.test:8443", true, `for="[2001:db8::1]";host="a.test:8443";proto=https`},
		{"192.0.2.43:5000", "", false, "for=192.0.2.43;proto=http"},
		{"192.0.2.43:5000", `[::1]:80`, false, `for=192.0.2.43;host="[::1]:80";proto=http`},
		{"pipe", "a.test", false, ""},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Host: tc.host}
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := forwardedElement(r); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.remote, tc.host, got, tc.want)
		}
	}
}

func TestWriteTokenOrQuoted(t *testing.T) {
	for in, want := range map[string]string{"a.test": "a.test", "a.test:80": `"a.test:80"`, `a"b\c`: `"a\"b\\c"`, "": `""`} {
		var b strings.Builder
		writeTokenOrQuoted(&b, in)
		if b.String() != want {
			t.Errorf("%q: %s, want %s", in, b.String(), want)
		}
	}
}
