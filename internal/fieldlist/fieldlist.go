// Package fieldlist carries a head's fields as a list, in the order they arrived: a response
// head's from an upstream session to the client connection that writes it, and a request head's
// from the client connection that read it to the upstream session.
//
// The gateway's hot path used to build an http.Header from each head and then walk it again to
// write it out: a map, a hash and a canonical key per field, on every request, for a head that
// goes out as it came. http.Header stays the type at every boundary where the list is not asked
// for.
package fieldlist

import "net/http"

// Field is one header field. Name is lower case where HTTP/2 sent it (RFC 9113 8.2.1), in the
// client's letter case where HTTP/1.1 did (names compare case-insensitively, RFC 9110 5.1);
// Value is valid (RFC 9110 5.5, ValidValue). Whoever makes a list checks its values, or makes
// them valid, once; whoever reads one relies on that, and writes them as they are.
type Field struct {
	Name, Value string
}

// Header returns the fields as an http.Header, with canonical keys and each name's values in
// their order in the list.
func Header(list []Field) http.Header {
	h := make(http.Header, len(list))
	for _, f := range list {
		k := http.CanonicalHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
	return h
}

// SameName reports whether two field names are the same name, ASCII case-insensitively (RFC
// 9110 5.1): bytes match exactly, or are the same ASCII letter in either case. Nothing else
// folds, not even the runes U+017F and U+212A, which strings.EqualFold folds to ASCII letters.
// Names on the hot path mostly match exactly (an HTTP/2 list's are lower case, like the names
// they are compared with), which the first comparison settles a word at a time; strings.EqualFold
// took several times as long, rune by rune.
func SameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	if a == b {
		return true
	}
	for i := 0; i < len(a); i++ {
		if c, d := a[i], b[i]; c != d && (c|0x20 != d|0x20 || !isLetter(c|0x20)) {
			return false
		}
	}
	return true
}

// isLetter reports whether c is a lower-case ASCII letter.
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }
