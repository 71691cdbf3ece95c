package gateway

import (
	"errors"
	"net/http"
	"regexp"
	"testing"

	"muxgate/internal/fieldlist"
)

func TestNewRequestID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if !hex32.MatchString(id) || seen[id] {
			t.Fatalf("request ID %q: want 32 hex digits, each new", id)
		}
		seen[id] = true
	}
}

func TestCheckRequestIDHeader(t *testing.T) {
	for name, ok := range map[string]bool{
		"X-Request-Id": true, "x-trace": true,
		"": false, "bad name": false, "x:y": false,
		"Connection": false, "TE": false, "Host": false, "Content-Length": false,
		"X-Forwarded-For": false, "Via": false,
	} {
		if err := checkRequestIDHeader(name); (err == nil) != ok || err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%q: got %v, want ok %v", name, err, ok)
		}
	}
}

// TestRequestIDReplacesClients: the outbound fields carry the gateway's own request ID, the
// client's value of that field dropped, whatever its case; a map header gets one too.
func TestRequestIDReplacesClients(t *testing.T) {
	p := &proxy{forward: forwarding{requestID: "X-Request-Id", requestIDLower: "x-request-id"}}
	r, _ := http.NewRequest("GET", "http://a/", nil)
	list := []fieldlist.Field{{Name: "X-REQUEST-ID", Value: "client's"}, {Name: "accept", Value: "*/*"}}
	out := p.outboundList(list, r)
	var ids []string
	for _, f := range out {
		if fieldlist.SameName(f.Name, "x-request-id") {
			ids = append(ids, f.Value)
		}
	}
	if len(ids) != 1 || ids[0] == "client's" || requestIDOf(out, "x-request-id") != ids[0] {
		t.Errorf("outbound request IDs %q, want one of the gateway's", ids)
	}
	h := http.Header{"X-Request-Id": {"client's"}}
	p.forward.add(h, r)
	if v := h["X-Request-Id"]; len(v) != 1 || v[0] == "client's" {
		t.Errorf("header map: X-Request-Id %q, want one of the gateway's", v)
	}
}
