package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"muxgate/h1"
	"muxgate/internal/fieldlist"
	"muxgate/internal/headtest"
	"muxgate/internal/pool"
)

// head is a response head as an upstream sends it.
type head struct {
	status  int
	fields  []fieldlist.Field
	length  int64       // the response's ContentLength
	trailer http.Header // declared trailers
}

// headUpstream answers every request with its head, given as a list where the request asks for
// one (pool.Info.List) and list is set, as muxgate's own HTTP/2 session does, and as a Header
// otherwise.
type headUpstream struct {
	mu   sync.Mutex // guards cur and list
	cur  head
	list bool
}

func (u *headUpstream) set(h head, list bool) {
	u.mu.Lock()
	u.cur, u.list = h, list
	u.mu.Unlock()
}

func (u *headUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.mu.Lock()
	h, list := u.cur, u.list
	u.mu.Unlock()
	res := &http.Response{StatusCode: h.status, ProtoMajor: 2, ContentLength: h.length, Trailer: h.trailer.Clone(),
		Body: io.NopCloser(strings.NewReader("hello"))}
	if info := pool.InfoFrom(req.Context()); list && info != nil && info.List != nil {
		info.List.Fields = slices.Clone(h.fields) // the gateway may append to it
	} else {
		res.Header = fieldlist.Header(h.fields)
	}
	return res, nil
}

func (*headUpstream) Shutdown(context.Context) error { return nil }

// TestWriteFieldsMatchesWriteHead: what a client gets for a response head the pool gave as a
// list is what it gets for the same head as a Header, with the gateway's rules (Content-Length,
// Via, hop-by-hop fields, drain, trailers) applied to either.
func TestWriteFieldsMatchesWriteHead(t *testing.T) {
	var draining atomic.Bool
	up := new(headUpstream)
	p := &proxy{
		routes:  oneRoute(up, "http", "127.0.0.1:9"),
		forward: forwarding{via: true}, log: zerolog.Nop(), access: zerolog.Nop(),
		draining: draining.Load,
	}
	addr := serveH1(t, p)
	for _, tc := range []struct {
		name     string
		head     head
		draining bool
	}{
		{"go upstream", head{200, fl("content-type", "text/plain", "content-length", "5", "date", "Sun, 29 Nov 2026 18:00:00 GMT"), 5, nil}, false},
		{"no content-length", head{200, fl("x-a", "1"), 5, nil}, false},
		{"unknown length", head{200, fl("x-a", "1"), -1, nil}, false},
		{"upstream via", head{200, fl("via", "1.1 edge", "x-a", "1", "via", "2 inner"), 5, nil}, false},
		{"draining", head{200, fl("content-length", "5"), 5, nil}, true},
		{"no content", head{204, fl("x-a", "1"), 0, nil}, false},
		{"not modified", head{304, fl("etag", `"x"`), -1, nil}, false},
		{"trailers", head{200, fl("x-a", "1"), -1, http.Header{"X-Sum": nil}}, false},
		{"hop-by-hop", head{200, fl("te", "trailers", "upgrade", "h2c", "x-a", "1"), 5, nil}, false},
		{"mixed case", head{200, fl("X-Mixed-CASE", "1", "x-mixed-case", "2"), 5, nil}, false},
	} {
		draining.Store(tc.draining)
		for _, req := range []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"} {
			up.set(tc.head, true)
			list := rawExchange(t, addr, req)
			up.set(tc.head, false)
			header := rawExchange(t, addr, req)
			if headtest.Normalize(list, tc.head.fields) != headtest.Normalize(header, tc.head.fields) {
				t.Errorf("%s, %q:\nas a list: %q\nas a Header: %q", tc.name, req, list, header)
			}
		}
	}
}

// serveH1 serves h with h1 on a loopback listener until the test ends.
func serveH1(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := h1.New(h1.Config{}, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-served
	})
	return ln.Addr().String()
}

// rawExchange sends req on a fresh connection and returns the response's bytes.
func rawExchange(t *testing.T, addr, req string) string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, req)
	method, _, _ := strings.Cut(req, " ")
	raw, _, err := headtest.ReadRaw(conn, method)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	return raw
}

var fl = headtest.Fields

// TestBeginAsksForList: every request the proxy sends, pipelined (StartPipelined) or not
// (ServeHTTP), asks the pool for its response head as a list, into its exchange.
func TestBeginAsksForList(t *testing.T) {
	p := &proxy{routes: oneRoute(nil, "http", "127.0.0.1:9")}
	r, _ := http.NewRequest("GET", "/", nil)
	var ex exchange
	var rec record
	out := p.begin(r, &ex, &rec)
	if info := pool.InfoFrom(out.Context()); info == nil || info.List != &ex.list {
		t.Errorf("the upstream request's Info %+v does not ask for the head as a list into the exchange", info)
	}
}
