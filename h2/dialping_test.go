package h2

import (
	"fmt"
	"net"
	"testing"

	"golang.org/x/net/http2"
)

// TestEndedByPeer: the x/net engine's first PING, written after x/net closed the connection on
// the peer's end (its reader met EOF, or a GOAWAY that left it nothing to do), fails on a closed
// connection; the dial still tells it as a connection the upstream ended (endedInHandshake), and
// dials once more, as it does when the PING itself meets the end. Under load the reader was now
// and then quicker than the PING, and TestDialAgainAfterConnectionEnded failed (x/net, close and
// goaway: "no answer to the first PING: write tcp ...: use of closed network connection").
func TestEndedByPeer(t *testing.T) {
	closedErr := fmt.Errorf("write tcp: %w", net.ErrClosed)
	for _, tc := range []struct {
		name  string
		peer  func(fr *http2.Framer, pn net.Conn)
		ended bool
	}{
		{"eof", func(_ *http2.Framer, pn net.Conn) { pn.Close() }, true},
		{"goaway", func(fr *http2.Framer, _ net.Conn) { fr.WriteGoAway(0, http2.ErrCodeNo, nil) }, true},
		{"settings", func(fr *http2.Framer, _ net.Conn) { fr.WriteSettings() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cn, pn := net.Pipe()
			defer pn.Close()
			defer cn.Close()
			w, _ := newWatchConn(cn)
			go tc.peer(http2.NewFramer(pn, nil), pn)
			w.Read(make([]byte, 1024)) // the peer's one frame, or its end
			err := w.endedBy(closedErr)
			if got := endedInHandshake(err); got != tc.ended {
				t.Errorf("%v: ended by the peer %v, want %v", err, got, tc.ended)
			}
		})
	}
}
