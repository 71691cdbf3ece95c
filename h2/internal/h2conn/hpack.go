package h2conn

import (
	"slices"

	"golang.org/x/net/http2/hpack"
)

// encoder is the HPACK encoder (RFC 7541) of a connection's header blocks.
// Requests through one gateway repeat most of their fields (:authority,
// user-agent, accept...), so the common field is an exact match in a small
// dynamic table: encoding it is a short scan and one byte, without the
// hashing of a general-purpose table. Fields whose values change with
// every request are not indexed (see indexing), so they do not push the
// repeated ones out of the table.
//
// Not safe for concurrent use; the connection calls it under wmu, in the
// order the blocks go on the wire (RFC 7541 2.2).
type encoder struct {
	buf          []byte // the block being encoded
	dynamicTable        // maxSize is at most the peer's SETTINGS_HEADER_TABLE_SIZE

	// The maximum size changed since the last block, which then starts
	// with a Dynamic Table Size Update (RFC 7541 4.2, 6.3). minSize is the
	// smallest maximum since.
	updateDue bool
	minSize   uint32

	// The blocks repeat their fields in the same order too: recent holds,
	// for each of a block's first positions, the field last sent there
	// from the dynamic table and the number of its entry (see added). A
	// field equal to it, whose entry is still in the table, is sent as that
	// entry's index without a scan of the table, which compared each
	// entry's name with the field's and took about 100 instructions a field
	// (callgrind, h2load's requests).
	recent [recentSize]recentField
	pos    int    // the position in the block of the field to come
	added  uint64 // the entries ever added: the newest is number added, the oldest added-len(table)+1
}

type tableEntry struct{ name, value string }

// dynamicTable is an HPACK dynamic table (RFC 7541 2.3.2), as the encoder
// and the decoder of one direction of a connection each keep it.
type dynamicTable struct {
	table   []tableEntry // oldest first
	size    uint32       // the table's size (RFC 7541 4.1)
	maxSize uint32       // the table's maximum size
}

// recentField is a field that went as a dynamic table entry's index, and
// the entry's number; 0: none.
type recentField struct {
	name, value string
	n           uint64
}

// recentSize is how many positions recent remembers: more than most
// requests' fields.
const recentSize = 16

// defaultTableSize is the dynamic table size both ends start with
// (RFC 9113 6.5.2), and the most this encoder uses.
const defaultTableSize = 4096

// entryOverhead is what each entry adds to the table's size beyond its name
// and value (RFC 7541 4.1).
const entryOverhead = 32

func newEncoder() *encoder { return &encoder{dynamicTable: dynamicTable{maxSize: defaultTableSize}} }

// setMaxSize applies the peer's SETTINGS_HEADER_TABLE_SIZE: the table is
// kept at most that large, and at most defaultTableSize.
func (e *encoder) setMaxSize(limit uint32) {
	limit = min(limit, defaultTableSize)
	if limit == e.maxSize {
		return
	}
	if !e.updateDue || limit < e.minSize {
		e.minSize = limit
	}
	e.updateDue = true
	e.maxSize = limit
	e.evict(0)
}

// reset starts a new header block.
func (e *encoder) reset() {
	e.buf = e.buf[:0]
	e.pos = 0
	if !e.updateDue {
		return
	}
	e.updateDue = false
	if e.minSize < e.maxSize {
		// The size went down and up again: the smallest must be signaled
		// first. It is signaled as 0, which empties both tables: x/net's
		// decoder takes a second update only after one that emptied its
		// table.
		e.table, e.size = e.table[:0], 0
		e.buf = appendInt(e.buf, 0x20, 5, 0)
	}
	e.buf = appendInt(e.buf, 0x20, 5, uint64(e.maxSize))
}

// field appends one field to the block, name in lower case.
func (e *encoder) field(name, value string) {
	var r *recentField
	if e.pos < recentSize {
		r = &e.recent[e.pos]
		if r.n > e.added-uint64(len(e.table)) && r.name == name && r.value == value {
			e.pos++
			e.buf = appendInt(e.buf, 0x80, 7, uint64(len(staticTable))+e.added-r.n+1) // RFC 7541 6.1
			return
		}
		*r = recentField{}
	}
	e.pos++
	first, n := staticName(name)
	for i := first; i < first+n; i++ {
		if staticTable[i-1].value == value {
			e.buf = appendInt(e.buf, 0x80, 7, uint64(i)) // RFC 7541 6.1
			return
		}
	}
	nameIndex := first
	for i := len(e.table) - 1; i >= 0; i-- {
		t := &e.table[i]
		if t.name != name {
			continue
		}
		if t.value == value {
			if r != nil {
				*r = recentField{name, value, e.added - uint64(len(e.table)-1-i)}
			}
			e.buf = appendInt(e.buf, 0x80, 7, uint64(e.index(i)))
			return
		}
		if nameIndex == 0 {
			nameIndex = e.index(i)
		}
	}
	switch indexing(name, value, e.maxSize) {
	case indexIncremental:
		e.buf = appendInt(e.buf, 0x40, 6, uint64(nameIndex)) // RFC 7541 6.2.1
		if nameIndex == 0 {
			e.buf = appendString(e.buf, name)
		}
		e.buf = appendString(e.buf, value)
		e.add(name, value)
		if r != nil {
			*r = recentField{name, value, e.added}
		}
		return
	case indexNever:
		e.buf = appendInt(e.buf, 0x10, 4, uint64(nameIndex)) // RFC 7541 6.2.3
	default:
		e.buf = appendInt(e.buf, 0x00, 4, uint64(nameIndex)) // RFC 7541 6.2.2
	}
	if nameIndex == 0 {
		e.buf = appendString(e.buf, name)
	}
	e.buf = appendString(e.buf, value)
}

// index is the HPACK index of the dynamic table's entry at position i:
// the newest entry follows the static table's 61 (RFC 7541 2.3.3).
func (e *encoder) index(i int) int { return len(staticTable) + len(e.table) - i }

// add inserts a field, first evicting the oldest entries it needs room
// for (RFC 7541 4.4). The encoder adds only fields that fit (see indexing)
// and counts them.
func (e *encoder) add(name, value string) {
	e.insert(name, value)
	e.added++
}

// insert adds a field as the newest entry, first evicting the oldest
// entries it needs room for; a field larger than the table's maximum size
// empties the table and is not added (RFC 7541 4.4).
func (t *dynamicTable) insert(name, value string) {
	n := uint64(len(name)) + uint64(len(value)) + entryOverhead
	if n > uint64(t.maxSize) {
		t.table, t.size = t.table[:0], 0
		return
	}
	t.evict(uint32(n))
	t.table = append(t.table, tableEntry{name, value})
	t.size += uint32(n)
}

// evict drops the oldest entries until room more bytes fit (RFC 7541 4.4).
func (t *dynamicTable) evict(room uint32) {
	k := 0
	for k < len(t.table) && t.size+room > t.maxSize {
		e := t.table[k]
		t.size -= uint32(len(e.name)+len(e.value)) + entryOverhead
		k++
	}
	if k > 0 {
		t.table = slices.Delete(t.table, 0, k)
	}
}

// Indexing choices for a literal field (RFC 7541 6.2).
const (
	indexIncremental = iota // added to the dynamic table
	indexNot                // not added: its value changes from request to request
	indexNever              // not added, here or by any intermediary (RFC 7541 7.1.3)
)

// indexing chooses how a field that is not in a table is sent. Values that
// differ with each request would only evict the fields that repeat, and
// so would a field that takes most of the table; credentials, and cookies
// short enough to guess, are never indexed, so that no table can be
// probed for them (RFC 7541 7.1).
func indexing(name, value string, maxSize uint32) int {
	switch name {
	case ":path", "content-length", "if-modified-since", "if-none-match", "if-match",
		"if-range", "if-unmodified-since", "range", "date", "etag", "location", "age":
		return indexNot
	case "authorization", "proxy-authorization":
		return indexNever
	case "cookie":
		if len(value) < 20 {
			return indexNever
		}
	}
	if uint64(len(name))+uint64(len(value))+entryOverhead > uint64(maxSize)*3/4 {
		return indexNot
	}
	return indexIncremental
}

// appendInt appends i as an HPACK integer with an n-bit prefix, in the
// first byte's low bits beside the representation's pattern (RFC 7541
// 5.1).
func appendInt(b []byte, pattern byte, n uint, i uint64) []byte {
	limit := uint64(1)<<n - 1
	if i < limit {
		return append(b, pattern|byte(i))
	}
	b = append(b, pattern|byte(limit))
	for i -= limit; i >= 0x80; i >>= 7 {
		b = append(b, byte(i)|0x80)
	}
	return append(b, byte(i))
}

// appendString appends s as an HPACK string literal, Huffman-coded when
// that is shorter (RFC 7541 5.2).
func appendString(b []byte, s string) []byte {
	if h := hpack.HuffmanEncodeLength(s); h < uint64(len(s)) {
		b = appendInt(b, 0x80, 7, h)
		return hpack.AppendHuffmanString(b, s)
	}
	b = appendInt(b, 0x00, 7, uint64(len(s)))
	return append(b, s...)
}

// staticName returns the static table's entries for a field name: the
// index of the first and how many there are; 0, 0 for none (RFC 7541
// Appendix A). Only the pseudo-header fields have more than one.
func staticName(name string) (first, n int) {
	switch name {
	case ":authority":
		return 1, 1
	case ":method":
		return 2, 2
	case ":path":
		return 4, 2
	case ":scheme":
		return 6, 2
	case ":status":
		return 8, 7
	}
	i := int(staticNames[name])
	return i, min(i, 1)
}

// staticTable is RFC 7541 Appendix A; index i is staticTable[i-1].
var staticTable = [...]tableEntry{
	{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
	{":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"},
	{":status", "200"}, {":status", "204"}, {":status", "206"}, {":status", "304"},
	{":status", "400"}, {":status", "404"}, {":status", "500"},
	{"accept-charset", ""}, {"accept-encoding", "gzip, deflate"}, {"accept-language", ""},
	{"accept-ranges", ""}, {"accept", ""}, {"access-control-allow-origin", ""}, {"age", ""},
	{"allow", ""}, {"authorization", ""}, {"cache-control", ""}, {"content-disposition", ""},
	{"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
	{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
	{"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
	{"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
	{"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""},
	{"max-forwards", ""}, {"proxy-authenticate", ""}, {"proxy-authorization", ""},
	{"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""}, {"server", ""},
	{"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
	{"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
}

// staticNames maps the names of the static table's entries after the
// pseudo-header fields to their index; each has one entry.
var staticNames = func() map[string]uint8 {
	m := make(map[string]uint8, len(staticTable))
	for i, t := range staticTable {
		if t.name[0] != ':' {
			m[t.name] = uint8(i + 1)
		}
	}
	return m
}()
