package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"muxgate/h1"
)

// TestWarnFileLimit: a limit below -max-conns and muxgate's own files is logged; one above, or
// an unknown one, is not.
func TestWarnFileLimit(t *testing.T) {
	o := &options{front: h1.Config{MaxConns: 10000}, upstreams: listFlag{"h2c://a:1"}}
	o.pool.MaxSessions = 4
	for limit, warns := range map[uint64]bool{1024: true, 10000: true, 10068: false, 1 << 20: false, 0: false} {
		var b bytes.Buffer
		warnFileLimit(o, limit, zerolog.New(&b))
		if got := strings.Contains(b.String(), "open-file limit"); got != warns {
			t.Errorf("limit %d: warned %v, want %v (%q)", limit, got, warns, b.String())
		}
	}
	if fileLimit() == 0 {
		t.Error("the open-file limit could not be read")
	}
}
