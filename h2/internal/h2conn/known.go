package h2conn

import "golang.org/x/net/http2/hpack"

// knownSize is how many fields knownFields remembers: more than most response heads carry.
const knownSize = 16

// knownFields remembers the last response fields that regularField kept, so that a field seen
// before is not checked byte by byte again. An upstream sends mostly the same fields in every
// head (server, content-type, cache-control, ...), and its encoder sends them as indexes into
// the hpack dynamic table (RFC 7541 2.3.2), which the decoder turns into the table entry's own
// strings: comparing those with the remembered copy ends at their pointers, where checking them
// costs several instructions a byte. A field of new strings with the same content is compared
// byte by byte, which is still cheaper than the check. regularField depends on nothing but the
// name and the value, so a remembered field passes again for the same reason it passed.
//
// The reader owns it, as it owns the decoder. The zero value is empty.
type knownFields struct {
	f    [knownSize]hpack.HeaderField
	next int // the slot the next field takes, the oldest one
	hint int // where has looks first: the slot after its last match, since heads repeat in order
}

// regular is regularField(f), remembering f if it is kept. A nil k remembers nothing.
func (k *knownFields) regular(f hpack.HeaderField) (keep, ok bool) {
	if k == nil {
		return regularField(f)
	}
	if k.has(f) {
		return true, true
	}
	keep, ok = regularField(f)
	if keep && ok {
		k.f[k.next] = hpack.HeaderField{Name: f.Name, Value: f.Value}
		k.next = (k.next + 1) % knownSize
	}
	return keep, ok
}

// has reports whether f's name and value are those of a remembered field. An empty slot never
// matches: regularField keeps no field with an empty name.
func (k *knownFields) has(f hpack.HeaderField) bool {
	if f.Name == "" {
		return false
	}
	for n := range knownSize {
		i := (k.hint + n) % knownSize
		if len(k.f[i].Value) == len(f.Value) && k.f[i].Name == f.Name && k.f[i].Value == f.Value {
			k.hint = (i + 1) % knownSize
			return true
		}
	}
	return false
}
