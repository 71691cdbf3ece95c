package main

import (
	"strings"
	"testing"
)

// TestStreamWindowBounds checks that -stream-window refuses windows below one minimal frame,
// which stalled HTTP/3 downloads, and takes the smallest allowed one.
func TestStreamWindowBounds(t *testing.T) {
	for _, tc := range []struct {
		win string
		ok  bool
	}{
		{"1", false},
		{"16383", false},
		{"16384", true},
		{"262144", true},
		{"2147483648", false},
	} {
		_, err := parseFlags([]string{"-upstream", "http://127.0.0.1:1", "-stream-window", tc.win}, nil)
		if (err == nil) != tc.ok {
			t.Errorf("-stream-window %s: got error %v, want ok %v", tc.win, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "-stream-window must be 16384") {
			t.Errorf("-stream-window %s: got error %q, want one naming the bounds", tc.win, err)
		}
	}
}
