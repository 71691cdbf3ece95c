package main

import (
	"os"
	"strings"
)

// x/net's HTTP/2 server announces extended CONNECT (RFC 8441 3), and so takes a WebSocket over
// HTTP/2, only when GODEBUG holds http2xconnect=1 as the process starts (golang/go#71128). Two
// servers in muxgate are x/net's: the HTTP/2 front of -tls-h2, which passes a client's WebSocket
// upstream, and the demo upstream, which takes the WebSocket that muxgate makes of a client's
// handshake for /websocket. For either, muxgate adds the setting to its environment and executes
// itself again: once, and together with the execution that sets the timer slack, where there is
// one. An http2xconnect setting of the operator's own is kept as it is.

const xconnect = "http2xconnect=1"

// addXConnect adds xconnect to GODEBUG for -demo and -tls-h2, where GODEBUG has no http2xconnect
// setting, and reports whether it did: the program must then execute again for it to count.
func addXConnect(o *options) bool {
	godebug := os.Getenv("GODEBUG")
	if !o.demo && !o.tlsH2 || hasXConnect(godebug) {
		return false
	}
	if godebug != "" {
		godebug += ","
	}
	os.Setenv("GODEBUG", godebug+xconnect)
	return true
}

// hasXConnect reports whether godebug sets http2xconnect, to any value.
func hasXConnect(godebug string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "http2xconnect=") {
			return true
		}
	}
	return false
}
