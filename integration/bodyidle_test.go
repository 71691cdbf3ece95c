//go:build unix

package integration

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/gateway"
	"muxgate/internal/demo"
)

// bodyIdleUpstream serves /stall, which sends "part" and then nothing until its client leaves,
// and /trickle, which sends a byte every 50 ms ten times.
func bodyIdleUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.Handler())
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 10 {
			io.WriteString(w, ".")
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	return mux
}

// TestBodyIdleTimeout: a response whose body stops coming for the body idle timeout is cut: the
// client gets what came and then a closed connection, and the access log says why; a body that
// keeps coming, however slowly, and a quiet WebSocket are not cut. Each kind of upstream
// session alike.
func TestBodyIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{Handler: bodyIdleUpstream()})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.Pool.BodyIdleTimeout = idle
			access := &logBuffer{}
			cfg.AccessLog = zerolog.New(access)
			f := startGateway(t, cfg)

			c := dialRaw(t, f.addr, false)
			c.send("GET /stall HTTP/1.1\r\nHost: a.test\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /stall: %v, %v", resp, err)
			}
			b, err := io.ReadAll(resp.Body)
			if string(b) != "part" || err == nil {
				t.Errorf("the stalled body: %q, %v; want part, then the connection cut", b, err)
			}
			if !access.await(5*time.Second, func(log string) bool { return strings.Contains(log, `"error":"upstream_body_timeout"`) }) {
				t.Errorf("access log %q, want error upstream_body_timeout", access.String())
			}

			if resp, body := get(t, newClient(t), f.url(false)+"/trickle"); resp.StatusCode != http.StatusOK || body != ".........." {
				t.Errorf("a trickling body: %s %q, want all ten bytes", resp.Status, body)
			}
		})
	}
}

// TestBodyIdleSparesWebSocket: a WebSocket quiet for longer than the body idle timeout is not
// cut: its silence is -tunnel-idle-timeout's to judge.
func TestBodyIdleSparesWebSocket(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			f, _ := startWSGateway(t, k, func(cfg *gateway.Config) { cfg.Pool.BodyIdleTimeout = 100 * time.Millisecond })
			c := dialRaw(t, f.addr, false)
			c.send(wsHandshake("/ws/echo"))
			readSwitch(t, c)
			c.send("hi")
			c.readExactly("HI")
			// Ten timeouts of silence: the read must end by its deadline, not by a close.
			c.c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a quiet WebSocket: %v, want the read's own deadline", err)
			}
			c.c.SetDeadline(time.Now().Add(rawDeadline))
			c.send("again")
			c.readExactly("AGAIN")
		})
	}
}
