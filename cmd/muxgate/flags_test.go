package main

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
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

// TestSeveralUpstreamFlags: -upstream repeated gives the gateway its first upstream and the
// others, in order; -demo brings its own and takes none.
func TestSeveralUpstreamFlags(t *testing.T) {
	o, err := parseFlags([]string{"-upstream", "h2c://127.0.0.1:1", "-upstream", "h2c://127.0.0.1:2", "-upstream", "h2c://127.0.0.1:3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, cleanup, err := buildConfig(o, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if cfg.Upstream != "h2c://127.0.0.1:1" || strings.Join(cfg.Upstreams, " ") != "h2c://127.0.0.1:2 h2c://127.0.0.1:3" {
		t.Errorf("got Upstream %q, Upstreams %q; want the first, then the other two", cfg.Upstream, cfg.Upstreams)
	}
	if _, err := parseFlags([]string{"-demo", "-upstream", "h2c://127.0.0.1:1"}, nil); err == nil || !strings.Contains(err.Error(), "drop -upstream") {
		t.Errorf("-demo with -upstream: got %v, want an error", err)
	}
}

// TestDrainGraceFlag: -drain-grace gives h1 its grace, and 0 a close at once, which h1 takes
// as a negative grace (its zero is its default).
func TestDrainGraceFlag(t *testing.T) {
	for arg, want := range map[string]time.Duration{"1s": time.Second, "250ms": 250 * time.Millisecond, "0": -1} {
		o, err := parseFlags([]string{"-upstream", "h2c://127.0.0.1:1", "-drain-grace", arg}, nil)
		if err != nil {
			t.Errorf("-drain-grace %s: %v", arg, err)
		} else if o.front.DrainGrace != want {
			t.Errorf("-drain-grace %s: got %v, want %v", arg, o.front.DrainGrace, want)
		}
	}
}
