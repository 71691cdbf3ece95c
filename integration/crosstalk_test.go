//go:build unix

package integration

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// TestNoCrossTalk: clients that pipeline GETs between POSTs, over clear text and TLS, some of
// them hanging up halfway through their pipeline, all at once, each read only their own
// responses. h1 recycles a request's response once it is answered, and response bodies travel
// in buffers lent from the upstream session's reader: either reused too early would hand one
// client's bytes to another. Afterwards the gateway still serves.
func TestNoCrossTalk(t *testing.T) {
	const (
		clients = 16
		rounds  = 12
		depth   = 8
	)
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{Handler: delayed(2 * time.Millisecond)})
			f := startGateway(t, testConfig(u))
			var wg sync.WaitGroup
			for id := range clients {
				addr, useTLS := f.addr, id%2 == 1
				if useTLS {
					addr = f.tlsAddr
				}
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(id), 1))
					for round := range rounds {
						if err := crossTalkRound(addr, useTLS, id, round, depth, rng); err != nil {
							t.Errorf("client %d, round %d: %v", id, round, err)
							return
						}
					}
				})
			}
			wg.Wait()
			c := dialRaw(t, f.addr, false)
			c.send("GET /path/after HTTP/1.1\r\nHost: example.test\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/after" {
				t.Errorf("after the clients: status %d body %q, want 200 /path/after", resp.StatusCode, body)
			}
		})
	}
}

// crossTalkRound sends depth requests on a new connection in one write, each naming client id,
// round and its place (a GET of /path/ID-ROUND-I, every third a POST of that name to /echo),
// and reads the responses in order, checking each body. Every other round it reads only some
// of them and hangs up.
func crossTalkRound(addr string, useTLS bool, id, round, depth int, rng *rand.Rand) error {
	c, err := dialFront(addr, useTLS)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(rawDeadline))
	var b strings.Builder
	names := make([]string, depth)
	methods := make([]string, depth)
	for i := range depth {
		names[i] = fmt.Sprintf("/path/%d-%d-%d", id, round, i)
		if i%3 == 2 {
			methods[i] = "POST"
			fmt.Fprintf(&b, "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: %d\r\n\r\n%s", len(names[i]), names[i])
		} else {
			methods[i] = "GET"
			fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n", names[i])
		}
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return err
	}
	read := depth
	if round%2 == 1 {
		read = rng.IntN(depth)
	}
	br := bufio.NewReader(c)
	for i := range read {
		resp, err := http.ReadResponse(br, &http.Request{Method: methods[i]})
		if err != nil {
			return fmt.Errorf("response %d: %w", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("body of response %d: %w", i, err)
		}
		if resp.StatusCode != 200 || string(body) != names[i] {
			return fmt.Errorf("response %d: status %d body %q, want 200 %q", i, resp.StatusCode, body, names[i])
		}
	}
	return nil
}
