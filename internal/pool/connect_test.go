package pool

import (
	"net/http"
	"testing"
)

func TestConnectProtocol(t *testing.T) {
	for _, tc := range []struct {
		method, proto, want string
	}{
		{"CONNECT", "websocket", "websocket"},
		{"CONNECT", "connect-udp", "connect-udp"},
		{"CONNECT", "", ""},
		{"CONNECT", "HTTP/1.0", ""},
		{"CONNECT", "HTTP/1.1", ""},
		{"CONNECT", "HTTP/2.0", ""},
		{"GET", "websocket", ""},
	} {
		req := &http.Request{Method: tc.method, Proto: tc.proto}
		if got := ConnectProtocol(req); got != tc.want {
			t.Errorf("ConnectProtocol(%s with Proto %q) = %q, want %q", tc.method, tc.proto, got, tc.want)
		}
	}
}
