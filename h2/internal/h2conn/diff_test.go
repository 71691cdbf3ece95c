package h2conn

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// diffCase is one request, built afresh for each client.
type diffCase struct {
	name    string
	method  string
	path    string
	body    func() io.Reader // nil: no body
	size    int64            // ContentLength; -1: unknown (the body hides its length)
	header  http.Header
	trailer http.Header
}

// opaque hides a reader's length, as a streamed body does.
type opaque struct{ io.Reader }

func diffCases() []diffCase {
	pattern := func(n int) func() io.Reader {
		return func() io.Reader { return &patternReader{n: n} }
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	return []diffCase{
		{name: "get", method: "GET", path: "/hello"},
		{name: "get query", method: "GET", path: "/hello?q=a%20b&r=%2F"},
		{name: "head", method: "HEAD", path: "/big?n=5000"},
		{name: "head 404", method: "HEAD", path: "/status/404"},
		{name: "204", method: "GET", path: "/status/204"},
		{name: "304", method: "GET", path: "/status/304"},
		{name: "404", method: "GET", path: "/status/404"},
		{name: "503", method: "GET", path: "/status/503"},
		{name: "599 no text", method: "GET", path: "/status/599"},
		{name: "echo small", method: "POST", path: "/echo", body: pattern(1000), size: 1000,
			header: hdr("X-A", "1", "X-A", "2", "X-Empty", "")},
		{name: "echo trailers", method: "POST", path: "/echo", body: pattern(3000), size: 3000,
			trailer: hdr("X-Req-Trailer", "tv")},
		{name: "echo unknown length", method: "POST", path: "/echo",
			body: func() io.Reader { return opaque{&patternReader{n: 100 << 10}} }, size: -1},
		{name: "echo large", method: "PUT", path: "/echo", body: pattern(3 << 20), size: 3 << 20},
		{name: "echo empty", method: "POST", path: "/echo",
			body: func() io.Reader { return http.NoBody }, size: 0},
		{name: "delete", method: "DELETE", path: "/echo"},
		{name: "response trailers", method: "GET", path: "/trailers"},
		{name: "multi-valued", method: "GET", path: "/multi"},
		{name: "early hints", method: "GET", path: "/early"},
		{name: "flushed chunks", method: "GET", path: "/flush"},
		{name: "large body", method: "GET", path: "/big?n=5000000"},
		{name: "long header", method: "GET", path: "/echo", header: hdr("X-Long", strings.Repeat("v", 30<<10))},
	}
}

func (dc diffCase) request(tb testing.TB, addr string) *http.Request {
	var body io.Reader
	if dc.body != nil {
		body = dc.body()
	}
	req, err := http.NewRequestWithContext(context.Background(), dc.method, "http://"+addr+dc.path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.ContentLength = dc.size
		if dc.size < 0 {
			req.ContentLength = 0 // unknown, as net/http reads it
		}
		if body == http.NoBody {
			req.ContentLength = 0
		}
	}
	for k, vv := range dc.header {
		req.Header[k] = append([]string(nil), vv...)
	}
	if dc.trailer != nil {
		req.Trailer = dc.trailer.Clone()
	}
	return req
}

// outcome is what the differential test compares.
type outcome struct {
	Status        string
	StatusCode    int
	Proto         string
	ContentLength int64
	Header        http.Header
	Body          string // the SHA-256 of a large body
	Trailer       http.Header
}

func outcomeOf(tb testing.TB, res *http.Response) outcome {
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		tb.Fatalf("reading body: %v", err)
	}
	h := res.Header.Clone()
	h.Del("Date") // the two requests may straddle a second
	body := string(b)
	if len(b) > 200 {
		body = sha(b)
	}
	tr := res.Trailer
	if len(tr) == 0 {
		tr = nil
	}
	return outcome{
		Status: res.Status, StatusCode: res.StatusCode, Proto: res.Proto,
		ContentLength: res.ContentLength, Header: h, Body: body, Trailer: tr,
	}
}

// TestDifferential sends the same requests through h2conn and through
// x/net's http2.ClientConn to the same x/net server; the responses must
// agree in status, end-to-end headers, body and trailers.
func TestDifferential(t *testing.T) {
	s := startServer(t, nil, testHandler())
	ours := s.dial(t, Config{StreamWindow: 64 << 10, ConnWindow: 256 << 10})
	nc, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http2.Transport{AllowHTTP: true, DisableCompression: true}
	theirs, err := tr.NewClientConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()

	for _, dc := range diffCases() {
		t.Run(dc.name, func(t *testing.T) {
			res, _, err := ours.RoundTrip(dc.request(t, s.addr()))
			if err != nil {
				t.Fatalf("h2conn: %v", err)
			}
			got := outcomeOf(t, res)
			res, err = theirs.RoundTrip(dc.request(t, s.addr()))
			if err != nil {
				t.Fatalf("x/net: %v", err)
			}
			want := outcomeOf(t, res)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("responses differ\n h2conn: %+v\n x/net:  %+v", got, want)
				for _, k := range sortedKeys(got.Header, want.Header) {
					if !reflect.DeepEqual(got.Header[k], want.Header[k]) {
						t.Errorf("header %s: %q vs %q", k, got.Header[k], want.Header[k])
					}
				}
			}
		})
	}
}

func sortedKeys(hs ...http.Header) []string {
	m := map[string]bool{}
	for _, h := range hs {
		for k := range h {
			m[k] = true
		}
	}
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	return keys
}
