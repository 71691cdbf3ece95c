package gateway

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"muxgate/internal/fieldlist"
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

// TestConnectionOptionNotToken: a Connection element that is not a token (RFC 9110 7.6.1:
// connection-option = token) removes no field, neither the token before its ';' nor any other,
// and the valid options beside it still do, on the header map path (removeHopHeaders) and the
// list path (outboundList) alike.
func TestConnectionOptionNotToken(t *testing.T) {
	fields := []fieldlist.Field{
		{Name: "Connection", Value: "x-a;q=1, X-B"},
		{Name: "connection", Value: "x-c d, \"x-d\", x-e/1"},
		{Name: "X-A", Value: "1"},
		{Name: "x-b", Value: "2"},
		{Name: "X-C", Value: "3"},
		{Name: "X-D", Value: "4"},
		{Name: "X-E", Value: "5"},
	}
	want := http.Header{"X-A": {"1"}, "X-C": {"3"}, "X-D": {"4"}, "X-E": {"5"}}

	h := fieldlist.Header(fields)
	removeHopHeaders(h)
	p := &proxy{}
	list := fieldlist.Header(p.outboundList(slices.Clone(fields), &http.Request{ProtoMajor: 1, ProtoMinor: 1}))
	for path, got := range map[string]http.Header{"map": h, "list": list} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s path: got %q, want %q", path, got, want)
		}
	}
}

// TestForwardingEmptyElements: the X-Forwarded-For and Via the gateway sends have no empty list
// element (RFC 9110 5.6.1), whatever empty values or elements the client sent, on the header map
// path (forwarding.add) and the list path (outboundList) alike.
func TestForwardingEmptyElements(t *testing.T) {
	in := &http.Request{RemoteAddr: "192.0.2.7:5555", ProtoMajor: 1, ProtoMinor: 1}
	fw := forwarding{forwardedFor: true, forwardedProto: true, via: true}
	for _, tc := range []struct {
		name     string
		xff, via []string // the client's values
		wantXFF  string
		wantVia  []string
	}{
		{"empty values", []string{""}, []string{""}, "192.0.2.7", []string{"1.1 muxgate"}},
		{"only commas", []string{" , ,"}, []string{",", "\t,"}, "192.0.2.7", []string{"1.1 muxgate"}},
		{"empty around elements", []string{", 198.51.100.1,", "", " ,203.0.113.5 ,, 198.51.100.9"},
			[]string{"", "1.0 a", ""}, "198.51.100.1, 203.0.113.5, 198.51.100.9, 192.0.2.7", []string{"1.0 a", "1.1 muxgate"}},
		// A Via value with elements is forwarded as sent: its comments may hold commas.
		{"Via comment", nil, []string{"1.0 a (x, , y)"}, "192.0.2.7", []string{"1.0 a (x, , y)", "1.1 muxgate"}},
		{"nothing to drop", []string{"198.51.100.1"}, []string{"1.0 a"}, "198.51.100.1, 192.0.2.7", []string{"1.0 a", "1.1 muxgate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			var list []fieldlist.Field
			for _, v := range tc.xff {
				h["X-Forwarded-For"] = append(h["X-Forwarded-For"], v)
				list = append(list, fieldlist.Field{Name: "x-forwarded-for", Value: v})
			}
			for _, v := range tc.via {
				h["Via"] = append(h["Via"], v)
				list = append(list, fieldlist.Field{Name: "Via", Value: v})
			}
			fw.add(h, in)
			p := &proxy{forward: fw}
			fromList := fieldlist.Header(p.outboundList(list, in))
			for path, got := range map[string]http.Header{"map": h, "list": fromList} {
				if xff := got["X-Forwarded-For"]; !reflect.DeepEqual(xff, []string{tc.wantXFF}) {
					t.Errorf("%s path: got X-Forwarded-For %q, want [%q]", path, xff, tc.wantXFF)
				}
				if via := got["Via"]; !reflect.DeepEqual(via, tc.wantVia) {
					t.Errorf("%s path: got Via %q, want %q", path, via, tc.wantVia)
				}
			}
		})
	}
}

func TestTargetPath(t *testing.T) {
	for target, want := range map[string]string{
		"/a|b?q=|":                 "/a|b",
		"/plain":                   "/plain",
		"/a?":                      "/a",
		"//x":                      "//x",
		"*":                        "",
		"http://h/a%41|b?q":        "/a%41|b",
		"http://h:81/":             "/",
		"http://h":                 "",
		"http://h?q=/x":            "",
		"https://h//x":             "//x",
		"http://[::1]:8080/p{q}?r": "/p{q}",
	} {
		if got := targetPath(target); got != want {
			t.Errorf("targetPath(%q) = %q, want %q", target, got, want)
		}
	}
}

// TestOpaquePath: a path that starts with "//" goes in net/url's "//host//path" form, the host
// the sessions send, and an OPTIONS for the absolute-form of a server as a whole goes as "*".
func TestOpaquePath(t *testing.T) {
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/a|b?q", "/a|b"},
		{"GET", "//admin%2f..%2fx|c", "//h//admin%2f..%2fx|c"},
		{"GET", "http://h//x", "//h//x"},
		{"GET", "http://h", ""},
		{"OPTIONS", "http://h", "*"},
		{"OPTIONS", "http://h:81", "*"},
		{"OPTIONS", "http://h?q", ""},
		{"OPTIONS", "http://h/", "/"},
		{"OPTIONS", "*", ""},
	} {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{Method: tc.method, URL: u, RequestURI: tc.target, Host: "h"}
		if got := opaquePath(targetPath(tc.target), r, "up:1"); got != tc.want {
			t.Errorf("%s %s: Opaque %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
	// An HTTP/1.0 request without Host goes to the upstream's address, which the sessions cut.
	r := &http.Request{Method: "GET", URL: &url.URL{Path: "//x"}, RequestURI: "//x"}
	if got := opaquePath("//x", r, "up:1"); got != "//up:1//x" {
		t.Errorf("without Host: Opaque %q, want //up:1//x", got)
	}
}

// FuzzTargetPath: for a target that h1 takes (url.ParseRequestURI, and an http or https URI with
// a host in the absolute-form), the path targetPath returns names
// the same path as the parsed URL (once unescaped), starts with '/', holds no query, and is
// the target's own bytes; an origin-form target is that path and then its query.
//
// Run with: go test ./gateway -run XXX -fuzz '^FuzzTargetPath$' -fuzztime 45s
func FuzzTargetPath(f *testing.F) {
	for _, s := range []string{"/a|b?q", "/a%41|b", "http://h/x{y}", "http://h?q", "//x", "*", "/a?", "https://h:1/%2F/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || target[0] != '/' && (u.Host == "" || u.Opaque != "" || u.User != nil ||
			!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
			return // not a target h1 lets through (its parseAbsoluteForm)
		}
		p := targetPath(target)
		if p == "" {
			return
		}
		if p[0] != '/' || strings.Contains(p, "?") || !strings.Contains(target, p) {
			t.Fatalf("targetPath(%q) = %q: not a path of the target's own", target, p)
		}
		if unescaped, err := url.PathUnescape(p); err != nil || unescaped != u.Path {
			t.Errorf("targetPath(%q) = %q, unescaped %q (%v); the URL's path is %q", target, p, unescaped, err, u.Path)
		}
		if rest, ok := strings.CutPrefix(target, p); target[0] == '/' && (!ok || rest != "" && rest[0] != '?') {
			t.Errorf("targetPath(%q) = %q: not the target's path, before its query", target, p)
		}
	})
}
