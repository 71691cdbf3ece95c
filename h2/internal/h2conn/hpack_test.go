package h2conn

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// hpackPair is an encoder and, as the peer, x/net's decoder, which keeps
// its dynamic table across the blocks it is given.
type hpackPair struct {
	enc *encoder
	dec *hpack.Decoder
}

func newHpackPair() *hpackPair {
	return &hpackPair{enc: newEncoder(), dec: hpack.NewDecoder(defaultTableSize, nil)}
}

// block encodes fields (name, value pairs) as one header block, checks
// that the decoder gets them back, and returns the block and the decoded
// fields.
func (p *hpackPair) block(t testing.TB, kv ...string) ([]byte, []hpack.HeaderField) {
	t.Helper()
	p.enc.reset()
	for i := 0; i < len(kv); i += 2 {
		p.enc.field(kv[i], kv[i+1])
	}
	got, err := p.dec.DecodeFull(p.enc.buf)
	if err != nil {
		t.Fatalf("decoding %x: %v", p.enc.buf, err)
	}
	if len(got) != len(kv)/2 {
		t.Fatalf("decoded %d fields, want %d", len(got), len(kv)/2)
	}
	for i, f := range got {
		if f.Name != kv[2*i] || f.Value != kv[2*i+1] {
			t.Fatalf("field %d decoded as %q: %q, want %q: %q", i, f.Name, f.Value, kv[2*i], kv[2*i+1])
		}
	}
	p.checkSize(t)
	return bytes.Clone(p.enc.buf), got
}

// checkSize checks the encoder's accounting of its table (RFC 7541 4.1).
func (p *hpackPair) checkSize(t testing.TB) {
	t.Helper()
	var size uint32
	for _, e := range p.enc.table {
		size += uint32(len(e.name)+len(e.value)) + entryOverhead
	}
	if size != p.enc.size || size > p.enc.maxSize {
		t.Fatalf("table holds %d bytes, encoder counts %d, maximum %d", size, p.enc.size, p.enc.maxSize)
	}
}

var request = []string{
	":method", "GET", ":scheme", "http", ":path", "/bytes/100", ":authority", "127.0.0.1:9000",
	"user-agent", "h2load nghttp2/1.52.0", "accept", "*/*",
}

// TestEncoderRepeatedRequest: a request's second sending is one byte per
// field, but for :path, which is never added to the table and goes as a
// literal with the static table's name.
func TestEncoderRepeatedRequest(t *testing.T) {
	p := newHpackPair()
	first, _ := p.block(t, request...)
	second, _ := p.block(t, request...)
	// :method and :scheme are static (2, 6); :authority, user-agent and
	// accept the dynamic table's 64, 63 and 62; :path is 0x04 (without
	// indexing, name 4), then its length and Huffman code.
	if !bytes.HasPrefix(second, []byte{0x82, 0x86, 0x04}) || !bytes.HasSuffix(second, []byte{0xc0, 0xbf, 0xbe}) {
		t.Errorf("second block %x, want 82 86 04 ... c0 bf be", second)
	}
	if len(second) >= len(first)/2 {
		t.Errorf("second block is %d bytes, the first %d", len(second), len(first))
	}
	if len(p.enc.table) != 3 {
		t.Errorf("table has %d entries, want 3 (:authority, user-agent, accept)", len(p.enc.table))
	}
}

// TestEncoderRecentGone: a field sent again at its position goes as its
// entry's index only while the entry is in the table: not once later
// fields evicted it, nor once a size update emptied the table.
func TestEncoderRecentGone(t *testing.T) {
	p := newHpackPair()
	big := func(c string) string { return strings.Repeat(c, 3000) }
	p.block(t, "x-a", "v", "x-big", big("a"))
	p.block(t, "x-a", "v", "x-big", big("b")) // x-a from the table; x-big's new value evicts both
	if b, _ := p.block(t, "x-a", "v"); b[0]&0x80 != 0 {
		t.Errorf("x-a after its eviction went as index %x, want a literal", b)
	}
	if b, _ := p.block(t, "x-a", "v"); len(b) != 1 || b[0] != 0xbe {
		t.Errorf("x-a again: %x, want be (the newest entry)", b)
	}
	p.enc.setMaxSize(0)
	p.dec.SetAllowedMaxDynamicTableSize(0)
	p.block(t, "x-a", "v")
	p.enc.setMaxSize(defaultTableSize)
	p.dec.SetAllowedMaxDynamicTableSize(defaultTableSize)
	if b, _ := p.block(t, "x-a", "v"); len(b) < 2 || b[len(b)-1] != 'v' {
		t.Errorf("x-a after the table was emptied: %x, want the size update and a literal", b)
	}
}

// TestEncoderIndexing: which literals the table takes (RFC 7541 6.2).
func TestEncoderIndexing(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		first       byte // the representation's pattern, in the first byte's high bits
		mask        byte
		sensitive   bool
	}{
		{"x-custom", "v", 0x40, 0xc0, false},        // incremental indexing, new name
		{"content-type", "a/b", 0x40, 0xc0, false},  // incremental indexing, static name
		{"content-length", "10", 0x00, 0xf0, false}, // changes with each request
		{"if-none-match", `"abc"`, 0x00, 0xf0, false},
		{"authorization", "Basic Zm9vOmJhcg==", 0x10, 0xf0, true}, // never indexed
		{"proxy-authorization", "x", 0x10, 0xf0, true},
		{"cookie", "id=42", 0x10, 0xf0, true}, // short enough to guess
		{"cookie", strings.Repeat("c", 40), 0x40, 0xc0, false},
		{"x-big", strings.Repeat("v", 3100), 0x00, 0xf0, false}, // would take most of the table
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newHpackPair()
			b, got := p.block(t, tc.name, tc.value)
			if b[0]&tc.mask != tc.first {
				t.Errorf("first byte %#x, want pattern %#x under mask %#x", b[0], tc.first, tc.mask)
			}
			if got[0].Sensitive != tc.sensitive {
				t.Errorf("decoded Sensitive = %v, want %v", got[0].Sensitive, tc.sensitive)
			}
			if indexed := len(p.enc.table) == 1; indexed != (tc.first == 0x40) {
				t.Errorf("table has %d entries after the field", len(p.enc.table))
			}
		})
	}
}

// TestEncoderEviction: entries leave the table oldest first as new ones
// need room (RFC 7541 4.4), and the decoder, which evicts by the same
// rule, reads every block right. A field that would take most of the
// table is sent without indexing and evicts nothing.
func TestEncoderEviction(t *testing.T) {
	p := newHpackPair()
	for i := range 200 {
		p.block(t, "x-field", fmt.Sprintf("value %d %s", i, strings.Repeat("v", i%50)), "x-stable", "s")
	}
	if p.enc.size < defaultTableSize-200 {
		t.Errorf("table holds %d bytes after 200 distinct fields, want it nearly full", p.enc.size)
	}
	p.enc.setMaxSize(2000)
	p.block(t, "x-field", strings.Repeat("w", 1400)) // 1439 bytes: evicts all but 561 bytes
	n := len(p.enc.table)
	if newest := p.enc.table[n-1].value; len(newest) != 1400 || p.enc.size < 1439 {
		t.Errorf("newest entry is %d bytes, table %d bytes; want the large one added", len(newest), p.enc.size)
	}
	p.block(t, "x-field", strings.Repeat("w", 1500)) // more than 3/4 of the table
	if len(p.enc.table) != n {
		t.Errorf("table has %d entries after a field too large to index, want %d as before", len(p.enc.table), n)
	}
	p.enc.setMaxSize(0)
	p.block(t, request...)
	if len(p.enc.table) != 0 || p.enc.size != 0 {
		t.Errorf("table has %d entries (%d bytes) at size 0, want none", len(p.enc.table), p.enc.size)
	}
}

// TestEncoderSizeUpdates: a change of the peer's SETTINGS_HEADER_TABLE_SIZE
// is signaled at the start of the next block, with the smallest size
// since the last block first when the size went down and up again (RFC
// 7541 4.2, 6.3): that one as 0, which x/net's decoder requires. The
// table never exceeds 4096 bytes.
func TestEncoderSizeUpdates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sizes   []uint32
		updates []byte // what the next block starts with
	}{
		{"none", nil, nil},
		{"larger than the default", []uint32{1 << 20}, nil},
		{"smaller", []uint32{100}, []byte{0x3f, 0x45}},
		{"zero", []uint32{0}, []byte{0x20}},
		{"down and up", []uint32{0, 4096}, []byte{0x20, 0x3f, 0xe1, 0x1f}},
		{"down twice", []uint32{1000, 100}, []byte{0x3f, 0x45}},
		{"down and partly up", []uint32{100, 1000}, []byte{0x20, 0x3f, 0xc9, 0x07}}, // the smallest as 0
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newHpackPair()
			p.block(t, request...)
			for _, s := range tc.sizes {
				p.enc.setMaxSize(s)
			}
			b, _ := p.block(t, "x-after", "1")
			if !bytes.HasPrefix(b, tc.updates) || len(tc.updates) == 0 && b[0]&0xe0 == 0x20 {
				t.Errorf("block %x, want it to start with %x", b, tc.updates)
			}
			if next, _ := p.block(t, "x-after", "1"); next[0]&0xe0 == 0x20 {
				t.Errorf("the block after it %x repeats a size update", next)
			}
		})
	}
}

// TestAppendInt: RFC 7541 C.1's integers.
func TestAppendInt(t *testing.T) {
	for _, tc := range []struct {
		n    uint
		i    uint64
		want []byte
	}{
		{5, 10, []byte{0x0a}},
		{5, 1337, []byte{0x1f, 0x9a, 0x0a}},
		{8, 42, []byte{0x2a}},
		{5, 31, []byte{0x1f, 0x00}},
	} {
		if got := appendInt(nil, 0, tc.n, tc.i); !bytes.Equal(got, tc.want) {
			t.Errorf("appendInt(%d, %d) = %x, want %x", tc.n, tc.i, got, tc.want)
		}
	}
}

// FuzzEncoder runs blocks of fields and table size changes, drawn from the
// input, through the encoder and x/net's decoder, which must read back
// every field as given.
func FuzzEncoder(f *testing.F) {
	f.Add([]byte("\x01\x02\x03\x00\x04\x05\xff\x10\x01\x02\x03"))
	f.Add(bytes.Repeat([]byte{0x07, 0x31, 0x32, 0x00}, 50))
	f.Add([]byte{0xf0, 0x00, 0x01, 0xf8, 0x01, 0x02})
	names := []string{":method", ":path", ":authority", "user-agent", "cookie", "authorization",
		"content-length", "accept-encoding", "x-a", "x-b", "x-long-field-name-for-the-table"}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newHpackPair()
		var kv []string
		for len(data) > 0 {
			op := data[0]
			data = data[1:]
			switch {
			case op == 0:
				p.block(t, kv...)
				kv = kv[:0]
			case op >= 0xf0:
				// A new SETTINGS_HEADER_TABLE_SIZE; the decoder accepts updates
				// up to it, as our SETTINGS ACK would let it.
				limit := uint32(op&0x0f) * 512
				p.enc.setMaxSize(limit)
				p.dec.SetAllowedMaxDynamicTableSize(min(limit, defaultTableSize))
				p.block(t, kv...)
				kv = kv[:0]
			default:
				n := min(int(op>>4), len(data))
				value := strings.Repeat(string(data[:n]), int(op&0x0f)+1)
				data = data[n:]
				kv = append(kv, names[int(op)%len(names)], value)
			}
		}
		p.block(t, kv...)
	})
}
