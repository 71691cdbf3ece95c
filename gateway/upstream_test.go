package gateway

import (
	"context"
	"errors"
	"testing"

	"muxgate/h2"
	"muxgate/h3"
)

func TestParseUpstreamH3(t *testing.T) {
	cases := []struct {
		raw  string
		want target
		bad  bool
	}{
		{raw: "h2c://127.0.0.1:9000", want: target{proto: "h2c", scheme: "http", address: "127.0.0.1:9000", authority: "127.0.0.1:9000", host: "127.0.0.1"}},
		{raw: "https://up.test", want: target{proto: "h2", scheme: "https", address: "up.test:443", authority: "up.test:443", host: "up.test"}},
		{raw: "h3://up.test:8443", want: target{proto: "h3", scheme: "https", address: "up.test:8443", authority: "up.test:8443", host: "up.test"}},
		{raw: "h3://[::1]", want: target{proto: "h3", scheme: "https", address: "[::1]:443", authority: "[::1]:443", host: "::1"}},
		{raw: "h3+h2://up.test:8443", want: target{proto: "h3+h2", scheme: "https", address: "up.test:8443", authority: "up.test:8443", host: "up.test"}},
		{raw: "h3+h2://up.test:8443/path", bad: true},
		{raw: "quic://up.test:8443", bad: true},
		{raw: "h2://]", bad: true},
		{raw: "h3://a]b:443", bad: true},
		{raw: "h2://[::%25\xce]", bad: true},
		{raw: "h3://[fe80::1%25eth0]:8443", want: target{proto: "h3", scheme: "https", address: "[fe80::1%eth0]:8443", authority: "[fe80::1%eth0]:8443", host: "fe80::1%eth0"}},
		{raw: "unix:/run/app.sock", want: target{proto: "h2c", scheme: "http", address: "/run/app.sock", unix: true, authority: "localhost", host: "localhost"}},
		{raw: "unix:///run/app.sock", want: target{proto: "h2c", scheme: "http", address: "/run/app.sock", unix: true, authority: "localhost", host: "localhost"}},
		{raw: "unix:run/app.sock", bad: true},
		{raw: "unix://host/run/app.sock", bad: true},
		{raw: "unix:/run/app.sock?x", bad: true},
	}
	for _, c := range cases {
		got, err := parseUpstream(c.raw)
		if c.bad {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("parseUpstream(%q): %+v, %v; want an ErrConfig", c.raw, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseUpstream(%q): %+v, %v; want %+v", c.raw, got, err, c.want)
		}
	}
}

func TestNewPoolH3Schemes(t *testing.T) {
	for _, raw := range []string{"h2c://127.0.0.1:1", "https://127.0.0.1:1", "h3://127.0.0.1:1", "h3+h2://127.0.0.1:1"} {
		cfg := &Config{Upstream: raw}
		tg, err := parseUpstream(raw)
		if err != nil {
			t.Fatal(err)
		}
		up, err := newPool(cfg, tg, raw, false)
		if err != nil {
			t.Fatalf("newPool(%s): %v", raw, err)
		}
		var ok bool
		switch tg.proto {
		case "h2c", "h2":
			_, ok = up.(*h2.Pool)
		case "h3":
			_, ok = up.(*h3.Pool)
		case "h3+h2":
			var f *fallback
			if f, ok = up.(*fallback); ok {
				_, ok3 := f.primary.(*h3.Pool)
				_, ok2 := f.secondary.(*h2.Pool)
				ok = ok3 && ok2
			}
		}
		if !ok {
			t.Errorf("newPool(%s) built a %T, want the pool of its scheme", raw, up)
		}
		if err := up.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown of the unused pool for %s: %v", raw, err)
		}
	}
}
