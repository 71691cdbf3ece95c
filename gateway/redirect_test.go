package gateway

import (
	"net/http"
	"testing"
)

func TestHTTPSLocation(t *testing.T) {
	for _, tc := range []struct {
		host, target string
		port         int
		want         string
	}{
		{"a.test", "/p?q=1", 443, "https://a.test/p?q=1"},
		{"a.test:8080", "/p", 443, "https://a.test/p"},
		{"a.test:8080", "//x/%2f?q", 8443, "https://a.test:8443//x/%2f?q"},
		{"[::1]:8080", "/", 443, "https://[::1]/"},
		{"[::1]", "/", 8443, "https://[::1]:8443/"},
		{"a.test", "http://a.test/p?q", 443, "https://a.test/p?q"},
		{"a.test", "http://a.test?q", 443, "https://a.test/?q"},
		{"a.test", "http://a.test", 443, "https://a.test/"},
	} {
		r := &http.Request{Host: tc.host, RequestURI: tc.target}
		if got := httpsLocation(r, tc.port); got != tc.want {
			t.Errorf("%s %s to %d: %s, want %s", tc.host, tc.target, tc.port, got, tc.want)
		}
	}
}
