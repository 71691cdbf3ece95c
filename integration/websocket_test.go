//go:build unix

package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"github.com/rs/zerolog"
	"golang.org/x/net/http2"
	"golang.org/x/net/websocket"

	"muxgate/gateway"
	"muxgate/internal/demo"
	"muxgate/internal/tunneltest"
)

// The key and accept value of RFC 6455 1.3's example.
const (
	wsKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// wsHandshake is a WebSocket opening handshake (RFC 6455 4.1) for path.
func wsHandshake(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: ws.example\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
		"Origin: http://ws.example\r\n\r\n"
}

// wsUpstream answers the extended CONNECT of a WebSocket on /ws with 200, the first protocol the
// client offered and a field that tells what it received, and sends back in capitals what comes
// through the tunnel until the client's side ends; then it ends its own. On /ws/refuse it
// answers 403 with a body; on /ws/bye it sends "bye" and ends its side at once, and then waits
// for the client's.
func wsUpstream() http.Handler {
	return demoWith("/ws/", func(w http.ResponseWriter, r *http.Request) {
		if tunneltest.Protocol(r) != "websocket" {
			http.Error(w, "not an extended CONNECT: "+r.Method+" "+r.Proto, http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/ws/refuse" {
			http.Error(w, "go away", http.StatusForbidden)
			return
		}
		seen, _ := json.Marshal(map[string]string{
			"path": r.URL.Path, "key": r.Header.Get("Sec-Websocket-Key"), "version": r.Header.Get("Sec-Websocket-Version"),
			"origin": r.Header.Get("Origin"), "upgrade": r.Header.Get("Upgrade"), "xff": r.Header.Get("X-Forwarded-For"),
		})
		protocol, _, _ := strings.Cut(r.Header.Get("Sec-Websocket-Protocol"), ",")
		w.Header().Set("Sec-Websocket-Protocol", protocol)
		w.Header().Set("X-Seen", string(seen))
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		rc.Flush()
		if r.URL.Path == "/ws/flood" {
			// More than any socket buffer holds, to a client that reads none of it.
			chunk := bytes.Repeat([]byte("f"), 64<<10)
			for range 1024 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		if r.URL.Path == "/ws/bye" {
			io.WriteString(w, "bye")
			rc.Flush()
			// Returning ends the upstream's side; the client's still comes, and is read
			// away by the server.
			return
		}
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(bytes.ToUpper(buf[:n]))
				rc.Flush()
			}
			if err != nil {
				return
			}
		}
	})
}

// readSwitch reads the 101 that answers wsHandshake and checks its fields.
func readSwitch(t *testing.T, c *rawConn) http.Header {
	t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("reading the handshake's answer: %v", err)
	}
	h := resp.Header
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(h.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(h.Get("Connection"), "upgrade") || h.Get("Sec-Websocket-Accept") != wsAccept ||
		h.Get("Sec-Websocket-Protocol") != "chat" {
		t.Fatalf("got %d %v, want 101 with Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Accept %s and the upstream's protocol", resp.StatusCode, h, wsAccept)
	}
	return h
}

// readExactly reads len(want) bytes and checks them.
func (r *rawConn) readExactly(want string) {
	r.t.Helper()
	b := make([]byte, len(want))
	if _, err := io.ReadFull(r.br, b); err != nil || string(b) != want {
		r.t.Fatalf("got %q, %v; want %q", b, err, want)
	}
}

// closeWrite half-closes the client's side of the connection.
func (r *rawConn) closeWrite() {
	switch c := r.c.(type) {
	case *net.TCPConn:
		c.CloseWrite()
	case *tls.Conn:
		c.CloseWrite()
		c.NetConn().(*net.TCPConn).CloseWrite()
	}
}

func TestWebSocket(t *testing.T) {
	withEachEngine(t, wsUpstream, func(t *testing.T, f *front) {
		for _, useTLS := range []bool{false, true} {
			addr := f.addr
			if useTLS {
				addr = f.tlsAddr
			}
			c := dialRaw(t, addr, useTLS)
			c.send(wsHandshake("/ws/echo"))
			h := readSwitch(t, c)
			var seen map[string]string
			json.Unmarshal([]byte(h.Get("X-Seen")), &seen)
			// RFC 8441 5: no Sec-WebSocket-Key upstream; the version and the rest go on.
			if seen["path"] != "/ws/echo" || seen["key"] != "" || seen["version"] != "13" || seen["origin"] != "http://ws.example" ||
				seen["upgrade"] != "" || seen["xff"] != "127.0.0.1" {
				t.Errorf("the upstream saw %v", seen)
			}
			for _, msg := range []string{"hello", strings.Repeat("x", 100<<10)} {
				c.send(msg)
				c.readExactly(strings.ToUpper(msg))
			}
			// The client ends its side; the upstream then ends its own, and the connection closes.
			c.closeWrite()
			c.expectClosed()
		}
	})
}

func TestWebSocketUpstreamEndsFirst(t *testing.T) {
	withEachEngine(t, wsUpstream, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send(wsHandshake("/ws/bye"))
		readSwitch(t, c)
		c.readExactly("bye")
		// The upstream's end is the client's connection's half-close; the client's side is
		// still open, and ends the tunnel when it ends.
		if _, err := c.br.ReadByte(); err != io.EOF {
			t.Fatalf("after bye: got %v, want io.EOF", err)
		}
		c.send("late")
		c.closeWrite()
	})
}

func TestWebSocketRefused(t *testing.T) {
	withEachEngine(t, wsUpstream, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send(wsHandshake("/ws/refuse"))
		resp, body := c.response("GET")
		if resp.StatusCode != http.StatusForbidden || body != "go away\n" || resp.Close {
			t.Fatalf("got %d %q close %v, want 403 go away, kept alive", resp.StatusCode, body, resp.Close)
		}
		// The connection stays HTTP/1.1.
		c.send("GET /path/next HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/next" {
			t.Errorf("next request: got %d %q, want 200 /path/next", resp.StatusCode, body)
		}
	})
}

func TestWebSocketBadKey(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{Handler: wsUpstream()})
	f := startGateway(t, testConfig(u))
	for _, key := range []string{"", "Sec-WebSocket-Key: c2hvcnQ=\r\n", "Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Key: " + wsKey + "\r\n"} {
		c := dialRaw(t, f.addr, false)
		c.send("GET /ws/echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n")
		resp, _ := c.response("GET")
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Muxgate-Error") != "websocket_key" {
			t.Errorf("key lines %q: got %d %q, want 400 websocket_key", key, resp.StatusCode, resp.Header.Get("X-Muxgate-Error"))
		}
	}
}

// TestWebSocketUpgradeASCII: the Upgrade token compares ASCII case-insensitively (RFC 9110 7.8,
// 5.6.2); "web\u017Focket" (LATIN SMALL LETTER LONG S, which Unicode folds to s) and
// "WEBSOC\u212AET" (KELVIN SIGN, folded to k) are other protocols, not the WebSocket: the request
// goes upstream as a plain GET, which wsUpstream refuses, and the connection stays HTTP/1.1.
func TestWebSocketUpgradeASCII(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{Handler: wsUpstream()})
	f := startGateway(t, testConfig(u))
	c := dialRaw(t, f.addr, false)
	for _, token := range []string{"web\u017Focket", "WEBSOC\u212AET"} {
		c.send(strings.Replace(wsHandshake("/ws/echo"), "Upgrade: websocket", "Upgrade: "+token, 1))
		resp, body := c.response("GET")
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(body, "not an extended CONNECT: GET") {
			t.Fatalf("Upgrade: %q: got %d %q, want the upstream's 400 to a plain GET", token, resp.StatusCode, body)
		}
	}
	c.send(wsHandshake("/ws/echo"))
	readSwitch(t, c)
}

// startWSGateway starts a gateway, configured by set, in front of an upstream of kind k that
// serves wsUpstream, and returns it with its access log.
func startWSGateway(t *testing.T, k upstreamKind, set func(*gateway.Config)) (*front, *logBuffer) {
	t.Helper()
	cfg := testConfig(startUpstream(t, k, demo.Options{Handler: wsUpstream()}))
	access := &logBuffer{}
	cfg.AccessLog = zerolog.New(access)
	set(&cfg)
	return startGateway(t, cfg), access
}

func TestWebSocketIdle(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			f, access := startWSGateway(t, k, func(cfg *gateway.Config) {
				cfg.Front.TunnelIdleTimeout = 300 * time.Millisecond
				cfg.MetricsAddr = "127.0.0.1:0"
			})
			admin := "http://" + f.g.MetricsAddr().String()
			c := dialRaw(t, f.addr, false)
			c.send(wsHandshake("/ws/echo"))
			readSwitch(t, c)
			c.send("hi")
			c.readExactly("HI")
			m := scrape(t, admin)
			if m["muxgate_websockets_open"] != 1 || m["muxgate_client_requests_active"] != 1 {
				t.Errorf("muxgate_websockets_open %v, muxgate_client_requests_active %v while the WebSocket is open, want 1 and 1",
					m["muxgate_websockets_open"], m["muxgate_client_requests_active"])
			}
			// Nothing more either way: the gateway cuts the tunnel.
			c.expectClosed()
			want := `"status":101`
			if !access.await(5*time.Second, func(log string) bool { return strings.Contains(log, `"error":"tunnel_idle"`) }) ||
				!strings.Contains(access.String(), want) {
				t.Errorf("access log %q, want a 101 line with error tunnel_idle", access.String())
			}
			m = scrape(t, admin)
			for name, want := range map[string]float64{
				`muxgate_websockets_open`:                            0,
				`muxgate_requests_total{code="101"}`:                 1,
				`muxgate_request_errors_total{reason="tunnel_idle"}`: 1,
				`muxgate_request_duration_seconds_count`:             0,
				`muxgate_request_body_bytes_total`:                   2,
				`muxgate_response_body_bytes_total`:                  2,
			} {
				if m[name] != want {
					t.Errorf("%s = %v, want %v", name, m[name], want)
				}
			}
		})
	}
}

// TestWebSocketClient: x/net's WebSocket client, through muxgate, with the demo upstream's echo,
// which speaks RFC 6455 over the extended CONNECT's stream.
func TestWebSocketClient(t *testing.T) {
	withEachEngine(t, demo.Handler, func(t *testing.T, f *front) {
		cfg, err := websocket.NewConfig("ws://"+f.addr+"/websocket", "http://"+f.addr)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := websocket.DialConfig(cfg)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer ws.Close()
		ws.SetDeadline(time.Now().Add(rawDeadline))
		for _, msg := range []string{"hello", strings.Repeat("é", 40000)} {
			if err := websocket.Message.Send(ws, msg); err != nil {
				t.Fatalf("send: %v", err)
			}
			var got string
			if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
				t.Fatalf("got %d bytes, %v; want the %d bytes sent", len(got), err, len(msg))
			}
		}
		bin := []byte{0, 1, 2, 255}
		var got []byte
		if err := websocket.Message.Send(ws, bin); err != nil {
			t.Fatal(err)
		}
		if err := websocket.Message.Receive(ws, &got); err != nil || !bytes.Equal(got, bin) {
			t.Fatalf("binary: got %v, %v; want %v", got, err, bin)
		}
	})
}

// TestWebSocketNotEnabled: an upstream that did not announce SETTINGS_ENABLE_CONNECT_PROTOCOL
// (RFC 8441 3) gets no extended CONNECT: the client gets 502 at once, on a connection that stays
// HTTP/1.1, and the upstream sees nothing of it.
func TestWebSocketNotEnabled(t *testing.T) {
	withFrameEngines(t, func(r *frameReply) {
		if r.path != "/path/next" {
			t.Errorf("the upstream got %s", r.path)
		}
		r.headers(false, ":status", "200", "content-length", "2")
		r.data(true, "ok")
	}, func(t *testing.T, f *front) {
		c := dialRaw(t, f.addr, false)
		c.send(wsHandshake("/ws/echo"))
		resp, _ := c.response("GET")
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Muxgate-Error") != "no_extended_connect" || resp.Close {
			t.Fatalf("got %d %q close %v, want 502 no_extended_connect, kept alive", resp.StatusCode, resp.Header.Get("X-Muxgate-Error"), resp.Close)
		}
		c.send("GET /path/next HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "ok" {
			t.Errorf("next request: got %d %q, want 200 ok", resp.StatusCode, body)
		}
	})
}

// TestBinaryDemoWebSocket: the binary's demo upstream takes a WebSocket on /websocket, although
// x/net's server announces extended CONNECT only with a GODEBUG setting that the binary's
// environment does not have: -demo adds it.
func TestBinaryDemoWebSocket(t *testing.T) {
	p := startBinaryEnv(t, []string{"GODEBUG="}, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json")
	addrs, _ := p.waitServing(1)
	cfg, err := websocket.NewConfig("ws://"+addrs[0]+"/websocket", "http://"+addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, p.stderrText())
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(rawDeadline))
	var got string
	if err := websocket.Message.Send(ws, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := websocket.Message.Receive(ws, &got); err != nil || got != "hello" {
		t.Fatalf("got %q, %v; want hello", got, err)
	}
}

// TestWebSocketDrainLogged: a drain sends an open WebSocket's client a Close of status 1001 at
// once; a client that does not answer it is cut at the drain's deadline, and the access log says
// so (101, shutdown_timeout).
func TestWebSocketDrainLogged(t *testing.T) {
	accessLog := filepath.Join(t.TempDir(), "access.log")
	p := startBinaryEnv(t, []string{"GODEBUG="}, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json",
		"-access-log", accessLog, "-access-log-flush", "0", "-shutdown-timeout", "200ms")
	addrs, _ := p.waitServing(1)
	c := dialRaw(t, addrs[0], false)
	c.send(strings.Replace(wsHandshake("/websocket"), "Sec-WebSocket-Protocol: chat, superchat\r\n", "", 1))
	if resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"}); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: got %v, %v; want 101", resp, err)
	}
	p.signal(syscall.SIGTERM)
	c.readExactly("\x88\x02\x03\xe9")
	c.expectClosed()
	p.wait(20 * time.Second)
	log, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), `"status":101`) || !strings.Contains(string(log), `"error":"shutdown_timeout"`) {
		t.Errorf("access log:\n%s\nwant the WebSocket logged 101 shutdown_timeout", log)
	}
}

// TestWebSocketRetried: an extended CONNECT that the upstream refused unprocessed
// (REFUSED_STREAM, RFC 9113 8.7) is sent again, and the WebSocket's bytes all go on the stream
// that was answered, none to the refused one, whose sender waited for them too.
func TestWebSocketRetried(t *testing.T) {
	enable := []http2.Setting{{ID: http2.SettingEnableConnectProtocol, Val: 1}}
	var mu sync.Mutex
	attempts := 0
	answer := func(r *frameReply) {
		mu.Lock()
		attempts++
		first := attempts == 1
		mu.Unlock()
		if protocol, _ := r.field(":protocol"); protocol != "websocket" {
			t.Errorf("the upstream got :protocol %q", protocol)
		}
		if first {
			r.reset(http2.ErrCodeRefusedStream)
			return
		}
		r.headers(false, ":status", "200")
		go func() {
			body, ok := r.requestBody()
			if ok {
				r.data(true, strings.ToUpper(body))
			}
		}()
	}
	for _, engine := range []string{"", "x/net"} {
		t.Run("engine "+engine, func(t *testing.T) {
			attempts = 0
			cfg := testConfig(startFrameUpstreamWith(t, enable, answer))
			cfg.Pool.H2Engine = engine
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			c.send(strings.Replace(wsHandshake("/ws"), "Sec-WebSocket-Protocol: chat, superchat\r\n", "", 1))
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("got %v, %v; want 101", resp, err)
			}
			c.send("all of it")
			c.closeWrite()
			c.readExactly("ALL OF IT")
			c.expectClosed()
			mu.Lock()
			defer mu.Unlock()
			if attempts != 2 {
				t.Errorf("the upstream got %d extended CONNECTs, want 2", attempts)
			}
		})
	}
}

// TestWebSocketHalfClose: an upstream that ends its side first (END_STREAM, or a FIN over HTTP/3,
// after its 2xx) leaves the client's side open, as a TCP half-close does (RFC 8441 5, RFC 9220 3):
// what the client sends after it still reaches the upstream, until the client ends its side too;
// over both HTTP/2 engines and over HTTP/3.
func TestWebSocketHalfClose(t *testing.T) {
	enable := []http2.Setting{{ID: http2.SettingEnableConnectProtocol, Val: 1}}
	for _, tc := range []struct {
		name   string
		engine string
		// start starts an upstream that answers 200, sends "bye", ends its side, and then sends
		// to got what it read of the request until its end.
		start func(t *testing.T, got chan<- string) *upstream
	}{
		{name: "h2c own", start: func(t *testing.T, got chan<- string) *upstream {
			return startFrameUpstreamWith(t, enable, halfCloseFrames(got))
		}},
		{name: "h2c x/net", engine: "x/net", start: func(t *testing.T, got chan<- string) *upstream {
			return startFrameUpstreamWith(t, enable, halfCloseFrames(got))
		}},
		{name: "h3", start: func(t *testing.T, got chan<- string) *upstream {
			return startUpstream(t, upstreamKinds[2], demo.Options{Handler: halfCloseH3(got)})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			cfg := testConfig(tc.start(t, got))
			cfg.Pool.H2Engine = tc.engine
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			c.send(strings.Replace(wsHandshake("/ws"), "Sec-WebSocket-Protocol: chat, superchat\r\n", "", 1))
			if resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"}); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("got %v, %v; want 101", resp, err)
			}
			c.readExactly("bye")
			if _, err := c.br.ReadByte(); err != io.EOF {
				t.Fatalf("after bye: got %v, want io.EOF", err)
			}
			c.send("late words")
			c.closeWrite()
			select {
			case body := <-got:
				if body != "late words" {
					t.Errorf("the upstream got %q after the end of its side, want late words", body)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("the upstream got no end of the client's side")
			}
			c.expectClosed()
		})
	}
}

// halfCloseFrames answers an extended CONNECT with 200 and "bye" with END_STREAM, and then sends
// to got the request body up to its END_STREAM.
func halfCloseFrames(got chan<- string) func(r *frameReply) {
	return func(r *frameReply) {
		r.headers(false, ":status", "200")
		r.data(true, "bye")
		go func() {
			body, _ := r.requestBody()
			got <- body
		}()
	}
}

// halfCloseH3 is halfCloseFrames over HTTP/3: it takes the stream from quic-go's server
// (http3.HTTPStreamer), whose Close ends only the sending side (a FIN) where returning from the
// handler would also stop the receiving one (STOP_SENDING, H3_NO_ERROR).
func halfCloseH3(got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tunneltest.Protocol(r) != "websocket" {
			http.Error(w, "not an extended CONNECT: "+r.Method+" "+r.Proto, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		str, err := w.(http3.HTTPStreamer).HTTPStream()
		if err != nil {
			got <- "taking the stream: " + err.Error()
			return
		}
		io.WriteString(str, "bye")
		str.Close()
		body, err := io.ReadAll(str)
		if err != nil {
			body = append(body, " (then "+err.Error()+")"...)
		}
		got <- string(body)
	}
}

// TestWebSocketSlowReader: a client that takes none of what the upstream sends is cut off after
// -write-timeout, as one that takes none of a response is, and the access log blames it.
func TestWebSocketSlowReader(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			f, access := startWSGateway(t, k, func(cfg *gateway.Config) { cfg.Front.WriteTimeout = 300 * time.Millisecond })
			c := dialRaw(t, f.addr, false)
			c.send(wsHandshake("/ws/flood"))
			readSwitch(t, c)
			if !access.await(20*time.Second, func(log string) bool { return strings.Contains(log, `"status":101`) }) {
				t.Fatalf("no access-log line for the WebSocket")
			}
			if log := access.String(); !strings.Contains(log, `"error":"client_write"`) {
				t.Errorf("access log %q, want the WebSocket logged client_write", log)
			}
		})
	}
}

// TestWebSocketClientGone: a client that resets its connection mid-WebSocket is logged as a client
// that closed.
func TestWebSocketClientGone(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			f, access := startWSGateway(t, k, func(*gateway.Config) {})
			c := dialRaw(t, f.addr, false)
			c.send(wsHandshake("/ws/echo"))
			readSwitch(t, c)
			c.send("hi")
			c.readExactly("HI")
			c.c.(*net.TCPConn).SetLinger(0)
			c.c.Close() // a reset
			if !access.await(10*time.Second, func(log string) bool { return strings.Contains(log, `"status":101`) }) {
				t.Fatalf("no access-log line for the WebSocket")
			}
			if log := access.String(); !strings.Contains(log, `"error":"client_closed"`) {
				t.Errorf("access log %q, want the WebSocket logged client_closed", log)
			}
		})
	}
}
