//go:build unix

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// TestClientAbortsUpload: a client that closes its connection halfway through a body announced
// by Content-Length is logged with the body's failure over every upstream protocol, not as a
// clean answer: the upstream did not get the request whole, whatever it answered to the part.
func TestClientAbortsUpload(t *testing.T) {
	const sent = 500000
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			read := make(chan int64, 1)
			// The upstream sends its response head before it reads the body, and answers
			// whatever part of the body it gets.
			u := startUpstream(t, k, demo.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				n, _ := io.Copy(io.Discard, r.Body)
				read <- n
				io.WriteString(w, "done")
			})})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			// The head stays with muxgate while the body is awaited: written to the closed
			// connection, it would draw the client's RST, which discards what muxgate had not
			// read of the body yet, and bytes_in would fall short of what was sent.
			cfg.BodyHold = time.Minute
			var log logBuffer
			cfg.AccessLog = zerolog.New(&log)
			f := startGateway(t, cfg)

			c := dialRaw(t, f.addr, false)
			c.send("POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 1000000\r\n\r\n")
			c.send(strings.Repeat("x", sent))
			c.c.Close()
			<-read

			var line struct {
				Status  int    `json:"status"`
				BytesIn int64  `json:"bytes_in"`
				Error   string `json:"error"`
			}
			found := log.await(10*time.Second, func(s string) bool {
				return s != "" && json.Unmarshal([]byte(s), &line) == nil
			})
			if !found {
				t.Fatalf("no access-log line; log:\n%s", log.String())
			}
			if line.Error != "client_body" || line.BytesIn != sent {
				t.Errorf("access log: status %d, error %q, bytes_in %d; want the client's body failure after %d bytes", line.Status, line.Error, line.BytesIn, sent)
			}
		})
	}
}
