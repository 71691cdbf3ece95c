package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestSplitParams: the ;weight=N and ;health=/path after an upstream's URL.
func TestSplitParams(t *testing.T) {
	for _, tc := range []struct {
		raw, url string
		want     upstreamParams
	}{
		{"h2c://a:1", "h2c://a:1", upstreamParams{weight: 1}},
		{"h2c://a:1;weight=3", "h2c://a:1", upstreamParams{weight: 3}},
		{"https://a;weight=256", "https://a", upstreamParams{weight: 256}},
		{"h2c://a:1;health=/ready?deep=1", "h2c://a:1", upstreamParams{weight: 1, health: "/ready?deep=1"}},
		{"h2c://a:1;health=/h;weight=2", "h2c://a:1", upstreamParams{weight: 2, health: "/h"}},
	} {
		if url, ps, err := splitParams(tc.raw); err != nil || url != tc.url || ps != tc.want {
			t.Errorf("splitParams(%q) = %q, %+v, %v; want %q, %+v", tc.raw, url, ps, err, tc.url, tc.want)
		}
	}
	for _, raw := range []string{"h2c://a:1;weight=0", "h2c://a:1;weight=257", "h2c://a:1;weight=x", "h2c://a:1;w=2",
		"h2c://a:1;", "h2c://a:1;health=ready", "h2c://a:1;health=", "h2c://a:1;weight=2;weight=3"} {
		if _, _, err := splitParams(raw); !errors.Is(err, ErrConfig) {
			t.Errorf("splitParams(%q): %v, want ErrConfig", raw, err)
		}
	}
}

// TestWeightedChoose: members as loaded as each other per unit of weight take requests in
// proportion to their weights; a member less loaded per unit of weight takes the request.
func TestWeightedChoose(t *testing.T) {
	a, b := &fakePool{proto: "a"}, &fakePool{proto: "b"}
	bal := newBalancer([]*member{{name: "a", up: a, weight: 3}, {name: "b", up: b, weight: 1}}, HealthCheck{}, Ejection{}, zerolog.Nop())
	const n = 4000
	got := map[string]int{}
	for range n {
		m, _ := bal.choose(0)
		got[m.name]++
	}
	// 3000 expected for a, with a standard deviation of 27.
	if got["a"] < 2800 || got["a"] > 3200 {
		t.Errorf("of %d requests at equal loads, a (weight 3) took %d and b (weight 1) %d; want about 3000 and 1000", n, got["a"], got["b"])
	}
	a.load, b.load = 4, 1 // a carries 4/3 a unit of weight, b 1
	for range 10 {
		if m, _ := bal.choose(0); m.name != "b" {
			t.Fatalf("a at 4 for weight 3, b at 1 for weight 1: chose %s, want b", m.name)
		}
	}
	a.load = 2 // now a is less loaded for its weight
	if m, _ := bal.choose(0); m.name != "a" {
		t.Errorf("a at 2 for weight 3, b at 1 for weight 1: chose %s, want a", m.name)
	}
}

// FuzzSplitParams: a URL without ';' is itself with weight 1; one with parameters is what comes
// before the first ';', with a weight in range and a health path that checkPath takes; anything
// else is ErrConfig.
func FuzzSplitParams(f *testing.F) {
	for _, s := range []string{"h2c://a:1", "h2c://a:1;weight=3", "x;weight=0256", "x;weight=+1", ";", "x;health=/h;weight=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		url, ps, err := splitParams(raw)
		switch {
		case err != nil:
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("splitParams(%q): %v, not ErrConfig", raw, err)
			}
		case ps.weight < 1 || ps.weight > maxWeight:
			t.Fatalf("splitParams(%q): weight %d", raw, ps.weight)
		case !strings.Contains(raw, ";") && (url != raw || ps.weight != 1 || ps.health != ""):
			t.Fatalf("splitParams(%q) = %q, %+v; want it as it is, weight 1", raw, url, ps)
		case strings.Contains(raw, ";") && !strings.HasPrefix(raw, url+";"):
			t.Fatalf("splitParams(%q) = %q: not what comes before the first ';'", raw, url)
		case ps.health != "":
			if _, err := checkPath(ps.health); err != nil {
				t.Fatalf("splitParams(%q): health path %q that checkPath refuses", raw, ps.health)
			}
		}
	})
}
