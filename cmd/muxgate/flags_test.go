package main

import (
	"crypto/tls"
	"os"
	"slices"
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
	o, err := parseFlags([]string{"-upstream", "h2c://127.0.0.1:1", "-upstream", "h2c://127.0.0.1:2", "-upstream", "h2c://127.0.0.1:3",
		"-eject-after", "5", "-eject-time", "1m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, b, err := buildConfig(o, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.cleanup()
	if cfg.Upstream != "h2c://127.0.0.1:1" || strings.Join(cfg.Upstreams, " ") != "h2c://127.0.0.1:2 h2c://127.0.0.1:3" {
		t.Errorf("got Upstream %q, Upstreams %q; want the first, then the other two", cfg.Upstream, cfg.Upstreams)
	}
	if cfg.Eject.After != 5 || cfg.Eject.For != time.Minute {
		t.Errorf("got Eject %+v, want after 5 for 1m", cfg.Eject)
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

func TestFlagsFromLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: "# all of it\n\n   \n", want: nil},
		{in: "-upstream h2c://10.0.0.5:9000\n--upstream=h2c://10.0.0.6:9000\n-no-via\n", want: []string{
			"-upstream=h2c://10.0.0.5:9000", "--upstream=h2c://10.0.0.6:9000", "-no-via"}},
		{in: "  -access-log\t /var/log/mux gate.log  \r\n", want: []string{"-access-log=/var/log/mux gate.log"}},
		{in: "-upstream=a b", want: []string{"-upstream=a b"}},
		{in: "upstream h2c://x", bad: true},
		{in: "-", bad: true},
		{in: "---x y", bad: true},
		{in: "-= y", bad: true},
		{in: "-flags-file other", bad: true},
		{in: "--flags-file=other", bad: true},
	} {
		got, err := flagsFromLines(strings.NewReader(c.in))
		if c.bad != (err != nil) || !c.bad && !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, %v; want %q (an error: %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

// FuzzFlagsFromLines: every argument read from a file is one flag, as the flag package takes
// it: one dash or two, a name that is not -flags-file, and no line break.
func FuzzFlagsFromLines(f *testing.F) {
	for _, s := range []string{"-upstream h2c://a:1\n-no-via", "# c\n--x=1 2\n", "-a\t\tb", "-\n", "--flags-file x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		args, err := flagsFromLines(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, a := range args {
			name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
			if !strings.HasPrefix(a, "-") || name == "" || name[0] == '-' || name == "flags-file" || strings.ContainsAny(a, "\n") {
				t.Fatalf("%q gave the argument %q", in, a)
			}
		}
	})
}

// TestFlagsFile: -flags-file's flags come first, the command line's after them.
func TestFlagsFile(t *testing.T) {
	path := t.TempDir() + "/flags"
	content := "# muxgate\n-upstream h2c://127.0.0.1:1\n-max-sessions 2\n-no-via\n-access-log off\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-flags-file", path, "-max-sessions", "3", "-upstream", "h2c://127.0.0.1:2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.upstreams, listFlag{"h2c://127.0.0.1:1", "h2c://127.0.0.1:2"}) || o.pool.MaxSessions != 3 ||
		!o.noVia || o.accessLog != "off" {
		t.Errorf("got upstreams %q, max-sessions %d, no-via %v, access-log %q", o.upstreams, o.pool.MaxSessions, o.noVia, o.accessLog)
	}
	for _, bad := range []string{path + ".missing", t.TempDir()} {
		if _, err := parseFlags([]string{"-flags-file", bad}, nil); err == nil || !strings.Contains(err.Error(), "-flags-file") {
			t.Errorf("-flags-file %s: %v, want an error naming the flag", bad, err)
		}
	}
}

// TestTLSPolicyFlags: -tls-min-version and -tls-ciphers become the TLS listeners' policy, and a
// bad value is a usage error that names the flag.
func TestTLSPolicyFlags(t *testing.T) {
	o, err := parseFlags([]string{"-upstream", "h2c://127.0.0.1:1", "-tls-min-version", "1.0",
		"-tls-ciphers", "TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.tlsPolicy.MinVersion != tls.VersionTLS10 || !slices.Equal(o.tlsPolicy.CipherSuites,
		[]uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("policy %+v", o.tlsPolicy)
	}
	if o, err := parseFlags([]string{"-upstream", "h2c://127.0.0.1:1"}, nil); err != nil || o.tlsPolicy.MinVersion != tls.VersionTLS12 || o.tlsPolicy.CipherSuites != nil {
		t.Errorf("default policy %+v, %v; want TLS 1.2 and crypto/tls's suites", o.tlsPolicy, err)
	}
	for _, args := range [][]string{{"-tls-min-version", "1.4"}, {"-tls-ciphers", "AES128-SHA"}} {
		_, err := parseFlags(append([]string{"-upstream", "h2c://127.0.0.1:1"}, args...), nil)
		if err == nil || !strings.HasPrefix(err.Error(), args[0]+":") {
			t.Errorf("%q: %v, want an error naming the flag", args, err)
		}
	}
}
