package h2conn

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// decoder is the HPACK decoder (RFC 7541) of the peer's header blocks. It
// decodes a whole block at once (the reader gathers one that spans
// CONTINUATION frames), into the fields of the reader's own slice: a
// field from a table is that entry's strings, which nothing changes; a
// literal's are new strings, so nothing keeps the block's bytes.
//
// x/net's decoder, which this one replaced, takes a block in pieces and
// calls a function for each field: under callgrind, BenchmarkDecoder (a
// response of five fields, four from the dynamic table) takes 1,124
// instructions with it and 442 with this one.
//
// Not safe for concurrent use; the reader calls it for every block, in the
// order received, even a stream's that is gone (RFC 9113 4.3).
type decoder struct {
	dynamicTable
	// limit is the most a Dynamic Table Size Update may set: the
	// SETTINGS_HEADER_TABLE_SIZE we sent, the default (RFC 7541 4.2).
	limit uint32
}

func newDecoder() decoder {
	return decoder{dynamicTable: dynamicTable{maxSize: defaultTableSize}, limit: defaultTableSize}
}

// The decoder's errors. Each is a COMPRESSION_ERROR for the connection (RFC
// 9113 4.3): the table can no longer be known to match the peer's.
var (
	errHpackTruncated   = errors.New("hpack: block ends inside a field")
	errHpackIndex       = errors.New("hpack: index not in the tables")
	errHpackInteger     = errors.New("hpack: integer too large")
	errHpackSizeUpdate  = errors.New("hpack: dynamic table size update above the limit")
	errHpackLateUpdate  = errors.New("hpack: dynamic table size update after a field")
	errHpackHuffmanCode = errors.New("hpack: invalid Huffman-coded string")
)

// decode decodes block, one whole header block, appending its fields to
// fields while the fields' size (RFC 9113 6.5.2: each name and value and
// 32 bytes) is at most maxList. The field that takes it past maxList and
// those after it are not appended, and size stops there, more than maxList
// (counting on, a long block of references to a large entry could wrap
// it); the block is still decoded to its end, keeping the table in step.
//
// The loop takes an Indexed Header Field (RFC 7541 6.1) whose index fits
// in its first byte itself, as most of a response's fields are once its
// upstream has sent a few; field decodes every other representation.
func (d *decoder) decode(block []byte, fields []hpack.HeaderField, maxList uint32) (_ []hpack.HeaderField, size uint32, err error) {
	first := true
	for len(block) > 0 {
		if c := block[0]; c > 0x80 && c < 0xff {
			e := d.at(uint64(c & 0x7f))
			if e == nil {
				return fields, size, errHpackIndex
			}
			block, first = block[1:], false
			if size > maxList { // past the limit already: size no longer grows
				continue
			}
			if size += uint32(len(e.name)+len(e.value)) + entryOverhead; size <= maxList {
				fields = append(fields, hpack.HeaderField{Name: e.name, Value: e.value})
			}
			continue
		}
		var f hpack.HeaderField
		var update bool
		if f, block, update, err = d.field(block, first); err != nil {
			return fields, size, err
		} else if update {
			continue
		}
		first = false
		if size > maxList {
			continue
		}
		if size += f.Size(); size <= maxList {
			fields = append(fields, f)
		}
	}
	return fields, size, nil
}

// field decodes the representation block starts with, other than an
// Indexed Header Field that fits in one byte, and returns the field and
// what follows it; or, for a Dynamic Table Size Update (allowed while
// first: no field yet), update and what follows it.
func (d *decoder) field(block []byte, first bool) (f hpack.HeaderField, rest []byte, update bool, err error) {
	switch c := block[0]; {
	case c&0x80 != 0: // Indexed Header Field (RFC 7541 6.1)
		var i uint64
		if i, rest, err = readInt(block, 7); err != nil {
			return f, nil, false, err
		}
		e := d.at(i)
		if e == nil {
			return f, nil, false, errHpackIndex
		}
		return hpack.HeaderField{Name: e.name, Value: e.value}, rest, false, nil
	case c&0xc0 == 0x40: // Literal with Incremental Indexing (6.2.1)
		if f, rest, err = d.literal(block, 6); err == nil {
			d.insert(f.Name, f.Value)
		}
		return f, rest, false, err
	case c&0xe0 == 0x20: // Dynamic Table Size Update (6.3)
		rest, err = d.sizeUpdate(block, first)
		return f, rest, true, err
	}
	// Literal without Indexing (6.2.2), Never Indexed (6.2.3)
	f, rest, err = d.literal(block, 4)
	f.Sensitive = block[0]&0x10 != 0
	return f, rest, false, err
}

// sizeUpdate applies the Dynamic Table Size Update block starts with. RFC
// 7541 4.2: updates come at the start of a block (first: no field yet),
// and set no more than the limit we signaled.
func (d *decoder) sizeUpdate(block []byte, first bool) ([]byte, error) {
	if !first {
		return nil, errHpackLateUpdate
	}
	n, rest, err := readInt(block, 5)
	if err != nil {
		return nil, err
	}
	if n > uint64(d.limit) {
		return nil, errHpackSizeUpdate
	}
	d.maxSize = uint32(n)
	d.evict(0)
	return rest, nil
}

// at returns the entry at index i of the static and dynamic tables taken
// as one (RFC 7541 2.3.3), or nil for 0 and an index past the end.
func (d *decoder) at(i uint64) *tableEntry {
	switch {
	case i == 0:
		return nil
	case i <= uint64(len(staticTable)):
		return &staticTable[i-1]
	}
	i -= uint64(len(staticTable)) // 1 is the newest entry
	if i > uint64(len(d.table)) {
		return nil
	}
	return &d.table[uint64(len(d.table))-i]
}

// literal decodes a literal field whose name index has an n-bit prefix
// (RFC 7541 6.2): the name from a table, or a string literal where the
// index is 0, then the value.
func (d *decoder) literal(block []byte, n uint) (f hpack.HeaderField, rest []byte, err error) {
	i, rest, err := readInt(block, n)
	if err != nil {
		return f, nil, err
	}
	if i == 0 {
		f.Name, rest, err = readString(rest)
	} else {
		if e := d.at(i); e != nil {
			f.Name = e.name
		} else {
			err = errHpackIndex
		}
	}
	if err != nil {
		return f, nil, err
	}
	f.Value, rest, err = readString(rest)
	return f, rest, err
}

// readInt reads an integer with an n-bit prefix from b (RFC 7541 5.1),
// and returns it and what follows it. Like x/net's decoder it takes at
// most 63 bits; anything near that is refused by whoever uses it.
func readInt(b []byte, n uint) (i uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, nil, errHpackTruncated
	}
	max := byte(1)<<n - 1
	if i = uint64(b[0] & max); i < uint64(max) {
		return i, b[1:], nil
	}
	for k, shift := 1, uint(0); k < len(b); k, shift = k+1, shift+7 {
		if shift >= 63 {
			return 0, nil, errHpackInteger
		}
		c := b[k]
		i += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return i, b[k+1:], nil
		}
	}
	return 0, nil, errHpackTruncated
}

// readString reads a string literal (RFC 7541 5.2), Huffman-coded or not,
// into a new string.
func readString(b []byte) (s string, rest []byte, err error) {
	if len(b) == 0 {
		return "", nil, errHpackTruncated
	}
	huffman := b[0]&0x80 != 0
	n, rest, err := readInt(b, 7)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(rest)) {
		return "", nil, errHpackTruncated
	}
	raw := rest[:n]
	if !huffman {
		return string(raw), rest[n:], nil
	}
	if s, err = hpack.HuffmanDecodeToString(raw); err != nil {
		return "", nil, errHpackHuffmanCode
	}
	return s, rest[n:], nil
}
