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

// FuzzSameName: SameName agrees with the definition it stands for, ASCII letters folded one by
// one and every other byte compared as it is, for any two strings of the same length.
//
// Run with: go test ./internal/fieldlist -run XXX -fuzz '^FuzzSameName$' -fuzztime 30s
func FuzzSameName(f *testing.F) {
	f.Add("Connection", "connection")
	f.Add("x@", "x`")
	f.Add("k", "\u212a")
	f.Add("content-length", "Content-Length")
	f.Fuzz(func(t *testing.T, a, b string) {
		want := len(a) == len(b)
		for i := 0; want && i < len(a); i++ {
			want = lowerASCII(a[i]) == lowerASCII(b[i])
		}
		if got := SameName(a, b); got != want {
			t.Errorf("SameName(%q, %q) = %v, want %v", a, b, got, want)
		}
	})
}

// lowerASCII is c with an upper-case ASCII letter made lower case.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
