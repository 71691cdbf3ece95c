package h1

import (
	"net/http"
	"strings"
	"testing"
)

// echoFields answers with the request's fields from RequestFields and its body, and says in
// X-Listed whether RequestFields had them and in X-Header-Fields how many the Header held.
var echoFields = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fields, ok := RequestFields(r)
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.Name + "=" + f.Value + ";")
	}
	w.Header().Set("X-Listed", map[bool]string{true: "yes", false: "no"}[ok])
	w.Header().Set("X-Header-Fields", strings.Repeat("x", len(r.Header)))
	body := make([]byte, 64)
	n, _ := r.Body.Read(body)
	b.WriteString("body=" + string(body[:n]))
	w.Write([]byte(b.String()))
})

// TestListedRequestFields: with ListFields, a handler finds the request's fields in RequestFields,
// in the order and letter case the client sent them, and no Header; pipelined requests too, and
// framing and Connection still work from the list.
func TestListedRequestFields(t *testing.T) {
	req := "POST /a HTTP/1.1\r\nhost: a\r\nX-B: 1\r\ncontent-length: 2\r\nX-b:  2 \r\nAccept: */*\r\n\r\nhi"
	_, addr := startServer(t, Config{ListFields: true}, echoFields)
	c := dial(t, addr)
	r := c.roundTrip(req)
	if want := "host=a;X-B=1;content-length=2;X-b=2;Accept=*/*;body=hi"; r.body != want {
		t.Errorf("got %q, want %q", r.body, want)
	}
	if r.Header.Get("X-Listed") != "yes" || r.Header.Get("X-Header-Fields") != "" {
		t.Errorf("got X-Listed %q and %q fields in Header, want yes and none",
			r.Header.Get("X-Listed"), r.Header.Get("X-Header-Fields"))
	}
	c.send(getFields + getFields + "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	for i, want := range []string{"Host=a;USER-AGENT=t;body=", "Host=a;USER-AGENT=t;body=", "Host=a;Connection=close;body="} {
		if got := c.read("GET").body; got != want {
			t.Errorf("pipelined %d: got %q, want %q", i, got, want)
		}
	}
	c.expectClosed()
}

const getFields = "GET /b HTTP/1.1\r\nHost: a\r\nUSER-AGENT: t\r\n\r\n"

// TestUnlistedRequestFields: without ListFields, RequestFields has nothing and Header the fields.
func TestUnlistedRequestFields(t *testing.T) {
	_, addr := startServer(t, Config{}, echoFields)
	r := dial(t, addr).roundTrip(getFields)
	if r.body != "body=" || r.Header.Get("X-Listed") != "no" || r.Header.Get("X-Header-Fields") != "xx" {
		t.Errorf("without ListFields: got %q, X-Listed %q, %q in Header", r.body,
			r.Header.Get("X-Listed"), r.Header.Get("X-Header-Fields"))
	}
}
