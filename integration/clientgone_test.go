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

// dripHandler answers /drip with the first bytes of a body whose rest never comes, and /hold
// with nothing; each waits for its request to be cancelled. entered gets a value once /drip's
// first bytes are flushed.
func dripHandler(entered chan<- struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		entered <- struct{}{}
		<-r.Context().Done()
	})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	return mux
}

// TestClientGoneDuringBody: a client that closes its connection while its response body is on
// its way is logged client_closed over every upstream protocol, HTTP/3 included, not as the
// upstream's failure: with the status sent when the head had reached it, and 499 for a pipelined
// response of which nothing had.
func TestClientGoneDuringBody(t *testing.T) {
	for _, k := range engineKinds {
		for _, pipelined := range []bool{false, true} {
			name := k.name + "/alone"
			if pipelined {
				name = k.name + "/pipelined"
			}
			t.Run(name, func(t *testing.T) {
				entered := make(chan struct{}, 1)
				u := startUpstream(t, k, demo.Options{Handler: dripHandler(entered)})
				cfg := testConfig(u)
				cfg.Pool.H2Engine = k.engine
				var log logBuffer
				cfg.AccessLog = zerolog.New(&log)
				f := startGateway(t, cfg)

				c := dialRaw(t, f.addr, false)
				want, reqs := 200, "GET /drip HTTP/1.1\r\nHost: example.test\r\n\r\n"
				if pipelined {
					// /drip's response waits behind /hold's, which never comes. Both go in one
					// write: a /hold read alone is served alone, and /drip would leave only
					// once /hold timed out.
					want, reqs = 499, "GET /hold HTTP/1.1\r\nHost: example.test\r\n\r\n"+reqs
				}
				c.send(reqs)
				<-entered
				if !pipelined {
					resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
					if err != nil {
						t.Fatalf("response head: %v", err)
					}
					if b := make([]byte, 5); func() error { _, err := io.ReadFull(resp.Body, b); return err }() != nil {
						t.Fatal("first body bytes did not arrive")
					}
				}
				c.c.Close()

				var line struct {
					Status int    `json:"status"`
					Error  string `json:"error"`
				}
				found := log.await(10*time.Second, func(s string) bool {
					for l := range strings.Lines(s) {
						if strings.Contains(l, `"target":"/drip"`) {
							return json.Unmarshal([]byte(l), &line) == nil
						}
					}
					return false
				})
				if !found {
					t.Fatalf("no access-log line for /drip; log:\n%s", log.String())
				}
				if line.Error != "client_closed" || line.Status != want {
					t.Errorf("access log for /drip: status %d, error %q; want %d, client_closed", line.Status, line.Error, want)
				}
			})
		}
	}
}
