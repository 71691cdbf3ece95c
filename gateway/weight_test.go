package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestSplitWeight: the ;weight=N after an upstream's URL.
func TestSplitWeight(t *testing.T) {
	for _, tc := range []struct {
		raw, url string
		weight   int
	}{
		{"h2c://a:1", "h2c://a:1", 1},
		{"h2c://a:1;weight=3", "h2c://a:1", 3},
		{"https://a;weight=256", "https://a", 256},
	} {
		if url, w, err := splitWeight(tc.raw); err != nil || url != tc.url || w != tc.weight {
			t.Errorf("splitWeight(%q) = %q, %d, %v; want %q, %d", tc.raw, url, w, err, tc.url, tc.weight)
		}
	}
	for _, raw := range []string{"h2c://a:1;weight=0", "h2c://a:1;weight=257", "h2c://a:1;weight=x", "h2c://a:1;w=2", "h2c://a:1;"} {
		if _, _, err := splitWeight(raw); !errors.Is(err, ErrConfig) {
			t.Errorf("splitWeight(%q): %v, want ErrConfig", raw, err)
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

// FuzzSplitWeight: a URL without ';' is itself with weight 1; one with a weight splits back into
// what it was made of; anything else is ErrConfig.
func FuzzSplitWeight(f *testing.F) {
	for _, s := range []string{"h2c://a:1", "h2c://a:1;weight=3", "x;weight=0256", "x;weight=+1", ";"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		url, w, err := splitWeight(raw)
		switch {
		case err != nil:
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("splitWeight(%q): %v, not ErrConfig", raw, err)
			}
		case w < 1 || w > maxWeight:
			t.Fatalf("splitWeight(%q): weight %d", raw, w)
		case !strings.Contains(raw, ";") && (url != raw || w != 1):
			t.Fatalf("splitWeight(%q) = %q, %d; want it as it is, weight 1", raw, url, w)
		case strings.Contains(raw, ";") && !strings.HasPrefix(raw, url+";weight="):
			t.Fatalf("splitWeight(%q) = %q, %d: not what it was made of", raw, url, w)
		}
	})
}
