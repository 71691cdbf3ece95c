//go:build unix

package integration

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// TestWebSocketDrainGoingAway: a drain closes an open WebSocket with a Close of status 1001
// (going away) at once, rather than cutting it at the drain's deadline; the client's answering
// Close goes upstream, whose own Close ends the tunnel, and the drain ends long before its
// deadline. Each kind of upstream session alike.
func TestWebSocketDrainGoingAway(t *testing.T) {
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			cfg := testConfig(startUpstream(t, k, demo.Options{}))
			cfg.Pool.H2Engine = k.engine
			cfg.ShutdownTimeout = 30 * time.Second // far past the client's patience (rawDeadline)
			logs := &logBuffer{}
			cfg.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
			access := &logBuffer{}
			cfg.AccessLog = zerolog.New(access)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("gateway log:\n%s", logs.String())
				}
			})
			g := serveUntilDrain(t, cfg)
			c := dialRaw(t, g.Addrs()[0].String(), false)
			c.send("GET /websocket HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
				"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %v, %v", resp, err)
			}
			c.send(string(maskedFrame(0x1, []byte("hi"))))
			c.readExactly("\x81\x02hi")

			g.drain()
			got := make([]byte, 4)
			if _, err := io.ReadFull(c.br, got); err != nil || !bytes.Equal(got, []byte{0x88, 0x02, 0x03, 0xe9}) {
				t.Fatalf("after the drain began: %x, %v; want a Close frame of status 1001", got, err)
			}
			c.send(string(maskedFrame(0x8, []byte{0x03, 0xe9}))) // the client's answering Close
			c.expectClosed()
			g.drained(t, rawDeadline, "the WebSocket closed")
			if log := access.String(); !strings.Contains(log, `"status":101`) || strings.Contains(log, `"error"`) {
				t.Errorf("access log %q, want the WebSocket logged 101 without an error", log)
			}
		})
	}
}

// maskedFrame is a final frame of opcode as a client sends it, masked (RFC 6455 5.3).
func maskedFrame(opcode byte, payload []byte) []byte {
	key := []byte{0x11, 0x22, 0x33, 0x44}
	b := append([]byte{0x80 | opcode, 0x80 | byte(len(payload))}, key...)
	for i, p := range payload {
		b = append(b, p^key[i%4])
	}
	return b
}
