package main

import (
	"fmt"
	"io"

	"muxgate/internal/demo"
)

// startDemo runs the embedded HTTP/2 upstream on a free loopback port and returns its URL.
func startDemo() (*demo.Server, string, error) {
	s, err := demo.Listen("127.0.0.1:0", demo.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("demo upstream: %w", err)
	}
	return s, "h2c://" + s.Addr(), nil
}

func printTry(w io.Writer, listen, upstream string) {
	base := "http://" + listen
	fmt.Fprintf(w, `
muxgate demo: HTTP/1.1 on %[1]s -> HTTP/2 (h2c) demo upstream at %[2]s

  curl -v %[1]s/ %[1]s/bytes/100            # one connection, re-used
  curl -v --data-binary @/etc/hosts %[1]s/echo
  h2load --h1 -c 64 -n 20000 %[1]s/bytes/100

Routes: / /bytes/N /stream/N /echo /headers /status/N /trailers /path/... /websocket (an echo)
        /events (an event a second: curl -N %[1]s/events)
Stop with Ctrl-C.

`, base, upstream)
}
