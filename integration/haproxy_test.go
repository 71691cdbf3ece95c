//go:build unix

package integration

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// startHAProxy runs HAProxy with an HTTP/2 clear-text front end (h2c, prior knowledge) on a free
// loopback port, forwarding over HTTP/1.1 to backend, until the test ends, and returns the front
// end's address. HAProxy takes a WebSocket by extended CONNECT there (RFC 8441) and passes it to
// the backend as an HTTP/1.1 upgrade.
func startHAProxy(t *testing.T, backend string) string {
	t.Helper()
	addr := freePort(t, upstreamKinds[0])
	runHAProxy(t, addr, "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"+
		"frontend f\n  bind "+addr+" proto h2\n  default_backend b\n"+
		"backend b\n  server s "+backend+"\n")
	return addr
}

// runHAProxy runs HAProxy with the configuration cfg and the flags args until the test ends,
// once it listens on addr, and returns its process and its output.
func runHAProxy(t *testing.T, addr, cfg string, args ...string) (*exec.Cmd, *logBuffer) {
	t.Helper()
	bin := needTool(t, "haproxy")
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// -db: in the foreground, with no daemon to outlive the test.
	cmd := exec.Command(bin, append(args, "-db", "-f", file)...)
	log := &logBuffer{}
	runServer(t, cmd, addr, log)
	return cmd, log
}

// TestHAProxyReload: HAProxy, an HTTP/2 upstream here that answers by itself, reloaded three times
// (SIGUSR2 to its master process: a new worker takes the port, the old one sends GOAWAY with
// 2^31-1 and closes each connection once its streams are done) while 32 clients send GETs and
// POSTs through the gateway: not one fails.
func TestHAProxyReload(t *testing.T) {
	addr := freePort(t, upstreamKinds[0])
	const answer = "hello from haproxy"
	master, log := runHAProxy(t, addr, "global\n  hard-stop-after 10s\n"+
		"defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"+
		"frontend f\n  bind "+addr+" proto h2\n  http-request return status 200 content-type text/plain string \""+answer+"\"\n",
		"-W") // master-worker: the master reloads, and ends its workers as it ends
	t.Cleanup(func() { master.Process.Signal(syscall.SIGTERM) }) // before runServer's SIGKILL
	f := startGateway(t, testConfig(&upstream{url: "h2c://" + addr}))
	const reloaded = "Loading success" // the master's, at its start and after each reload
	l := restartUnderLoad(t, f, "/", answer, 3, func() error {
		before := strings.Count(log.String(), reloaded)
		if err := master.Process.Signal(syscall.SIGUSR2); err != nil {
			return err
		}
		return awaitLines(log.String, reloaded, before)
	})
	if l.failedPosts != 0 || l.failedGets != 0 {
		t.Errorf("%d POSTs and %d GETs got 502, want none", l.failedPosts, l.failedGets)
	}
	t.Logf("%d requests served across 3 reloads", l.served)
}

// TestWebSocketThroughHAProxy: a WebSocket from x/net's client reaches x/net's HTTP/1.1 WebSocket
// server through muxgate and HAProxy, an independent implementation of RFC 8441 on the upstream
// side: muxgate's extended CONNECT and the tunnel behind it, as another server takes them.
func TestWebSocketThroughHAProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo := &http.Server{Handler: websocket.Handler(func(ws *websocket.Conn) {
		// Message by message: io.Copy would send each read's piece of a message as one.
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil && websocket.Message.Send(ws, msg) == nil {
		}
	})}
	go echo.Serve(ln)
	t.Cleanup(func() { echo.Close() })
	for _, engine := range []string{"", "x/net"} {
		t.Run("engine "+engine, func(t *testing.T) {
			u := &upstream{url: "h2c://" + startHAProxy(t, ln.Addr().String())}
			cfg := testConfig(u)
			cfg.Pool.H2Engine = engine
			f := startGateway(t, cfg)
			ws, err := websocket.Dial("ws://"+f.addr+"/chat", "", "http://"+f.addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer ws.Close()
			ws.SetDeadline(time.Now().Add(rawDeadline))
			for _, msg := range []string{"hello through HAProxy", string(make([]byte, 70000))} {
				var got string
				if err := websocket.Message.Send(ws, msg); err != nil {
					t.Fatal(err)
				}
				if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
					t.Fatalf("got %d bytes, %v; want the %d sent", len(got), err, len(msg))
				}
			}
		})
	}
}
