package h2conn

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// lit is a string literal without Huffman coding (RFC 7541 5.2), for short
// strings.
func lit(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// huff is s as a Huffman-coded string literal.
func huff(s string) []byte {
	return hpack.AppendHuffmanString([]byte{0x80 | byte(hpack.HuffmanEncodeLength(s))}, s)
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func hf(name, value string) hpack.HeaderField { return hpack.HeaderField{Name: name, Value: value} }

// TestDecoderRequests decodes three requests that share a table, as the
// peer's encoder would send them: static entries, an entry added and then
// referred to as it moves down the table, literal names, Huffman coding
// and a never-indexed field.
func TestDecoderRequests(t *testing.T) {
	d := newDecoder()
	blocks := []struct {
		block []byte
		want  []hpack.HeaderField
		size  uint32 // the table's after the block
	}{
		{join([]byte{0x82, 0x86, 0x84, 0x41}, lit("www.example.com")),
			[]hpack.HeaderField{hf(":method", "GET"), hf(":scheme", "http"), hf(":path", "/"), hf(":authority", "www.example.com")}, 57},
		{join([]byte{0x82, 0x86, 0x84, 0xbe, 0x58}, huff("no-cache")),
			[]hpack.HeaderField{hf(":method", "GET"), hf(":scheme", "http"), hf(":path", "/"), hf(":authority", "www.example.com"), hf("cache-control", "no-cache")}, 110},
		{join([]byte{0x82, 0x87, 0x85, 0xbf, 0x40}, lit("custom-key"), huff("custom-value"), []byte{0x10}, lit("password"), lit("secret"), []byte{0x0f, 0x26}, lit("30")),
			[]hpack.HeaderField{hf(":method", "GET"), hf(":scheme", "https"), hf(":path", "/index.html"), hf(":authority", "www.example.com"), hf("custom-key", "custom-value"),
				{Name: "password", Value: "secret", Sensitive: true}, hf("retry-after", "30")}, 164},
		{[]byte{0xbe, 0xbf, 0xc0},
			[]hpack.HeaderField{hf("custom-key", "custom-value"), hf("cache-control", "no-cache"), hf(":authority", "www.example.com")}, 164},
	}
	for i, b := range blocks {
		got, size, err := d.decode(b.block, nil, 1<<20)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, b.want) {
			t.Fatalf("block %d: got %q, want %q", i, got, b.want)
		}
		var want uint32
		for _, f := range b.want {
			want += f.Size()
		}
		if size != want {
			t.Errorf("block %d: list size %d, want %d", i, size, want)
		}
		if d.size != b.size {
			t.Errorf("block %d: table size %d, want %d", i, d.size, b.size)
		}
	}
}

// TestDecoderErrors: each malformed block is refused with its error.
func TestDecoderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block []byte
		want  error
	}{
		{"index 0", []byte{0x80}, errHpackIndex},
		{"index past the static table", []byte{0xbe}, errHpackIndex},
		{"name index past the static table", join([]byte{0x7f, 0x00}, lit("v")), errHpackIndex},
		{"integer cut", []byte{0xff}, errHpackTruncated},
		{"integer continued past the end", []byte{0xff, 0x80}, errHpackTruncated},
		{"integer too large", join([]byte{0xff}, bytes.Repeat([]byte{0xff}, 9), []byte{0x01}), errHpackInteger},
		{"no name", []byte{0x40}, errHpackTruncated},
		{"name cut", []byte{0x40, 0x05, 'a'}, errHpackTruncated},
		{"no value", join([]byte{0x40}, lit("a")), errHpackTruncated},
		{"value cut", []byte{0x0f, 0x2d, 0x02, '3'}, errHpackTruncated},
		{"Huffman padding of zeros", []byte{0x0f, 0x2d, 0x81, 0x00}, errHpackHuffmanCode},
		{"size update past the limit", []byte{0x3f, 0xe2, 0x1f}, errHpackSizeUpdate},
		{"size update after a field", []byte{0x82, 0x20}, errHpackLateUpdate},
	} {
		d := newDecoder()
		if _, _, err := d.decode(tc.block, nil, 1<<20); err != tc.want {
			t.Errorf("%s (%x): got %v, want %v", tc.name, tc.block, err, tc.want)
		}
	}
}

// TestDecoderSizeUpdates: updates at a block's start, down and up again,
// evict what no longer fits; an entry larger than the table empties it.
func TestDecoderSizeUpdates(t *testing.T) {
	d := newDecoder()
	add := func(v string) []byte { return join([]byte{0x40}, lit("k"), lit(v)) } // 32+1+len(v)
	if _, _, err := d.decode(join(add("1234567"), add("abcdefg")), nil, 1<<20); err != nil {
		t.Fatal(err)
	}
	if d.size != 80 || len(d.table) != 2 {
		t.Fatalf("table %v, size %d; want two entries, 80 bytes", d.table, d.size)
	}
	// To 40 and back to 4096 (RFC 7541 4.2): only the newest entry fits in 40.
	got, _, err := d.decode([]byte{0x3f, 0x09, 0x3f, 0xe1, 0x1f, 0xbe}, nil, 1<<20)
	if err != nil || !reflect.DeepEqual(got, []hpack.HeaderField{hf("k", "abcdefg")}) {
		t.Fatalf("after the updates: got %q, %v; want k: abcdefg", got, err)
	}
	if _, _, err := d.decode([]byte{0xbf}, nil, 1<<20); err != errHpackIndex {
		t.Fatalf("the evicted entry: got %v, want %v", err, errHpackIndex)
	}
	// An entry larger than the table empties it and is not added (RFC 7541 4.4).
	if _, _, err := d.decode(join([]byte{0x3f, 0x09}, add("0123456789")), nil, 1<<20); err != nil {
		t.Fatal(err)
	}
	if d.size != 0 || len(d.table) != 0 {
		t.Fatalf("after an entry larger than the table: %v, size %d; want it empty", d.table, d.size)
	}
}

// TestDecoderListLimit: the fields past the list size are left out, but
// the table still takes the ones that add to it.
func TestDecoderListLimit(t *testing.T) {
	d := newDecoder()
	block := join([]byte{0x82, 0x40}, lit("x-big"), lit("0123456789"), []byte{0x86})
	got, size, err := d.decode(block, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	// The size stops at the field that passed the limit (42 + 47): counting on would let a
	// block of one-byte references to a large entry wrap it.
	if want := []hpack.HeaderField{hf(":method", "GET")}; !reflect.DeepEqual(got, want) || size != 89 {
		t.Fatalf("got %q, size %d; want %q and size 89", got, size, want)
	}
	got, _, err = d.decode([]byte{0xbe}, got[:0], 1<<20)
	if want := []hpack.HeaderField{hf("x-big", "0123456789")}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("next block: got %q, %v; want %q", got, err, want)
	}
}

// FuzzDecoder decodes the blocks the input holds (each a length byte and
// that many bytes) with the decoder and with x/net's, in one table each:
// both must refuse the same blocks and decode the others to the same
// fields. Ours alone refuses a size update after a field, which RFC 7541
// 4.2 forbids and x/net lets through while its table is empty.
func FuzzDecoder(f *testing.F) {
	seed := func(blocks ...[]byte) {
		var in []byte
		for _, b := range blocks {
			in = append(append(in, byte(len(b))), b...)
		}
		f.Add(in)
	}
	xnet := func(fields ...hpack.HeaderField) []byte {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		for _, f := range fields {
			enc.WriteField(f)
		}
		return buf.Bytes()
	}
	resp := []hpack.HeaderField{hf(":status", "200"), hf("content-type", "text/plain"), hf("content-length", "100"), hf("date", "Thu, 03 Dec 2026 16:00:00 GMT")}
	seed(xnet(resp...), []byte{0xbe, 0xbf, 0xc0, 0x88})
	seed(join([]byte{0x82, 0x86, 0x84, 0x41}, lit("www.example.com")), join([]byte{0xbe, 0x58}, huff("no-cache")))
	seed([]byte{0x3f, 0x09, 0x40, 0x01, 'k', 0x05, 'v', 'a', 'l', 'u', 'e'}, []byte{0x20, 0x3f, 0xe1, 0x1f, 0xbe})
	seed([]byte{0x10, 0x01, 'a', 0x01, 'b', 0x00, 0x01, 'c', 0x81, 0x00}, []byte{0x82, 0x20})
	seed([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, theirs := newDecoder(), hpack.NewDecoder(defaultTableSize, nil)
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			block := in[1 : 1+n]
			in = in[1+n:]
			got, _, err := ours.decode(block, nil, 1<<20)
			want, werr := theirs.DecodeFull(block)
			if err == errHpackLateUpdate && werr == nil {
				return
			}
			if (err != nil) != (werr != nil) {
				t.Fatalf("block %x: got error %v, x/net %v", block, err, werr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(got, want) {
				t.Fatalf("block %x: got %q, x/net %q", block, got, want)
			}
		}
	})
}

// BenchmarkDecoder decodes a response of five fields, four from the
// dynamic table, as a session decodes the responses of one upstream: with
// the decoder, and with x/net's, which the session used before.
func BenchmarkDecoder(b *testing.B) {
	prime := join([]byte{0x88}, []byte{0x40}, lit("content-type"), lit("text/plain"), []byte{0x40}, lit("content-length"), lit("100"),
		[]byte{0x40}, lit("date"), lit("Thu, 03 Dec 2026 16:00:00 GMT"), []byte{0x40}, lit("server"), lit("nghttpd"))
	block := []byte{0x88, 0xc1, 0xc0, 0xbf, 0xbe}
	b.Run("own", func(b *testing.B) {
		d := newDecoder()
		fields, _, err := d.decode(prime, nil, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if fields, _, err = d.decode(block, fields[:0], 1<<20); err != nil || len(fields) != 5 {
				b.Fatal(err, fields)
			}
		}
	})
	b.Run("x-net", func(b *testing.B) {
		var fields []hpack.HeaderField
		d := hpack.NewDecoder(defaultTableSize, func(f hpack.HeaderField) { fields = append(fields, f) })
		if _, err := d.Write(prime); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			fields = fields[:0]
			if _, err := d.Write(block); err != nil || d.Close() != nil || len(fields) != 5 {
				b.Fatal(err, fields)
			}
		}
	})
}
