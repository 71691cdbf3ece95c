//go:build unix

package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/demo"
)

// TestMetrics: over each upstream kind, /metrics counts the answers by status code and reason
// (h1's own refusals included), the body bytes and the durations, and shows the upstream
// session; /healthz answers ok.
func TestMetrics(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.MetricsAddr = "127.0.0.1:0"
			f := startGateway(t, cfg)
			admin := "http://" + f.g.MetricsAddr().String()

			c := newClient(t)
			for range 3 {
				get(t, c, f.url(false)+"/bytes/100")
			}
			get(t, c, f.url(false)+"/status/404")
			rc := dialRaw(t, f.addr, false)
			rc.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
			if resp, _ := rc.response("GET"); resp.StatusCode != 400 {
				t.Errorf("two Host fields: got %d, want 400", resp.StatusCode)
			}
			// Clear text to the TLS listener: the handshake fails and the connection closes.
			plain, err := net.Dial("tcp", f.tlsAddr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(plain, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			plain.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, plain); err != nil {
				t.Errorf("clear text to the TLS listener: %v, want the connection closed", err)
			}
			plain.Close()

			proto := "h2"
			if k.h3 {
				proto = "h3"
			}
			m := scrape(t, admin)
			for name, want := range map[string]float64{
				`muxgate_requests_total{code="200"}`:                                           3,
				`muxgate_requests_total{code="404"}`:                                           1,
				`muxgate_requests_total{code="400"}`:                                           1,
				`muxgate_request_errors_total{reason="more_than_one_host_header"}`:             1,
				`muxgate_request_duration_seconds_count`:                                       4,
				`muxgate_response_body_bytes_total`:                                            300,
				`muxgate_request_body_bytes_total`:                                             0,
				`muxgate_upstream_sessions{proto="` + proto + `",state="open"}`:                1,
				`muxgate_upstream_sessions{proto="` + proto + `",state="draining"}`:            0,
				`muxgate_upstream_queued_requests{proto="` + proto + `"}`:                      0,
				`muxgate_upstream_sessions_opened_total{proto="` + proto + `"}`:                1,
				`muxgate_upstream_sessions_ended_total{proto="` + proto + `",reason="goaway"}`: 0,
				`muxgate_upstream_dial_failures{proto="` + proto + `"}`:                        0,
				`muxgate_draining`:                  0,
				`muxgate_client_tls_failures_total`: 1,
				`muxgate_upstream_retries_total`:    0,
			} {
				if got, ok := m[name]; !ok || got != want {
					t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
				}
			}
			if m["muxgate_client_connections_total"] < 3 {
				t.Errorf("muxgate_client_connections_total = %v, want the 3 connections made at least", m["muxgate_client_connections_total"])
			}
			if m["muxgate_client_connections"] < 1 {
				t.Errorf("muxgate_client_connections = %v, want the Go client's kept connection at least", m["muxgate_client_connections"])
			}
			// A response reaches the client before its request's stream and its place among the
			// active ones are given back, so these two are only checked for being there (the
			// drain test checks the active count with a request held).
			for _, name := range []string{`muxgate_upstream_streams{proto="` + proto + `"}`, "muxgate_client_requests_active",
				"go_goroutines", "process_resident_memory_bytes"} {
				if _, ok := m[name]; !ok {
					t.Errorf("no %s", name)
				}
			}

			resp, body := get(t, c, admin+"/healthz")
			if resp.StatusCode != 200 || body != "ok\n" {
				t.Errorf("/healthz: got %d %q, want 200 ok", resp.StatusCode, body)
			}
		})
	}
}

// TestMetricsWhileDraining: once the gateway drains, /healthz answers 503 and muxgate_draining is
// 1, while a request in flight is still being answered.
func TestMetricsWhileDraining(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "held")
	})
	u := startUpstream(t, upstreamKinds[0], demo.Options{Handler: mux})
	cfg := testConfig(u)
	cfg.MetricsAddr = "127.0.0.1:0"
	logs := &logBuffer{}
	cfg.Logger = zerolog.New(logs)
	g := serveUntilDrain(t, cfg)
	admin := "http://" + g.MetricsAddr().String()
	c := newClient(t)

	held := make(chan string, 1)
	go func() {
		resp, err := c.Get("http://" + g.Addrs()[0].String() + "/hold")
		if err != nil {
			held <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		held <- string(b)
	}()
	<-entered
	g.drain()
	if !logs.await(10*time.Second, func(log string) bool { return strings.Contains(log, `"draining"`) }) {
		t.Fatalf("the gateway did not start draining within 10s:\n%s", logs.String())
	}
	resp, body := get(t, c, admin+"/healthz")
	if resp.StatusCode != 503 || body != "draining\n" {
		t.Errorf("/healthz while draining: got %d %q, want 503 draining", resp.StatusCode, body)
	}
	m := scrape(t, admin)
	if m["muxgate_draining"] != 1 || m["muxgate_client_requests_active"] != 1 {
		t.Errorf("while draining: muxgate_draining %v, muxgate_client_requests_active %v; want 1 and 1",
			m["muxgate_draining"], m["muxgate_client_requests_active"])
	}
	close(release)
	if got := <-held; got != "held" {
		t.Errorf("the request in flight got %q, want its answer", got)
	}
	g.drained(t, cfg.ShutdownTimeout+5*time.Second, "the request in flight was answered")
}

// scrape fetches admin's /metrics and returns each sample by its name with labels, as the text
// format writes it (labels in name order): `name{a="x",b="y"}`.
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	m := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET /metrics: unreadable line %q", line)
		}
		m[line[:i]] = v
	}
	return m
}

// TestBinaryMetrics: -metrics-listen serves the metrics from the real binary, where its process
// log says, with the demo's requests counted.
func TestBinaryMetrics(t *testing.T) {
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-metrics-listen", "127.0.0.1:0", "-log-format", "json")
	addrs, _ := p.waitServing(1)
	l := waitLine(t, p.stderrLines, `"serving metrics" log line`, 20*time.Second, func(l logLine) bool {
		return l.str("message") == "serving metrics"
	})
	get(t, newClient(t), "http://"+addrs[0]+"/bytes/100")
	m := scrape(t, "http://"+l.str("listen"))
	if m[`muxgate_requests_total{code="200"}`] != 1 || m[`muxgate_upstream_sessions{proto="h2",state="open"}`] != 1 {
		t.Errorf(`muxgate_requests_total{code="200"} %v, open h2 sessions %v; want 1 and 1`,
			m[`muxgate_requests_total{code="200"}`], m[`muxgate_upstream_sessions{proto="h2",state="open"}`])
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
