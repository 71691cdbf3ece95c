package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

var defaultLimits = Config{}.withDefaults().limits()

// parseRaw runs raw through readHead and parseHead, reading through a bufio.Reader of the given
// size (small sizes exercise lines longer than the buffer).
func parseRaw(raw string, lim limits, bufSize int) (*head, error) {
	br := bufio.NewReaderSize(strings.NewReader(raw), bufSize)
	b, err := readHead(br, nil, lim)
	if err != nil {
		return nil, err
	}
	h := new(head)
	if err := parseHead(h, string(b)); err != nil {
		return nil, err
	}
	return h, nil
}

// headSummary is the comparable part of a head.
type headSummary struct {
	method, target, host         string
	minor                        int
	framing                      framing
	length                       int64
	close, keepAlive, expectCont bool
}

func summary(h *head) headSummary {
	return headSummary{h.method, h.target, h.host, h.minor, h.framing, h.length, h.close, h.keepAlive, h.expectContinue}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want head // compared field by field: method, target, host, framing, length, close, keepAlive, expectContinue, minor
		hdr  map[string][]string
	}{
		{name: "origin form", raw: "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n",
			want: head{method: "GET", target: "/a?b=c", host: "example.com", minor: 1}},
		{name: "absolute form", raw: "GET http://example.com/a HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n",
			want: head{method: "GET", target: "http://example.com/a", host: "example.com", minor: 1}},
		{name: "asterisk form", raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			want: head{method: "OPTIONS", target: "*", host: "a", minor: 1}},
		{name: "authority form", raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			want: head{method: "CONNECT", target: "example.com:443", host: "example.com:443", minor: 1}},
		{name: "IPv6 Host", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
			want: head{method: "GET", target: "/", host: "[::1]:8080", minor: 1}},
		// RFC 3986 3.2.3: a port may be empty; it goes upstream as sent.
		{name: "Host with empty port", raw: "GET http://a:/ HTTP/1.1\r\nHost: a:\r\n\r\n",
			want: head{method: "GET", target: "http://a:/", host: "a:", minor: 1}},
		// RFC 9110 4.2.1, RFC 3986 6.2.3: the scheme's default port, or an empty one, names the
		// same origin as none; the target's authority goes upstream.
		{name: "absolute form, default port", raw: "GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
			want: head{method: "GET", target: "http://a:80/", host: "a:80", minor: 1}},
		{name: "absolute form, Host with default port", raw: "GET https://A/ HTTP/1.1\r\nHost: a:443\r\n\r\n",
			want: head{method: "GET", target: "https://A/", host: "A", minor: 1}},
		{name: "absolute form, Host with empty port", raw: "GET http://[::1]/ HTTP/1.1\r\nHost: [::1]:\r\n\r\n",
			want: head{method: "GET", target: "http://[::1]/", host: "[::1]", minor: 1}},
		{name: "extension method", raw: "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
			want: head{method: "PURGE", target: "/x", host: "a", minor: 1}},
		{name: "leading empty lines", raw: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
			want: head{method: "GET", target: "/", host: "a", minor: 1}},
		{name: "HTTP/1.0 without Host closes", raw: "GET / HTTP/1.0\r\n\r\n",
			want: head{method: "GET", target: "/", close: true}},
		{name: "HTTP/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want: head{method: "GET", target: "/", keepAlive: true}},
		{name: "HTTP/1.0 ignores Expect", raw: "POST / HTTP/1.0\r\nExpect: x\r\nContent-Length: 1\r\n\r\n",
			want: head{method: "POST", target: "/", close: true, framing: framingLength, length: 1}},
		{name: "HTTP/1.1 close", raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
			want: head{method: "GET", target: "/", host: "a", minor: 1, close: true}},
		// Connection options compare ASCII case-insensitively: a Kelvin sign or a long s is no
		// "k" or "s".
		{name: "HTTP/1.0 Kelvin-sign keep-alive closes", raw: "GET / HTTP/1.0\r\nConnection: \u212Aeep-Alive\r\n\r\n",
			want: head{method: "GET", target: "/", close: true}},
		{name: "HTTP/1.1 long-s close keeps", raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: clo\u017Fe\r\n\r\n",
			want: head{method: "GET", target: "/", host: "a", minor: 1}},
		{name: "HTTP/1.2 as 1.1", raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
			want: head{method: "GET", target: "/", host: "a", minor: 2}},
		{name: "content length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
			want: head{method: "POST", target: "/", host: "a", minor: 1, framing: framingLength, length: 5}},
		{name: "content length zero", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
			want: head{method: "POST", target: "/", host: "a", minor: 1}},
		{name: "content length leading zeros", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
			want: head{method: "POST", target: "/", host: "a", minor: 1, framing: framingLength, length: 7}},
		{name: "identical content lengths", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n",
			want: head{method: "POST", target: "/", host: "a", minor: 1, framing: framingLength, length: 5}},
		{name: "chunked", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
			want: head{method: "POST", target: "/", host: "a", minor: 1, framing: framingChunked, length: -1}},
		{name: "expect continue", raw: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
			want: head{method: "PUT", target: "/", host: "a", minor: 1, framing: framingLength, length: 3, expectContinue: true}},
		{name: "expect continue without content", raw: "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
			want: head{method: "GET", target: "/", host: "a", minor: 1}},
		{name: "fields canonical, trimmed, in order",
			raw:  "GET / HTTP/1.1\r\nhost: a\r\nx-multi: 1\r\nX-MULTI:\t 2 \t\r\nx-empty:\r\nX-Obs: caf\xe9\r\n\r\n",
			want: head{method: "GET", target: "/", host: "a", minor: 1},
			hdr:  map[string][]string{"Host": {"a"}, "X-Multi": {"1", "2"}, "X-Empty": {""}, "X-Obs": {"caf\xe9"}}},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} {
			h, err := parseRaw(tt.raw, defaultLimits, size)
			if err != nil {
				t.Errorf("%s (buffer %d): got error %v, want none", tt.name, size, err)
				continue
			}
			if got, want := summary(h), summary(&tt.want); got != want {
				t.Errorf("%s (buffer %d):\ngot  %+v\nwant %+v", tt.name, size, got, want)
			}
			if h.url == nil {
				t.Errorf("%s: got nil URL, want one", tt.name)
			}
			for k, want := range tt.hdr {
				if got := h.header[k]; strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
					t.Errorf("%s: header %q: got %q, want %q", tt.name, k, got, want)
				}
			}
		}
	}
}

func TestParseURL(t *testing.T) {
	h, err := parseRaw("GET https://example.com:8443/p?q=1 HTTP/1.1\r\nHost: example.com:8443\r\n\r\n", defaultLimits, 4096)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if h.url.Scheme != "https" || h.url.Host != "example.com:8443" || h.url.Path != "/p" || h.url.RawQuery != "q=1" {
		t.Errorf("got URL %#v, want https://example.com:8443/p?q=1 split", h.url)
	}
	h, err = parseRaw("GET /p%20q?x=%zz HTTP/1.1\r\nHost: a\r\n\r\n", defaultLimits, 4096)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if h.url.Path != "/p q" || h.url.RawQuery != "x=%zz" || h.url.Host != "" {
		t.Errorf("got URL %#v, want path %q query %q", h.url, "/p q", "x=%zz")
	}
}

func TestParseRejects(t *testing.T) {
	const host = "Host: a\r\n"
	tests := []struct {
		name string
		raw  string
		want *statusError
	}{
		{"double space", "GET  / HTTP/1.1\r\n" + host + "\r\n", errRequestLine},
		{"tab separator", "GET\t/ HTTP/1.1\r\n" + host + "\r\n", errRequestLine},
		{"missing version", "GET /\r\n" + host + "\r\n", errRequestLine},
		{"trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n", errVersionSyntax},
		{"bad method", "G@T / HTTP/1.1\r\n" + host + "\r\n", errMethod},
		{"method with NUL", "G\x00T / HTTP/1.1\r\n" + host + "\r\n", errMethod},
		{"lower-case version", "GET / http/1.1\r\n" + host + "\r\n", errVersionSyntax},
		{"two-digit minor", "GET / HTTP/1.10\r\n" + host + "\r\n", errVersionSyntax},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", errVersion},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", errVersion},
		{"bare LF request line", "GET / HTTP/1.1\n" + host + "\r\n", errBareLF},
		{"bare LF field", "GET / HTTP/1.1\r\nHost: a\n\r\n", errBareLF},
		{"bare LF end", "GET / HTTP/1.1\r\nHost: a\r\n\n", errBareLF},
		{"obs-fold SP", "GET / HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n", errObsFold},
		{"obs-fold HTAB", "GET / HTTP/1.1\r\n" + host + "X: a\r\n\tb\r\n\r\n", errObsFold},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", errSpaceBeforeColon},
		{"tab before colon", "GET / HTTP/1.1\r\n" + host + "X\t: a\r\n\r\n", errSpaceBeforeColon},
		{"no colon", "GET / HTTP/1.1\r\n" + host + "X-Y\r\n\r\n", errFieldLine},
		{"empty name", "GET / HTTP/1.1\r\n" + host + ": v\r\n\r\n", errFieldName},
		{"bad name", "GET / HTTP/1.1\r\n" + host + "X[1]: v\r\n\r\n", errFieldName},
		{"NUL in name", "GET / HTTP/1.1\r\n" + host + "X\x00Y: v\r\n\r\n", errFieldName},
		{"CR in name", "GET / HTTP/1.1\r\n" + host + "X\rY: v\r\n\r\n", errFieldName},
		{"NUL in value", "GET / HTTP/1.1\r\n" + host + "X: a\x00b\r\n\r\n", errFieldValue},
		{"CR in value", "GET / HTTP/1.1\r\n" + host + "X: a\rb\r\n\r\n", errFieldValue},
		{"DEL in value", "GET / HTTP/1.1\r\n" + host + "X: a\x7fb\r\n\r\n", errFieldValue},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", errMissingHost},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", errDuplicateHost},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", errHost},
		{"Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", errHost},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", errHost},
		// RFC 9112 3.2: a Host that is not uri-host [ ":" port ] (RFC 3986 3.2.2, 3.2.3) gets 400.
		{"Host IPv6 unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", errHost},
		{"Host IPv6 without brackets", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", errHost},
		{"Host two ports", "GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", errHost},
		{"Host signed port", "GET / HTTP/1.1\r\nHost: a:+80\r\n\r\n", errHost},
		{"Host port over 65535", "GET / HTTP/1.1\r\nHost: a:65616\r\n\r\n", errHost},
		{"Host port without host", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", errHost},
		{"Host IPv4 in brackets", "GET / HTTP/1.1\r\nHost: [192.0.2.1]\r\n\r\n", errHost},
		{"Host bad escape", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", errHost},
		{"absolute form, port over 65535", "GET http://a:65616/ HTTP/1.1\r\nHost: a:65616\r\n\r\n", errHost},
		{"absolute form, port without host", "GET http://:80/ HTTP/1.1\r\nHost: a\r\n\r\n", errTarget},
		{"authority form, port over 65535", "CONNECT a:65616 HTTP/1.1\r\nHost: a\r\n\r\n", errTarget},
		{"absolute form, other Host", "GET http://b/ HTTP/1.1\r\n" + host + "\r\n", errHostMismatch},
		{"absolute form, no Host", "GET http://a/ HTTP/1.1\r\n\r\n", errMissingHost},
		{"authority form, other Host", "CONNECT b:443 HTTP/1.1\r\n" + host + "\r\n", errHostMismatch},
		{"absolute form, other port", "GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n", errHostMismatch},
		{"absolute form, https's port for http", "GET http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n", errHostMismatch},
		{"absolute form, Host with another port", "GET http://a/ HTTP/1.1\r\nHost: a:81\r\n\r\n", errHostMismatch},
		{"CL and TE", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", errLengthAndChunked},
		{"TE and CL", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", errLengthAndChunked},
		{"CL differs", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", errContentLength},
		{"CL list differs", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\n", errContentLength},
		{"CL empty", "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", errContentLength},
		{"CL empty member", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5,\r\n\r\n", errContentLength},
		{"CL negative", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", errContentLength},
		{"CL plus", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", errContentLength},
		{"CL hex", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\n", errContentLength},
		{"CL inner space", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1 2\r\n\r\n", errContentLength},
		{"CL overflow", "POST / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775808\r\n\r\n", errContentLength},
		{"TE gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", errTransferEncoding},
		{"TE gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", errTransferEncoding},
		{"TE chunked not last", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n", errTransferEncoding},
		{"TE chunked twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n", errTransferEncoding},
		{"TE chunked in two fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", errTransferEncoding},
		// A Kelvin sign, which strings.EqualFold folds to "k"; net/http refuses it too.
		{"TE chunked with a Kelvin sign", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chun\u212Aed\r\n\r\n", errTransferEncoding},
		{"TE with parameter", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked;q=1\r\n\r\n", errTransferEncoding},
		{"TE empty", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n\r\n", errTransferEncoding},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", errTransferEncoding},
		{"unknown expectation", "GET / HTTP/1.1\r\n" + host + "Expect: 200-ok\r\n\r\n", errExpectation},
		{"control in target", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"fragment in target", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"bad escape", "GET /%zz HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"asterisk with GET", "GET * HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"authority form with GET", "GET a:443 HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"CONNECT origin form", "CONNECT / HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"CONNECT without port", "CONNECT a HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"user info", "GET http://u@a/ HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"other scheme", "GET ftp://a/ HTTP/1.1\r\n" + host + "\r\n", errTarget},
		{"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", errTarget},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} {
			_, err := parseRaw(tt.raw, defaultLimits, size)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s (buffer %d): got error %v, want %v (%d)", tt.name, size, err, tt.want, tt.want.code)
			}
		}
	}
}

func TestParseLimits(t *testing.T) {
	lim := limits{headerBytes: 200, headerCount: 3, uriBytes: 50}
	fields := func(n int) string { return strings.Repeat("X-A: b\r\n", n) }
	tests := []struct {
		name string
		raw  string
		want error // nil: accepted
	}{
		{"fields at count", "GET / HTTP/1.1\r\nHost: a\r\n" + fields(2) + "\r\n", nil},
		{"fields over count", "GET / HTTP/1.1\r\nHost: a\r\n" + fields(3) + "\r\n", errTooManyFields},
		{"head at size", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 200-32) + "\r\n\r\n", nil},
		{"head over size", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 200-31) + "\r\n\r\n", errHeaderTooLarge},
		{"one long field", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 1000), errHeaderTooLarge},
		{"URI at limit", "GET /" + strings.Repeat("u", 49) + " HTTP/1.1\r\nHost: a\r\n\r\n", nil},
		{"URI over limit", "GET /" + strings.Repeat("u", 50) + " HTTP/1.1\r\nHost: a\r\n\r\n", errURITooLong},
		{"URI over limit, unterminated", "GET /" + strings.Repeat("u", 1000), errURITooLong},
		{"long method", strings.Repeat("M", 1000), errHeaderTooLarge},
		{"empty lines count", strings.Repeat("\r\n", 101) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", errHeaderTooLarge},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} {
			_, err := parseRaw(tt.raw, lim, size)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%s (buffer %d): got error %v, want %v", tt.name, size, err, tt.want)
			}
		}
	}
	// The line in progress counts against the URI limit before the line is complete: 414
	// comes without reading the rest.
	big := limits{headerBytes: 1 << 20, headerCount: 10, uriBytes: 50}
	br := bufio.NewReaderSize(strings.NewReader("GET /"+strings.Repeat("u", 100)), 16)
	if _, err := readHead(br, nil, big); !errors.Is(err, errURITooLong) {
		t.Errorf("partial long target: got error %v, want %v", err, errURITooLong)
	}
}

func TestParseContentLength(t *testing.T) {
	tests := []struct {
		in   []string
		want int64
		ok   bool
	}{
		{[]string{"0"}, 0, true},
		{[]string{"12"}, 12, true},
		{[]string{" 12\t"}, 12, true},
		{[]string{"12", "12"}, 12, true},
		{[]string{"12, 12 ,12"}, 12, true},
		{[]string{"9223372036854775807"}, 1<<63 - 1, true},
		{[]string{"9223372036854775808"}, 0, false},
		{[]string{"12", "13"}, 0, false},
		{[]string{""}, 0, false},
		{[]string{","}, 0, false},
		{[]string{"1_0"}, 0, false},
		{[]string{"-0"}, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseContentLength(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseContentLength(%q): got %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStatusErrorsHaveStandardCodes(t *testing.T) {
	for _, e := range []*statusError{errRequestLine, errVersion, errHeaderTooLarge, errURITooLong,
		errRequestTimeout, errExpectation, errConnect, errHandlerPanic} {
		if http.StatusText(e.code) == "" {
			t.Errorf("%v: got code %d without a reason phrase, want a standard code", e, e.code)
		}
	}
}

// FuzzPlainOrigin: a target that plainOrigin accepts gets exactly the URL that
// url.ParseRequestURI would give it.
func FuzzPlainOrigin(f *testing.F) {
	for _, s := range []string{"/", "/bytes/100", "/a?b=c&d", "/a?b?c", "//x", "/a?", "/%41", "/a#b", "/a b", "/~user/(x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !plainOrigin(target) {
			return
		}
		var h head
		h.target, h.method, h.minor = target, "GET", 1
		h.header = http.Header{"Host": {"example.test"}}
		if err := h.parseTarget(); err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%q: plain, but url.ParseRequestURI fails: %v", target, err)
		}
		if *h.url != *want {
			t.Errorf("%q: got %#v, want %#v", target, *h.url, *want)
		}
	})
}

// splitReader returns its data in two reads, the first ending at split.
type splitReader struct {
	data  string
	split int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.EOF
	}
	n := copy(p, r.data[:max(r.split, 1)])
	r.data, r.split = r.data[n:], r.split-n
	return n, nil
}

// TestReadHeadsInOneBuffer: heads that arrive together, pipelined, with a body between them,
// are read one at a time from the same buffered bytes, each ending exactly after its empty line
// and leaving the bytes after it to the next read, wherever the bytes' arrival splits them.
func TestReadHeadsInOneBuffer(t *testing.T) {
	first := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
	second := "GET /b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
	stream := "\r\n" + first + "body" + second + "GET /c"
	for split := 0; split <= len(stream); split++ {
		br := bufio.NewReaderSize(&splitReader{data: stream, split: split}, 4096)
		got1, err := readHead(br, nil, defaultLimits)
		if err != nil || string(got1) != first {
			t.Fatalf("split at %d: first head %q, %v; want %q", split, got1, err, first)
		}
		body := make([]byte, 4)
		if _, err := io.ReadFull(br, body); err != nil || string(body) != "body" {
			t.Fatalf("split at %d: body %q, %v", split, body, err)
		}
		got2, err := readHead(br, nil, defaultLimits)
		if err != nil || string(got2) != second {
			t.Fatalf("split at %d: second head %q, %v; want %q", split, got2, err, second)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "GET /c" {
			t.Fatalf("split at %d: after the heads %q, want %q", split, rest, "GET /c")
		}
	}
}

// TestListedOwnFields parses heads whose own fields (those parseHead and newRequest read) come in
// odd letter cases, beside fields of the same lengths that are not own fields, as a map and as a
// list: both must read them the same (compareListed), and each own field must be found in any
// case.
func TestListedOwnFields(t *testing.T) {
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nhOST: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHosT: a\r\nhost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nx-yz: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nCONTENT-LENGTH: 5\r\nContent-LENGTH: 6\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Lengtx: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\ntransfer-ENCODING: chunked\r\ntrailer: x-sum\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encodinx: chunked\r\nTrailex: x-sum\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nCONNECTION: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnectiox: close\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a\r\nconnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nconnection: upgrade\r\nUPGRADE: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nconnection: upgrade\r\nUpgradx: websocket\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nEXPECT: 100-continue\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nExpect: nothing\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nExpecx: nothing\r\n\r\n",
	} {
		var h head
		err := parseHead(&h, raw)
		compareListed(t, []byte(raw), &h, err)
	}
	for f, name := range ownNames {
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			if got, want := namedBit(n), uint8(1)<<f; got != want {
				t.Errorf("namedBit(%q) = %#x, want %#x", n, got, want)
			}
		}
		if got := namedBit(name[:len(name)-1] + "x"); got != 0 {
			t.Errorf("namedBit(%q) = %#x, want 0", name[:len(name)-1]+"x", got)
		}
	}
}

// FuzzWholeHead: where wholeHead takes a head at once, reading it a line at a time (readLines)
// takes the same bytes, without an error, and leaves the same bytes after it; and where
// readLines takes a head that does not begin with an empty line, wholeHead takes it too, since
// the fuzzer's bytes are all there at once.
func FuzzWholeHead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(4096), uint8(64), uint16(1024))
	}
	head := "GET /abc HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"
	f.Add([]byte(head), uint16(len(head)), uint8(2), uint16(4))   // every limit just met
	f.Add([]byte(head), uint16(len(head)-1), uint8(2), uint16(4)) // one byte too many
	f.Add([]byte(head), uint16(len(head)), uint8(1), uint16(4))   // one field too many
	f.Add([]byte(head), uint16(len(head)), uint8(2), uint16(3))   // a target too long
	bareLF := "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"
	f.Add([]byte(bareLF), uint16(4096), uint8(64), uint16(1024))
	f.Fuzz(func(t *testing.T, data []byte, headerBytes uint16, headerCount uint8, uriBytes uint16) {
		lim := limits{headerBytes: int(headerBytes), headerCount: int(headerCount), uriBytes: int(uriBytes)}
		n := wholeHead(data, lim)
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		raw, err := readLines(br, nil, lim)
		if n > 0 {
			if err != nil || !bytes.Equal(raw, data[:n]) {
				t.Fatalf("wholeHead took %q; readLines got %q, %v", data[:n], raw, err)
			}
			if rest, _ := io.ReadAll(br); !bytes.Equal(rest, data[n:]) {
				t.Fatalf("after the head: readLines left %q, wholeHead %q", rest, data[n:])
			}
			return
		}
		if err == nil && !bytes.HasPrefix(data, []byte("\r\n")) {
			t.Fatalf("readLines took %q, wholeHead nothing", raw)
		}
	})
}
