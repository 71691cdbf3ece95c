package gateway

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"muxgate/internal/fieldlist"
)

func TestParseField(t *testing.T) {
	for in, want := range map[string]Field{
		"Strict-Transport-Security: max-age=63072000; includeSubDomains": {"Strict-Transport-Security", "max-age=63072000; includeSubDomains"},
		"Server:":            {"Server", ""},
		"x-a:  \tv w \t":     {"x-a", "v w"},
		"X-Colon: a:b:c":     {"X-Colon", "a:b:c"},
		"X-Obs: caf\xc3\xa9": {"X-Obs", "caf\xc3\xa9"},
	} {
		if got, err := ParseField(in); err != nil || got != want {
			t.Errorf("ParseField(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Server", ": v", "X A: v", "X-A: v\r\nX-B: w", "X-A: \x00", "Content-Length: 5",
		"transfer-encoding: chunked", "Connection:", "Host: evil.test", "TE: trailers", "Upgrade: h2c"} {
		if _, err := ParseField(bad); err == nil {
			t.Errorf("ParseField(%q): no error", bad)
		}
	}
}

// TestCheckSetFields: New and Check refuse a Config whose set fields ParseField would refuse,
// however the Config was made: their values go into lists as they are.
func TestCheckSetFields(t *testing.T) {
	for _, f := range []Field{{"X-A", "v\r\nX-B: w"}, {"X-A", "\x00"}, {"X A", "v"}, {"", "v"}, {"Content-Length", "5"}} {
		for _, cfg := range []Config{
			{SetRequestFields: []Field{{"X-Ok", "1"}, f}},
			{SetResponseFields: []Field{f}},
		} {
			cfg.Listeners = []Listener{{Addr: "127.0.0.1:0"}}
			cfg.Upstream = "h2c://127.0.0.1:1"
			if err := Check(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "set field") {
				t.Errorf("%+v: Check says %v, want ErrConfig", f, err)
			}
		}
	}
	cfg := Config{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, Upstream: "h2c://127.0.0.1:1",
		SetRequestFields: []Field{{"X-Env", "prod"}, {"X-Debug", ""}}, SetResponseFields: []Field{{"Server", ""}}}
	if err := Check(cfg); err != nil {
		t.Errorf("good set fields: Check says %v", err)
	}
}

func FuzzParseField(f *testing.F) {
	f.Add("X-A: b")
	f.Add("Server:")
	f.Add("a:\t\x7f")
	f.Fuzz(func(t *testing.T, s string) {
		fd, err := ParseField(s)
		if err != nil {
			return
		}
		// What it takes can be written as a field line that reads back the same.
		if strings.ContainsAny(fd.Name+fd.Value, "\r\n\x00") || fd.Name == "" || strings.TrimSpace(fd.Value) != strings.Trim(fd.Value, " \t") {
			t.Fatalf("%q: took %+v", s, fd)
		}
		if again, err := ParseField(fd.Name + ": " + fd.Value); err != nil || again != fd {
			t.Fatalf("%q: %+v, then %+v, %v", s, fd, again, err)
		}
	})
}

// TestFieldSet: a set replaces the fields of its names in a list and in a map, whatever their
// case, and an empty value removes them.
func TestFieldSet(t *testing.T) {
	s := newFieldSet([]Field{{"X-Env", "prod"}, {"server", ""}})
	list := []fieldlist.Field{{Name: "x-env", Value: "dev"}, {Name: "a", Value: "1"}, {Name: "server", Value: "up"}, {Name: "b", Value: "2"}}
	want := []fieldlist.Field{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}, {Name: "x-env", Value: "prod"}}
	if got := s.setList(list); !reflect.DeepEqual(got, want) {
		t.Errorf("setList: %v, want %v", got, want)
	}
	h := http.Header{"X-Env": {"dev", "qa"}, "server": {"up"}, "A": {"1"}}
	s.setHeader(h)
	if !reflect.DeepEqual(h, http.Header{"X-Env": {"prod"}, "A": {"1"}}) {
		t.Errorf("setHeader: %v", h)
	}
	if got := (fieldSet{}).setList(list[:1]); len(got) != 1 {
		t.Errorf("an empty set changed the list: %v", got)
	}
}
