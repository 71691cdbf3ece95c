package main

import (
	"os"
	"slices"
	"strings"
)

// The demo upstream's HTTP/2 server is x/net's, which announces extended CONNECT (RFC 8441 3),
// and so takes the WebSocket that muxgate makes of a client's handshake for /websocket, only when
// GODEBUG holds http2xconnect=1 as the process starts (golang/go#71128). With -demo, muxgate adds
// it to its environment and executes itself again: once, and together with the execution that
// sets the timer slack, where there is one.

const xconnect = "http2xconnect=1"

// addXConnect adds xconnect to GODEBUG for -demo, where it is missing, and reports whether it did:
// the program must then execute again for it to count.
func addXConnect(o *options) bool {
	godebug := os.Getenv("GODEBUG")
	if !o.demo || slices.Contains(strings.Split(godebug, ","), xconnect) {
		return false
	}
	if godebug != "" {
		godebug += ","
	}
	os.Setenv("GODEBUG", godebug+xconnect)
	return true
}
