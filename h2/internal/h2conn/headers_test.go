package h2conn

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestPrepareHead: the fields a request sends, with the header list size
// the peer's limit is checked against (RFC 9113 6.5.2).
func TestPrepareHead(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://example.com/p?q=1", strings.NewReader("abc"))
	req.Header = http.Header{
		"User-Agent":     {"ua"},
		"X-Custom-Thing": {"a", "b"},
		"Te":             {"gzip, trailers"},
		"Connection":     {"keep-alive"},
		"Host":           {"other.example"},
		"Content-Length": {"99"},
	}
	var inline [inlineFields]field
	h, sent, err := prepareHead(req, nil, 0, inline[:0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range sent {
		got = append(got, f.name+": "+f.value)
	}
	slices.Sort(got)
	want := []string{"user-agent: ua", "x-custom-thing: a", "x-custom-thing: b"}
	if !slices.Equal(got, want) {
		t.Errorf("fields sent = %q, want %q", got, want)
	}
	if !h.te || h.clen != "3" || h.authority != "example.com" || h.path != "/p?q=1" {
		t.Errorf("te %v, content-length %q, authority %q, path %q; want true, \"3\", \"example.com\", \"/p?q=1\"",
			h.te, h.clen, h.authority, h.path)
	}

	// Each field counts its name, its value and 32; the pseudo-headers
	// count 7+7+10+5 for their names.
	size := uint32(len("user-agent"+"ua")+len("x-custom-thing"+"a")+len("x-custom-thing"+"b")+3*32) +
		uint32(len("POST"+"http"+"example.com"+"/p?q=1")+7+7+10+5+4*32) +
		uint32(len("3")+2*32)
	if _, _, err := prepareHead(req, nil, size, inline[:0]); err != nil {
		t.Errorf("with the peer's limit at the list size %d: %v", size, err)
	}
	if _, _, err := prepareHead(req, nil, size-1, inline[:0]); !errors.Is(err, ErrHeaderListSize) {
		t.Errorf("with the peer's limit at %d, one under the list size: %v, want ErrHeaderListSize", size-1, err)
	}

	req.Header["Bad Name"] = []string{"x"}
	if _, _, err := prepareHead(req, nil, 0, inline[:0]); err == nil || !strings.Contains(err.Error(), "invalid request header name") {
		t.Errorf("with an invalid field name: %v, want an invalid header name error", err)
	}
}
