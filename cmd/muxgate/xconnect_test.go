package main

import "testing"

func TestHasXConnect(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                                false,
		"http2xconnect=1":                 true,
		"http2xconnect=0":                 true,
		"gctrace=1, http2xconnect=0":      true,
		"gctrace=1,http2xconnectx=1":      false,
		"http2client=0,http2debug=1":      false,
		"madvdontneed=1,http2xconnect=1,": true,
	} {
		if got := hasXConnect(godebug); got != want {
			t.Errorf("hasXConnect(%q) = %v, want %v", godebug, got, want)
		}
	}
}
