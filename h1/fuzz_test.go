package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"muxgate/internal/fieldlist"
)

// fuzzSeeds are real requests and the known attack shapes: request smuggling through
// conflicting framing, obs-fold, bare LF, odd whitespace, oversized and malformed chunks.
var fuzzSeeds = []string{
	"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
	"GET /index.html?q=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: h2load nghttp2/1.52.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3;ext=\"v\"\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
	"PUT /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	// Smuggling shapes.
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
	// Host values whose characters are all allowed but whose shape is not uri-host [ ":" port ].
	"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: ::1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:+80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:65616\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: :80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [fe80::1%25en0]:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::ffff:192.0.2.1]:\r\n\r\n",
	"GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 300) + "\r\na\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}

// FuzzParseRequest feeds arbitrary bytes to the head reader, the parser and the chunked decoder.
// They must never panic; what they accept must be well formed; and net/http's own parser must
// accept it too and read it the same way (we are stricter, never more lenient).
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := limits{headerBytes: 4096, headerCount: 64, uriBytes: 1024}
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		raw, err := readHead(br, nil, lim)
		if err != nil {
			var se *statusError
			if !errors.As(err, &se) && err != io.EOF {
				t.Fatalf("readHead: got error %v (%T), want a *statusError or io.EOF", err, err)
			}
			return
		}
		if len(raw) > lim.headerBytes {
			t.Fatalf("readHead: got %d bytes, want at most %d", len(raw), lim.headerBytes)
		}
		var h head
		err = parseHead(&h, string(raw))
		compareListed(t, raw, &h, err)
		if err != nil {
			var se *statusError
			if !errors.As(err, &se) {
				t.Fatalf("parseHead: got error %v (%T), want a *statusError", err, err)
			}
			return
		}
		checkHead(t, &h)
		checkBody(t, &h, br, lim)
		compareWithNetHTTP(t, &h, raw)
	})
}

// compareListed parses raw again as a listed head (Config.ListFields) and wants what parseHead
// made of it as a map, h and err: the same error, or the same head with the list's fields, in a
// map, equal to the map's.
func compareListed(t *testing.T, raw []byte, h *head, err error) {
	t.Helper()
	l := head{listed: true}
	lerr := parseHead(&l, string(raw))
	if lerr != err {
		t.Fatalf("listed: got error %v, want %v as with a map", lerr, err)
	}
	if err != nil {
		return
	}
	if l.header != nil {
		t.Fatalf("listed: got a header map %v, want none", l.header)
	}
	if got := fieldlist.Header(l.fields); !reflect.DeepEqual(got, h.header) {
		t.Fatalf("listed: got fields %q, want %q", got, h.header)
	}
	type facts struct {
		method, target, proto, host, url  string
		minor                             int
		framing                           framing
		length                            int64
		close, keepAlive, expect, upgrade bool
	}
	of := func(h *head) facts {
		return facts{h.method, h.target, h.proto, h.host, h.url.String(), h.minor, h.framing, h.length, h.close, h.keepAlive, h.expectContinue, h.upgrade}
	}
	if got, want := of(&l), of(h); got != want {
		t.Fatalf("listed: got %+v, want %+v as with a map", got, want)
	}
	if got, want := l.values(fieldTrailer, nil), h.values(fieldTrailer, nil); !slices.Equal(got, want) {
		t.Fatalf("listed: got Trailer %q, want %q as with a map", got, want)
	}
}

// checkHead asserts the invariants of an accepted head.
func checkHead(t *testing.T, h *head) {
	t.Helper()
	switch {
	case h.framing == framingNone && h.length != 0,
		h.framing == framingLength && h.length <= 0,
		h.framing == framingChunked && (h.length != -1 || !h.http11()),
		h.framing > framingChunked:
		t.Fatalf("got framing %d with length %d, want none/0, length/>0 or chunked/-1 in HTTP/1.1", h.framing, h.length)
	}
	if !isToken(h.method) || h.target == "" || !validTarget(h.target) || h.url == nil {
		t.Fatalf("got method %q target %q url %v, want a token, a clean target and a URL", h.method, h.target, h.url)
	}
	if h.http11() && len(h.header["Host"]) != 1 {
		t.Fatalf("got Host %q in HTTP/1.1, want exactly one", h.header["Host"])
	}
	if !hostReference(h.host) {
		t.Fatalf("got host %q, want uri-host [ \":\" port ] (RFC 3986 3.2.2, 3.2.3)", h.host)
	}
	for k, vv := range h.header {
		if !isToken(k) || k != http.CanonicalHeaderKey(k) {
			t.Fatalf("got field name %q, want a canonical token", k)
		}
		for _, v := range vv {
			if !fieldlist.ValidValue(v) || v != trimOWS(v) {
				t.Fatalf("got value %q for %q, want no controls and no outer whitespace", v, k)
			}
		}
	}
	if h.close && h.keepAlive {
		t.Fatalf("got close and keep-alive both set")
	}
}

// checkBody decodes a chunked body: it must end in io.EOF, a short read, or a malformed-body error;
// and if the check of what arrived with the head refuses it, the decoder must refuse it too.
func checkBody(t *testing.T, h *head, br *bufio.Reader, lim limits) {
	t.Helper()
	if h.framing != framingChunked {
		return
	}
	buffered, _ := br.Peek(br.Buffered())
	pre := precheckChunked(buffered, lim)
	cr := &chunkedReader{br: br, lim: lim}
	_, err := io.Copy(io.Discard, cr)
	if err != nil && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrMalformedBody) {
		t.Fatalf("chunked body: got error %v, want nil, io.ErrUnexpectedEOF or ErrMalformedBody", err)
	}
	if pre != nil && !errors.Is(err, ErrMalformedBody) {
		t.Fatalf("chunked body: the early check refused it (%v), the decoder got %v", pre, err)
	}
	if cr.left < 0 {
		t.Fatalf("chunked body: got %d bytes left in chunk, want >= 0", cr.left)
	}
}

// compareWithNetHTTP checks that net/http accepts what we accept and reads it the same way.
func compareWithNetHTTP(t *testing.T, h *head, raw []byte) {
	t.Helper()
	// Known, intended differences: a list of identical Content-Length values in one field is
	// valid (RFC 9112 6.3 rule 5) but refused by net/http.
	for _, v := range h.header["Content-Length"] {
		if strings.Contains(v, ",") {
			return
		}
	}
	std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("we accept %q; net/http refuses it: %v", raw, err)
	}
	if std.Method != h.method || std.RequestURI != h.target || std.Host != h.host ||
		std.ProtoMinor != h.minor || std.URL.String() != h.url.String() {
		t.Fatalf("got %s %s %s host %q url %q; net/http read %s %s %s host %q url %q",
			h.method, h.target, h.proto, h.host, h.url, std.Method, std.RequestURI, std.Proto, std.Host, std.URL)
	}
	if std.ContentLength != h.length && !(h.framing == framingNone && std.ContentLength == 0) {
		t.Fatalf("got content length %d; net/http read %d", h.length, std.ContentLength)
	}
	if std.Close != h.close {
		t.Fatalf("got close %v; net/http read %v", h.close, std.Close)
	}
}

// FuzzChunkedLimit holds a chunked body read within MaxBodyBytes, in reads of any size, to the
// same body read without a limit: a body within the limit reads the same to the same end; a
// longer one gives its first limit bytes, then ErrBodyTooLarge.
func FuzzChunkedLimit(f *testing.F) {
	const ten = "4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n"
	f.Add([]byte(ten), uint16(10), uint8(3))
	f.Add([]byte(ten), uint16(9), uint8(0))
	f.Add([]byte(ten), uint16(4), uint8(255))
	f.Add([]byte("4\r\nabcd\r\n6\r\nefg"), uint16(5), uint8(1))
	f.Add([]byte("4\r\nabcd\r\nzz\r\n"), uint16(4), uint8(7))
	f.Fuzz(func(t *testing.T, raw []byte, limit uint16, step uint8) {
		lim := limits{headerBytes: 1024, headerCount: 16, uriBytes: 1024}
		whole := &chunkedReader{br: bufio.NewReader(bytes.NewReader(raw)), lim: lim}
		want, wantErr := io.ReadAll(whole)
		b := &body{chunked: true, limit: int64(limit) + 1}
		b.cr = chunkedReader{br: bufio.NewReader(bytes.NewReader(raw)), lim: lim}
		var got []byte
		var err error
		buf := make([]byte, int(step)+1)
		for i := 0; err == nil; i++ {
			if i > 4*len(raw)+16 {
				t.Fatalf("no end after %d reads", i)
			}
			var n int
			n, err = b.readChunkedLocked(buf)
			got = append(got, buf[:n]...)
		}
		if int64(len(want)) > b.limit {
			if !bytes.Equal(got, want[:b.limit]) || err != ErrBodyTooLarge {
				t.Fatalf("limit %d, body of %d bytes: got %d bytes and %v, want its first %d and ErrBodyTooLarge",
					b.limit, len(want), len(got), err, b.limit)
			}
			return
		}
		if wantErr == nil {
			wantErr = io.EOF
		}
		if !bytes.Equal(got, want) || err != wantErr && !(errors.Is(err, ErrMalformedBody) && errors.Is(wantErr, ErrMalformedBody)) {
			t.Fatalf("limit %d: got %q and %v, want %q and %v", b.limit, got, err, want, wantErr)
		}
	})
}
