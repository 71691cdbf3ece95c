package h2conn

import "golang.org/x/net/http2/hpack"

// knownSize is how many fields of a head knownFields remembers: more than most response heads
// carry.
const knownSize = 16

// knownFields remembers the regular fields of the last response heads that regularField kept,
// each by its position in its head, so that a field met again is not checked byte by byte
// again. An upstream sends mostly the same fields in the same order in every head (server,
// content-type, cache-control, ...), and its encoder sends them as indexes into the hpack
// dynamic table (RFC 7541 2.3.2), which the decoder turns into the table entry's own strings:
// comparing those with the remembered copy ends at their pointers, where checking them costs
// several instructions a byte. A field of new strings with the same content is compared byte by
// byte, still cheaper than the check; a field unlike the one remembered at its position is
// checked, and takes its place. regularField depends on nothing but the name and the value, so a
// remembered field passes again for the same reason it passed.
//
// The reader owns it, as it owns the decoder. The zero value is empty.
type knownFields [knownSize]hpack.HeaderField

// regular is regularField(f) for the field at position i of a head, remembering f there if it
// passes. A nil k remembers nothing. An empty slot never matches: regularField passes no field
// with an empty name.
func (k *knownFields) regular(i int, f hpack.HeaderField) bool {
	if k == nil || i >= knownSize {
		return regularField(f)
	}
	if kf := &k[i]; f.Name != "" && len(kf.Value) == len(f.Value) && kf.Name == f.Name && kf.Value == f.Value {
		return true
	}
	ok := regularField(f)
	if ok {
		k[i] = hpack.HeaderField{Name: f.Name, Value: f.Value}
	}
	return ok
}
