package fieldlist

import "testing"

// TestSameName: field names compare equal but for the case of ASCII letters, and nothing else
// folds: not the bytes that differ in bit 0x20 alone without being letters, nor the runes that
// strings.EqualFold folds to ASCII.
func TestSameName(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"Connection", "connection", true}, {"X-A", "x-a", true}, {"te", "TE", true},
		{"te", "tf", false}, {"te", "t", false}, {"x@", "x`", false}, {"x[", "x{", false},
		{"a-b", "a\rb", false}, {"k", "\u212a", false}, {"s", "ſ", false},
	} {
		if got := SameName(c.a, c.b); got != c.want {
			t.Errorf("SameName(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
