package gateway

import (
	"net/http"
	"testing"

	"muxgate/internal/fieldlist"
)

func TestWebSocketAccept(t *testing.T) {
	// RFC 6455 1.3's example.
	if got, want := webSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAsExtendedConnect(t *testing.T) {
	list := []fieldlist.Field{{Name: "Sec-WebSocket-Key", Value: "k"}, {Name: "sec-websocket-version", Value: "13"},
		{Name: "origin", Value: "o"}}
	var out http.Request
	body := &tunnelBody{}
	asExtendedConnect(&out, &list, body)
	if out.Method != http.MethodConnect || out.Proto != "websocket" || out.ContentLength != -1 || out.Body != body {
		t.Errorf("got %s %s length %d body %v, want CONNECT websocket -1 with the tunnel's body", out.Method, out.Proto, out.ContentLength, out.Body)
	}
	if len(list) != 2 || list[0].Name != "sec-websocket-version" || list[1].Name != "origin" {
		t.Errorf("fields %v, want those but Sec-WebSocket-Key, in order", list)
	}
	out = http.Request{Header: http.Header{"Sec-Websocket-Key": {"k"}, "Origin": {"o"}}}
	asExtendedConnect(&out, nil, body)
	if len(out.Header) != 1 || out.Header.Get("Origin") != "o" {
		t.Errorf("header %v, want Origin alone", out.Header)
	}
}
