package h2conn

import (
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// remembered reports whether k holds f at position i.
func remembered(k *knownFields, i int, f hpack.HeaderField) bool {
	return k[i].Name == f.Name && k[i].Value == f.Value
}

// TestKnownFields: a field that passes is remembered at its position and passes there again,
// also as new strings; a field that fails (a connection-specific one too) is never remembered; a different field at the
// position takes its place; positions past knownSize are checked every time.
func TestKnownFields(t *testing.T) {
	var k knownFields
	server := hpack.HeaderField{Name: "server", Value: "nghttpd nghttp2/1.52.0"}
	if ok := k.regular(0, server); !ok || !remembered(&k, 0, server) {
		t.Fatalf("server: ok %v, remembered %v; want both", ok, remembered(&k, 0, server))
	}
	// The same content in new strings, as a literal field decodes, passes without its check: a
	// remembered value that the check would refuse shows which way it went.
	k[1] = hpack.HeaderField{Name: "x-a", Value: "a\x00b"}
	if !k.regular(1, hpack.HeaderField{Name: strings.Clone("x-a"), Value: strings.Clone("a\x00b")}) {
		t.Errorf("a remembered field was checked again")
	}
	for _, f := range []hpack.HeaderField{
		{Name: "x-bad", Value: "a\x00b"},
		{Name: "X-Upper", Value: "1"},
		{Name: ":status", Value: "200"},
		{Name: "connection", Value: "close"},
		{Name: "", Value: ""},
	} {
		var empty knownFields
		if empty.regular(2, f) || regularField(f) {
			t.Errorf("%q passed, want it refused", f.Name)
		}
		if empty != (knownFields{}) {
			t.Errorf("%q: remembered, though refused", f.Name)
		}
	}
	date := hpack.HeaderField{Name: "date", Value: "Mon, 30 Nov 2026 11:00:00 GMT"}
	k.regular(0, date)
	if !remembered(&k, 0, date) {
		t.Errorf("date did not take server's place at position 0")
	}
	if k.regular(knownSize, hpack.HeaderField{Name: "x-far", Value: "\x00"}) {
		t.Errorf("a bad field past the remembered positions passed")
	}
}

// FuzzKnownFields: through one knownFields, every field of a sequence of heads gets regularField's
// verdict. The input is the heads' fields, one per line as "name: value", a blank line between
// heads; they go through twice, the second time as new strings, so that remembered fields meet
// their equals.
//
// Run with: go test ./h2/internal/h2conn -run XXX -fuzz '^FuzzKnownFields$' -fuzztime 45s
func FuzzKnownFields(f *testing.F) {
	for _, s := range []string{
		"server: nghttpd nghttp2/1.52.0\ncontent-length: 100\ndate: Sun, 29 Nov 2026 18:00:00 GMT\n\nserver: nghttpd nghttp2/1.52.0\ncontent-length: 100\ndate: Sun, 29 Nov 2026 18:00:01 GMT",
		"x-bad: abc\n\nx-bad: a\x00c\nX-Upper: 1\n:status: 200\nconnection: close\nkeep-alive: 1",
		": empty name\nx-a: \n\nx-a: 1\n: empty name",
		"a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 10\nk: 11\nl: 12\nm: 13\nn: 14\no: 15\np: 16\nq: 17\n\nq: \x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var k knownFields
		heads := strings.Split(text, "\n\n")
		for pass := range 2 {
			for _, head := range heads {
				for i, hf := range fieldsFromLines(head) {
					if pass == 1 {
						hf = hpack.HeaderField{Name: strings.Clone(hf.Name), Value: strings.Clone(hf.Value)}
					}
					want := regularField(hf)
					if ok := k.regular(i, hf); ok != want {
						t.Fatalf("pass %d, field %d %q: %q: ok %v; regularField says %v", pass, i, hf.Name, hf.Value, ok, want)
					}
				}
			}
		}
	})
}
