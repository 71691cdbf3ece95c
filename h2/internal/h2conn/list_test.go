package h2conn

import (
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"muxgate/internal/fieldlist"
)

// TestListHead: a stream opened with StartListReserved gets its final head as a list, in the
// peer's order, with the fields a Header would drop or hold otherwise handled alike; its
// informational heads and trailers are as for any stream.
func TestListHead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		r := p.startList(get("/"))
		id := p.expect(http2.FrameHeaders).StreamID
		p.headers(id, false, ":status", "103", "link", "</a.css>; rel=preload")
		p.headers(id, false, ":status", "200", "x-b", "1", "content-length", "5",
			"x-a", "2", "content-length", "5", "trailer", "x-t", "x-b", "3")
		p.data(id, false, []byte("hello"))
		p.headers(id, true, "x-t", "end")
		r.wait()
		if r.err != nil {
			t.Fatal(r.err)
		}
		want := []fieldlist.Field{{Name: "x-b", Value: "1"}, {Name: "content-length", Value: "5"}, {Name: "x-a", Value: "2"}, {Name: "x-b", Value: "3"}}
		if !reflect.DeepEqual(r.list, want) || r.res.Header != nil {
			t.Errorf("list %q, Header %v; want %q and a nil Header", r.list, r.res.Header, want)
		}
		if r.res.ContentLength != 5 || !reflect.DeepEqual(r.res.Trailer, http.Header{"X-T": nil}) {
			t.Errorf("ContentLength %d, Trailer %v; want 5 and X-T declared", r.res.ContentLength, r.res.Trailer)
		}
		body, err := io.ReadAll(r.res.Body)
		if string(body) != "hello" || err != nil || r.res.Trailer.Get("X-T") != "end" {
			t.Errorf("body %q (%v), trailer %q; want hello and end", body, err, r.res.Trailer.Get("X-T"))
		}
		r.res.Body.Close()

		// A name in upper case makes the head malformed, as for a Header (RFC 9113 8.2.1), and
		// so does a connection-specific field (8.2.2), in the head or in the trailers.
		for _, frames := range [][][]string{
			{{":status", "200", "X-Upper", "1"}},
			{{":status", "200", "connection", "x-secret", "x-secret", "1"}},
			{{":status", "200", "trailer", "x-t"}, {"keep-alive", "1"}},
		} {
			r = p.startList(get("/"))
			id = p.expect(http2.FrameHeaders).StreamID
			for i, fields := range frames {
				p.headers(id, i == len(frames)-1 && i > 0, fields...)
			}
			if f := p.expect(http2.FrameRSTStream); f.StreamID != id {
				t.Errorf("%q: RST_STREAM for stream %d, want %d", frames, f.StreamID, id)
			}
			if r.wait(); len(frames) > 1 && r.err == nil {
				// The head was good: the body fails at the trailers.
				_, r.err = io.Copy(io.Discard, r.res.Body)
				r.res.Body.Close()
			}
			if r.err == nil {
				t.Errorf("%q: got a response, want an error", frames)
			}
		}
	})
}

// fieldsFromLines turns "name: value" lines into decoded fields.
func fieldsFromLines(s string) []hpack.HeaderField {
	var fields []hpack.HeaderField
	for line := range strings.SplitSeq(s, "\n") {
		if name, value, ok := strings.Cut(line, ": "); ok {
			fields = append(fields, hpack.HeaderField{Name: name, Value: value})
		}
	}
	return fields
}

// FuzzListFields: a head read as a list (listFields, listContentLength) says what the same
// head read as a Header (buildHeader, contentLength) says: the same verdict, the same trailer
// declarations, the same fields and the same length. The input is a head's regular fields, one
// per line as "name: value".
//
// Run with: go test ./h2/internal/h2conn -run XXX -fuzz '^FuzzListFields$' -fuzztime 45s
func FuzzListFields(f *testing.F) {
	for _, s := range []string{
		"content-type: text/plain; charset=utf-8\ncontent-length: 100\ndate: Sun, 29 Nov 2026 18:00:00 GMT",
		"server: nghttpd nghttp2/1.52.0\ncontent-length: 5\nlast-modified: Sat, 28 Nov 2026 10:00:00 GMT",
		"content-length: 5\ncontent-length: 5\nx-a: 1",
		"content-length: 5\nx-a: 1\ncontent-length: 6",
		"content-length: -1\ncontent-length: -1",
		"content-length: 05\ncontent-length: 5",
		"content-length: 99999999999999999999",
		"content-length: ",
		"trailer: x-t, grpc-status\ntrailer: ,x-u ,\nx-t: early",
		"connection: close\nkeep-alive: 1\nproxy-connection: x\ntransfer-encoding: chunked\nupgrade: h2c\nte: trailers",
		"X-Upper: 1",
		":status: 200",
		"x-bad: a\x00b",
		"x a: 1",
		"x-two: a\nx-two: b\nX-two: c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		fields := fieldsFromLines(head)
		h, declared, ok := buildHeader(fields, true, nil, nil)
		list, ldeclared, lok := listFields(fields, nil, nil)
		if ok != lok || !reflect.DeepEqual(declared, ldeclared) {
			t.Fatalf("buildHeader ok %v, declared %v; listFields ok %v, declared %v", ok, declared, lok, ldeclared)
		}
		if !ok {
			return
		}
		n := contentLength(h)
		list, ln := listContentLength(list)
		if got := fieldlist.Header(list); n != ln || !reflect.DeepEqual(got, h) && !(len(got) == 0 && len(h) == 0) {
			t.Errorf("Header %v, length %d; list gives %v, length %d", h, n, got, ln)
		}
	})
}

// FuzzPrepareList: a request whose fields come as a list (StartOptions.Fields) sends what the
// same fields in a Header send: the same verdict, the same fields with each name's values in
// the same order, the same "te: trailers" and the same list size. The input is the request's
// fields, one per line as "name: value", names in any letter case; a line whose value is not
// valid is left out, as no list holds one (fieldlist.Field).
//
// Run with: go test ./h2/internal/h2conn -run XXX -fuzz '^FuzzPrepareList$' -fuzztime 45s
func FuzzPrepareList(f *testing.F) {
	for _, s := range []string{
		"Host: a\nUser-Agent: curl/8.0\nAccept: */*",
		"host: a\nuser-agent: h2load\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\nVia: 1.1 muxgate",
		"TE: trailers\nte: gzip\nConnection: te\nKeep-Alive: 1\nProxy-Connection: x\nUpgrade: h2c\nTransfer-Encoding: chunked",
		"Content-Length: 5\nx-two: a\nX-Two: b\nX-TWO: c",
		"Cookie: a=1\nCookie: b=2",
		"x a: 1",
		": empty name",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lines string) {
		list := []fieldlist.Field{} // not nil: a list with no fields is still a list
		for _, hf := range fieldsFromLines(lines) {
			if fieldlist.ValidValue(hf.Value) {
				list = append(list, fieldlist.Field{Name: hf.Name, Value: hf.Value})
			}
		}
		req, _ := http.NewRequest("GET", "http://example.com/", nil)
		req.Header = fieldlist.Header(list)
		var inline, linline [inlineFields]field
		h, sent, err := prepareHead(req, nil, 1<<16, inline[:0])
		lh, lsent, lerr := prepareHead(req, list, 1<<16, linline[:0])
		if (err == nil) != (lerr == nil) {
			t.Fatalf("with a Header: %v; with the list: %v", err, lerr)
		}
		if err != nil {
			return
		}
		byName := func(a, b field) int { return strings.Compare(a.name, b.name) }
		slices.SortStableFunc(sent, byName)
		slices.SortStableFunc(lsent, byName)
		if !slices.Equal(sent, lsent) || h.te != lh.te {
			t.Errorf("with a Header: %q, te %v; with the list: %q, te %v", sent, h.te, lsent, lh.te)
		}
	})
}
