package pool

import (
	"net/http"
	"strings"
)

// ConnectProtocol returns the protocol of req when req is an extended CONNECT
// (RFC 8441 4 for HTTP/2, RFC 9220 for HTTP/3), and "" otherwise. By the
// convention sessions share with their callers, an extended CONNECT is a
// CONNECT whose Proto is the protocol token to send as :protocol (such as
// "websocket"), as quic-go's HTTP/3 client reads it; a Proto that names an
// HTTP version ("HTTP/1.1", "HTTP/2.0", ...) or is empty makes a plain
// CONNECT (RFC 9113 8.5).
func ConnectProtocol(req *http.Request) string {
	if req.Method != http.MethodConnect || strings.HasPrefix(req.Proto, "HTTP/") {
		return ""
	}
	return req.Proto
}
