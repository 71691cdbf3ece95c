package fieldlist

import (
	"strings"
	"testing"
)

// FuzzValidValue: the word-at-a-time check agrees with RFC 9110 5.5 checked byte by byte,
// wherever in the value, and in which word, the byte it must refuse stands.
//
// Run with: go test ./internal/fieldlist -run XXX -fuzz '^FuzzValidValue$' -fuzztime 30s
func FuzzValidValue(f *testing.F) {
	for _, s := range []string{"", "text/plain; charset=utf-8", "a\tb", "abcdefgh\x7fijk", "abc\x7fdefgh", "abcdefg\x1f",
		"\x80\xff\xa0\x9f\xe0\xc0\xa1\xbf", "01234567\r\n", "\x20\x20\x20\x20\x20\x20\x20\x7e", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want := true
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
				want = false
			}
		}
		if got := ValidValue(v); got != want {
			t.Errorf("ValidValue(%q) = %v, want %v", v, got, want)
		}
	})
}

// TestValidValueEachByte puts each byte value at each position of values 1 to 24 bytes long,
// in a value otherwise valid, with and without an HTAB earlier in it: whichever word, or the
// overlapping last word, holds it, ValidValue refuses it exactly when RFC 9110 5.5 does.
func TestValidValueEachByte(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for at := range n {
			for c := range 256 {
				want := c >= ' ' && c != 0x7f || c == '\t'
				for _, tab := range []int{-1, 0, at / 2} {
					v := []byte(strings.Repeat("a", n))
					if tab >= 0 && tab < at {
						v[tab] = '\t'
					}
					v[at] = byte(c)
					if got := ValidValue(string(v)); got != want {
						t.Fatalf("ValidValue(%q) = %v, want %v", v, got, want)
					}
				}
			}
		}
	}
}

// tchars are the bytes a token may hold besides digits and letters (RFC 9110 5.6.2).
const tchars = "!#$%&'*+-.^_`|~"

// FuzzTokenCase: TokenCase agrees with RFC 9110 5.6.2's token checked byte by byte, and finds
// an upper-case ASCII letter in a token exactly where one is; TokenByte agrees with it on each
// byte.
//
// Run with: go test ./internal/fieldlist -run XXX -fuzz '^FuzzTokenCase$' -fuzztime 30s
func FuzzTokenCase(f *testing.F) {
	for _, s := range []string{"", "content-length", "Content-Length", "x-ID", "via", "a b", "a:b", "é", "\x00", tchars, "Z", "z{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		wantToken, wantUpper := name != "", false
		for i := 0; i < len(name); i++ {
			c := name[i]
			switch {
			case 'A' <= c && c <= 'Z':
				wantUpper = true
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', strings.IndexByte(tchars, c) >= 0:
			default:
				wantToken = false
			}
		}
		if !wantToken {
			wantUpper = false
		}
		if token, upper := TokenCase(name); token != wantToken || upper != wantUpper {
			t.Errorf("TokenCase(%q) = %v, %v; want %v, %v", name, token, upper, wantToken, wantUpper)
		}
		for i := 0; i < len(name); i++ {
			if one, _ := TokenCase(name[i : i+1]); TokenByte(name[i]) != one {
				t.Errorf("TokenByte(%q) = %v, TokenCase says %v", name[i], TokenByte(name[i]), one)
			}
		}
	})
}

// BenchmarkValidValue checks values of the lengths a response head's fields have (content-length,
// server, date, content-type, via).
func BenchmarkValidValue(b *testing.B) {
	values := []string{"100", "nghttpd nghttp2/1.52.0", "Sat, 28 Nov 2026 10:00:00 GMT", "text/plain; charset=utf-8", "2 muxgate"}
	for b.Loop() {
		for _, v := range values {
			if !ValidValue(v) {
				b.Fatal(v)
			}
		}
	}
}
