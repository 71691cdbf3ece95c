package h2conn

import (
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// TestKnownFields: a kept field is remembered and passes again without its check; a field that
// fails or is dropped is never remembered; an empty slot matches nothing; the oldest field gives
// way once more than knownSize were kept.
func TestKnownFields(t *testing.T) {
	var k knownFields
	server := hpack.HeaderField{Name: "server", Value: "nghttpd nghttp2/1.52.0"}
	if keep, ok := k.regular(server); !keep || !ok {
		t.Fatalf("server: keep %v, ok %v; want both", keep, ok)
	}
	// The same content in new strings, as a literal field decodes.
	again := hpack.HeaderField{Name: strings.Clone(server.Name), Value: strings.Clone(server.Value)}
	if !k.has(again) {
		t.Errorf("server is not remembered after it passed")
	}
	for _, f := range []hpack.HeaderField{
		{Name: "x-bad", Value: "a\x00b"},
		{Name: "X-Upper", Value: "1"},
		{Name: ":status", Value: "200"},
		{Name: "connection", Value: "close"},
		{Name: "", Value: ""},
	} {
		want, wantOK := regularField(f)
		if keep, ok := k.regular(f); keep != want || ok != wantOK {
			t.Errorf("%q: keep %v, ok %v; regularField says %v, %v", f.Name, keep, ok, want, wantOK)
		}
		if k.has(f) {
			t.Errorf("%q: remembered, though not kept", f.Name)
		}
	}
	for i := range knownSize {
		k.regular(hpack.HeaderField{Name: "x-n", Value: strings.Repeat("v", i+1)})
	}
	if k.has(server) {
		t.Errorf("server still remembered after %d newer fields", knownSize)
	}
	if !k.has(hpack.HeaderField{Name: "x-n", Value: "v"}) {
		t.Errorf("the oldest of the last %d fields is forgotten", knownSize)
	}
}

// FuzzKnownFields: through one knownFields, every field of a sequence of heads gets regularField's
// verdict. The input is the heads' fields, one per line as "name: value"; they go through twice,
// the second time as new strings, so that remembered fields meet their equals.
//
// Run with: go test ./h2/internal/h2conn -run XXX -fuzz '^FuzzKnownFields$' -fuzztime 45s
func FuzzKnownFields(f *testing.F) {
	for _, s := range []string{
		"server: nghttpd nghttp2/1.52.0\ncontent-length: 100\ndate: Sun, 29 Nov 2026 18:00:00 GMT",
		"x-bad: a\x00b\nx-bad: ab\nX-Upper: 1\n:status: 200\nconnection: close\nkeep-alive: 1",
		": empty name\nx-a: \nx-a: 1",
		"a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 10\nk: 11\nl: 12\nm: 13\nn: 14\no: 15\np: 16\nq: 17\na: 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lines string) {
		var k knownFields
		fields := fieldsFromLines(lines)
		for pass := range 2 {
			for _, hf := range fields {
				if pass == 1 {
					hf = hpack.HeaderField{Name: strings.Clone(hf.Name), Value: strings.Clone(hf.Value)}
				}
				want, wantOK := regularField(hf)
				if keep, ok := k.regular(hf); keep != want || ok != wantOK {
					t.Fatalf("pass %d, %q: %q: keep %v, ok %v; regularField says %v, %v", pass, hf.Name, hf.Value, keep, ok, want, wantOK)
				}
			}
		}
	})
}
