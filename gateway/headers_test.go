package gateway

import (
	"crypto/tls"
	"net/http"
	"reflect"
	"testing"
)

func TestRemoveHopHeaders(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         http.Header
		want       http.Header
		wantTrailr bool
	}{
		{
			name: "connection-listed and hop-by-hop fields go",
			in: http.Header{
				"Connection":        {"keep-alive, X-Secret", " Upgrade "},
				"X-Secret":          {"1"},
				"Keep-Alive":        {"timeout=5"},
				"Upgrade":           {"h2c"},
				"Http2-Settings":    {"AAMAAABkAAQAAP__"},
				"Proxy-Connection":  {"keep-alive"},
				"Transfer-Encoding": {"chunked"},
				"Accept":            {"*/*"},
			},
			want: http.Header{"Accept": {"*/*"}},
		},
		{
			name:       "TE keeps only trailers",
			in:         http.Header{"Te": {"gzip;q=0.5, trailers"}},
			want:       http.Header{},
			wantTrailr: true,
		},
		{
			name: "TE without trailers",
			in:   http.Header{"Te": {"gzip"}},
			want: http.Header{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.Clone()
			trailers := removeHopHeaders(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("header: got %v, want %v", got, tc.want)
			}
			if trailers != tc.wantTrailr {
				t.Errorf("trailers: got %v, want %v", trailers, tc.wantTrailr)
			}
		})
	}
}

func TestForwarding(t *testing.T) {
	in := &http.Request{RemoteAddr: "192.0.2.7:5555", ProtoMajor: 1, ProtoMinor: 0, TLS: &tls.ConnectionState{}}
	h := http.Header{"X-Forwarded-For": {"198.51.100.1"}, "Via": {"1.1 edge"}}
	forwarding{forwardedFor: true, forwardedProto: true, via: true}.add(h, in)
	want := http.Header{
		"X-Forwarded-For":   {"198.51.100.1, 192.0.2.7"},
		"X-Forwarded-Proto": {"https"},
		"Via":               {"1.1 edge", "1.0 muxgate"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v", h, want)
	}

	h = http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	forwarding{}.add(h, in)
	if want := (http.Header{"X-Forwarded-For": {"198.51.100.1"}}); !reflect.DeepEqual(h, want) {
		t.Errorf("all off: got %v, want %v", h, want)
	}
}
