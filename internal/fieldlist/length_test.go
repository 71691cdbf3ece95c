package fieldlist

import (
	"strconv"
	"testing"
)

var lengthCases = []string{"", "0", "00", "100", "007", "9223372036854775807", "9223372036854775808",
	"18446744073709551616", "-1", "+1", " 1", "1 ", "1_000", "0x10", "1,1", "١"}

// TestParseLength: ParseLength takes what strconv.ParseUint(s, 10, 63) takes, with its value.
func TestParseLength(t *testing.T) {
	for _, s := range lengthCases {
		checkLength(t, s)
	}
}

// FuzzParseLength: the same, for any input.
func FuzzParseLength(f *testing.F) {
	for _, s := range lengthCases {
		f.Add(s)
	}
	f.Fuzz(checkLength)
}

func checkLength(t *testing.T, s string) {
	n, ok := ParseLength(s)
	want, err := strconv.ParseUint(s, 10, 63)
	if ok != (err == nil) || ok && uint64(n) != want {
		t.Fatalf("ParseLength(%q) = %d, %v; strconv.ParseUint: %d, %v", s, n, ok, want, err)
	}
}
