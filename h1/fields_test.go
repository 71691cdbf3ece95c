package h1

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"muxgate/internal/fieldlist"
	"muxgate/internal/headtest"
)

// fieldsCase is one response head for the differential test: the same fields sent by
// WriteFields and, as a header map, by WriteHeader.
type fieldsCase struct {
	code int
	list []fieldlist.Field
}

// fieldsServer serves, on an in-memory listener and without logging (a fuzz target's own
// testing.F may not log), the head it is given by either path: /list
// answers with WriteFields, /map with WriteHeader and fieldlist.Header's map. Each answers with
// the body "hello" after the head.
type fieldsServer struct {
	l *pipeListener

	mu  sync.Mutex // guards cur: the fuzz target sets it between requests
	cur fieldsCase
}

func newFieldsServer(tb testing.TB) *fieldsServer {
	fs := &fieldsServer{l: newPipeListener()}
	s := New(Config{Logger: zerolog.Nop()}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		c := fs.cur
		fs.mu.Unlock()
		if r.URL.Path == "/list" {
			if !WriteFields(w, c.code, c.list) {
				w.Header().Set("X-Test", "WriteFields refused") // a difference the check reports
			}
		} else {
			h := w.Header()
			for k, vv := range fieldlist.Header(c.list) {
				h[k] = vv
			}
			w.WriteHeader(c.code)
		}
		io.WriteString(w, "hello")
	}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(fs.l) }()
	tb.Cleanup(func() {
		s.Close()
		if err := <-served; err != http.ErrServerClosed {
			tb.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
	})
	return fs
}

// exchange sends req (with path %s) on a fresh connection and returns what came back, and
// whether the connection stayed open.
func (fs *fieldsServer) exchange(tb testing.TB, req, path string) (raw string, open bool) {
	conn := fs.l.dial()
	defer conn.Close()
	go func() { io.WriteString(conn, strings.Replace(req, "%s", path, 1)) }()
	method, _, _ := strings.Cut(req, " ")
	raw, open, err := headtest.ReadRaw(conn, method)
	if err != nil {
		tb.Fatalf("%s %s: reading the response: %v (got %q)", method, path, err, raw)
	}
	return raw, open
}

// check runs c through both paths for req and fails where what the client sees differs: the
// status line, the header fields (in any order, the server's own Date aside), the body bytes as
// framed, and whether the connection stays open.
func (fs *fieldsServer) check(tb testing.TB, c fieldsCase, req string) {
	fs.mu.Lock()
	fs.cur = c
	fs.mu.Unlock()
	list, listOpen := fs.exchange(tb, req, "/list")
	want, mapOpen := fs.exchange(tb, req, "/map")
	if a, b := headtest.Normalize(list, c.list), headtest.Normalize(want, c.list); a != b || listOpen != mapOpen {
		tb.Errorf("%d %q for %q:\nWriteFields sent %q (open %v)\nWriteHeader sent %q (open %v)", c.code, c.list, req, list, listOpen, want, mapOpen)
	}
}

// fieldsRequests are the requests each head answers: keep-alive over HTTP/1.1 and 1.0, a
// client that closes, and HEAD.
var fieldsRequests = []string{
	"GET %s HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET %s HTTP/1.0\r\n\r\n",
	"HEAD %s HTTP/1.1\r\nHost: a\r\n\r\n",
}

var fl = headtest.Fields

// fieldsCases are heads an HTTP/2 upstream sends (the Go upstream's, nghttpd's), and the fields
// that change the framing or the connection, in lower and other cases.
var fieldsCases = []fieldsCase{
	{200, fl("content-type", "text/plain; charset=utf-8", "content-length", "5", "date", "Sun, 29 Nov 2026 18:00:00 GMT")},
	{200, fl("server", "nghttpd nghttp2/1.52.0", "content-length", "5", "cache-control", "max-age=3600", "last-modified", "Sat, 28 Nov 2026 10:00:00 GMT")},
	{200, fl("x-two", "a", "content-type", "text/plain", "x-two", "b", "via", "2 muxgate")},
	{200, fl("content-length", "5", "content-length", "5")},
	{200, fl("content-length", "5", "content-length", "6")},
	{200, fl("content-length", "x")},
	{200, fl("content-length", "3")}, // shorter than the body: the write past it fails
	{200, fl("trailer", "X-Sum, content-length", "x-sum", "before")},
	{200, fl("connection", "close", "x-a", "1")},
	{200, fl("Connection", "keep-alive, Close")},
	{200, fl("transfer-encoding", "chunked", "keep-alive", "timeout=5", "te", "trailers")},
	{200, fl("X-Mixed-CASE", "1", "x-mixed-case", "2", "x_under", "3", "x-9", "4")},
	{200, fl("x a", "not a token", "Trailer:X", "prefix", "", "empty name")},
	{204, fl("content-length", "0", "x-a", "1")},
	{304, fl("content-length", "5", "etag", `"abc"`)},
	{404, fl("content-type", "text/html")},
	{200, nil},
	{599, fl("x-a", "1")},
}

func TestWriteFieldsDifferential(t *testing.T) {
	fs := newFieldsServer(t)
	for _, c := range fieldsCases {
		for _, req := range fieldsRequests {
			fs.check(t, c, req)
		}
	}
}

// TestWriteFieldsRefuses: WriteFields writes nothing where the header map must serve, and says
// so.
func TestWriteFieldsRefuses(t *testing.T) {
	list := fl("x-a", "1")
	if WriteFields(httptest.NewRecorder(), 200, list) {
		t.Error("WriteFields wrote to an httptest.ResponseRecorder, which is not h1's")
	}
	refused := make(chan []bool, 1)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got []bool
		got = append(got, WriteFields(w, 103, list), WriteFields(w, 1000, list))
		w.Header().Set("X-B", "2")
		got = append(got, WriteFields(w, 200, list))
		w.WriteHeader(201)
		got = append(got, WriteFields(w, 200, list))
		refused <- got
	}))
	c := dial(t, addr)
	if r := c.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 201 {
		t.Errorf("status %d, want the handler's 201", r.StatusCode)
	}
	if got := <-refused; slices.Contains(got, true) {
		t.Errorf("WriteFields for 103, 1000, after Header().Set and after WriteHeader: %v, want all false", got)
	}
}

// FuzzWriteFields runs the differential test on fuzzed heads: a status code, and fields one per
// line as "name: value". A line whose value is not valid is left out: no list holds one
// (fieldlist.Field), and WriteFields writes values as they are.
//
// Run with: go test ./h1 -run XXX -fuzz '^FuzzWriteFields$' -fuzztime 45s
func FuzzWriteFields(f *testing.F) {
	for _, c := range fieldsCases {
		var b strings.Builder
		for _, x := range c.list {
			b.WriteString(x.Name + ": " + x.Value + "\n")
		}
		for i := range fieldsRequests {
			f.Add(uint16(c.code), b.String(), uint8(i))
		}
	}
	fs := newFieldsServer(f)
	f.Fuzz(func(t *testing.T, code uint16, fields string, req uint8) {
		if code < 200 || code > 999 {
			return
		}
		var list []fieldlist.Field
		for line := range strings.SplitSeq(fields, "\n") {
			name, value, ok := strings.Cut(line, ": ")
			if !ok || !fieldlist.ValidValue(value) {
				continue
			}
			list = append(list, fieldlist.Field{Name: name, Value: value})
		}
		fs.check(t, fieldsCase{int(code), list}, fieldsRequests[int(req)%len(fieldsRequests)])
	})
}

// commonNames are the names commonCanonical knows, and some it does not.
var commonNames = []string{"content-type", "content-length", "date", "server", "cache-control",
	"last-modified", "etag", "expires", "vary", "location", "set-cookie", "accept-ranges",
	"content-encoding", "age", "via", "x-content-type-options", "strict-transport-security",
	"access-control-allow-origin", "content-typ", "Content-Type", "x-date", "dates"}

// TestCommonCanonical: each name commonCanonical knows, it knows right; it knows most of those
// of a typical response.
func TestCommonCanonical(t *testing.T) {
	known := 0
	for _, name := range commonNames {
		if c := commonCanonical(name); c != "" {
			known++
			if want := http.CanonicalHeaderKey(name); c != want {
				t.Errorf("commonCanonical(%q) = %q, want %q", name, c, want)
			}
		}
	}
	if known != 18 {
		t.Errorf("commonCanonical knows %d of the names, want 18", known)
	}
}

// FuzzAppendCanonical: a token's canonical form is http.CanonicalHeaderKey's.
func FuzzAppendCanonical(f *testing.F) {
	for _, s := range append([]string{"X-MIXED-case", "x_under", "-x-", "a--b", "www-authenticate", "9p", "!#$%&'*+-.^_`|~"}, commonNames...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !isToken(name) {
			return
		}
		if got, want := string(appendCanonical(nil, name)), http.CanonicalHeaderKey(name); got != want {
			t.Errorf("appendCanonical(%q) = %q, want %q", name, got, want)
		}
	})
}

// TestHeaderMapControls: a value in a handler's header map with a CR, LF, NUL or DEL goes out
// with each such byte as a space, in its own field, and an HTAB as it is; no field is injected.
// (WriteFields's lists need no such care: their values are valid.)
func TestHeaderMapControls(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Ctl"] = []string{"a\r\nInjected: 1"}
		h["X-Nul"] = []string{"a\x00b"}
		h["X-Del"] = []string{"a\x7fb"}
		h["X-Tab"] = []string{"a\tb"}
	}))
	r := dial(t, addr).roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	want := map[string]string{"X-Ctl": "a  Injected: 1", "X-Nul": "a b", "X-Del": "a b", "X-Tab": "a\tb", "Injected": ""}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}
