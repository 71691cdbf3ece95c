//go:build unix

package integration

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// smugglingCases are requests whose framing or routing two hops could read differently. Each is
// followed by a request that would be "smuggled" if anything read the first one leniently. All
// are answered 400 but CONNECT: muxgate makes no tunnels, and answers 501.
var smugglingCases = []struct {
	name string
	raw  string
}{
	{"CL.TE", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"},
	{"TE.CL", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"},
	{"TE space before colon", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{"TE tab before colon", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"},
	{"TE xchunked", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{"TE chunked, identity", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
	{"TE identity, chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n"},
	{"TE twice", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"},
	{"TE vertical tab", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n"},
	{"TE after leading space", "POST /echo HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE obs-fold", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
	{"TE with parameter", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n"},
	{"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"CL twice, different", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 8\r\n\r\nabcSMUGGLED"},
	{"CL list, different", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 8\r\n\r\nabcSMUGGLED"},
	{"CL signed +", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc"},
	{"CL signed -", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\nabc"},
	{"CL inner space", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1 1\r\n\r\nabcSMUGGLED"},
	{"CL space before colon", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc"},
	{"CL hex", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc"},
	{"CL overflow", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551619\r\n\r\nabc"},
	{"chunk-size overflow", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n"},
	{"chunk-size negative", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n"},
	{"chunk data overrun", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcSMUGGLED\r\n0\r\n\r\n"},
	{"chunk line bare LF", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n"},
	{"bare LF", "GET /path/a HTTP/1.1\nHost: a\n\n"},
	{"bare LF after a field", "GET /path/a HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"},
	{"bare CR", "GET /path/a HTTP/1.1\rHost: a\r\n\r\n"},
	{"obs-fold", "GET /path/a HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n"},
	{"NUL in name", "GET /path/a HTTP/1.1\r\nHost: a\r\nX\x00Y: v\r\n\r\n"},
	{"CR in name", "GET /path/a HTTP/1.1\r\nHost: a\r\nX\rY: v\r\n\r\n"},
	{"space in name", "GET /path/a HTTP/1.1\r\nHost: a\r\nX Y: v\r\n\r\n"},
	{"NUL in value", "GET /path/a HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"},
	{"CR in value", "GET /path/a HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"},
	{"LF in value", "GET /path/a HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n"},
	{"space before colon", "GET /path/a HTTP/1.1\r\nHost : a\r\n\r\n"},
	{"two Hosts", "GET /path/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{"two Hosts, same", "GET /path/a HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
	{"Host list", "GET /path/a HTTP/1.1\r\nHost: a, b\r\n\r\n"},
	{"absolute form, other Host", "GET http://b/path/a HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"authority form, other Host", "CONNECT b:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"},
	{"no Host", "GET /path/a HTTP/1.1\r\n\r\n"},
	// Host values of allowed characters in a shape that is not uri-host [ ":" port ] (RFC 9112
	// 3.2); before, each went upstream as the :authority.
	{"Host IPv6 unclosed", "GET /path/a HTTP/1.1\r\nHost: [::1\r\n\r\n"},
	{"Host IPv6 without brackets", "GET /path/a HTTP/1.1\r\nHost: ::1\r\n\r\n"},
	{"Host two ports", "GET /path/a HTTP/1.1\r\nHost: a:80:80\r\n\r\n"},
	{"Host signed port", "GET /path/a HTTP/1.1\r\nHost: a:+80\r\n\r\n"},
	{"Host port over 65535", "GET /path/a HTTP/1.1\r\nHost: a:65616\r\n\r\n"},
	{"Host port without host", "GET /path/a HTTP/1.1\r\nHost: :80\r\n\r\n"},
	// Before, a CONNECT went upstream, and an upstream's 200 came back chunked (RFC 9110 9.3.6
	// forbids framing fields on it) with what the client sent for the tunnel dropped.
	{"CONNECT", "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"},
}

// smugglingStatus is the status of the smugglingCases not answered 400, by name.
var smugglingStatus = map[string]int{"CONNECT": http.StatusNotImplemented}

// TestSmugglingRefused: every framing or routing ambiguity is answered 400 (a CONNECT 501) with
// Connection: close, the connection is closed, and the upstream receives nothing: not the
// request, and not what follows it.
func TestSmugglingRefused(t *testing.T) {
	const smuggled = "GET /path/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	k := upstreamKinds[0]
	u := startUpstream(t, k, demo.Options{})
	f := startGateway(t, testConfig(u))
	for _, useTLS := range []bool{false, true} {
		addr := map[bool]string{false: f.addr, true: f.tlsAddr}[useTLS]
		t.Run(map[bool]string{false: "clear", true: "tls"}[useTLS], func(t *testing.T) {
			for _, tc := range smugglingCases {
				t.Run(tc.name, func(t *testing.T) {
					before := u.Requests()
					c := dialRaw(t, addr, useTLS)
					c.send(tc.raw + smuggled)
					resp, body := c.response("GET")
					want := cmp.Or(smugglingStatus[tc.name], http.StatusBadRequest)
					if resp.StatusCode != want || !resp.Close {
						t.Errorf("got %d close %v (%q), want %d with Connection: close", resp.StatusCode, resp.Close, body, want)
					}
					c.expectClosed()
					// The connection is closed: whatever the gateway sent upstream has arrived.
					if n := u.Requests() - before; n != 0 {
						t.Errorf("the upstream received %d requests, want none", n)
					}
				})
			}
		})
	}
	// The same connection-level checks leave ordinary requests alone.
	c := dialRaw(t, f.addr, false)
	c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "abc" {
		t.Errorf("valid chunked request with a tab before its value: got %d %q, want 200 abc", resp.StatusCode, body)
	}
}

// TestHopByHopNeverReachUpstream: an h2c upgrade request is served as the HTTP/1.1 request it
// also is (no 101), and Upgrade, HTTP2-Settings and the other hop-by-hop fields stay behind.
func TestHopByHopNeverReachUpstream(t *testing.T) {
	const request = "GET /headers HTTP/1.1\r\n" +
		"Host: example.test\r\n" +
		"Connection: Upgrade, HTTP2-Settings, X-Hop\r\n" +
		"Upgrade: h2c\r\n" +
		"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"TE: gzip\r\n" +
		"X-Hop: hop only\r\n" +
		"X-End-To-End: kept\r\n" +
		"\r\n"
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			f := startGateway(t, testConfig(u))
			c := dialRaw(t, f.addr, false)
			c.send(request)
			resp, body := c.response("GET")
			if resp.StatusCode != 200 || resp.Header.Get("Upgrade") != "" {
				t.Fatalf("got %d Upgrade %q, want 200 without an upgrade\n%s", resp.StatusCode, resp.Header.Get("Upgrade"), body)
			}
			got := headerLines(body)
			for _, name := range []string{"upgrade", "http2-settings", "connection", "keep-alive", "proxy-connection", "te", "x-hop"} {
				if v, ok := got[name]; ok {
					t.Errorf("the upstream got %s: %q, want it removed\n%s", name, v, body)
				}
			}
			if got["x-end-to-end"] != "kept" {
				t.Errorf("the upstream got x-end-to-end %q, want kept\n%s", got["x-end-to-end"], body)
			}
			// The connection stays HTTP/1.1 and usable.
			c.send("GET /path/next HTTP/1.1\r\nHost: example.test\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "/path/next" {
				t.Errorf("next request: got %d %q, want 200 /path/next", resp.StatusCode, body)
			}
		})
	}
}

// watched is an upstream handler whose /endless route writes until its request is cancelled
// and /upload reads its body to its end ("complete" and its length) or until that fails; each
// reports how its request ended.
type watched struct {
	ended chan string // what ended each request: "cancelled" or the body error
}

func (wt *watched) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.Handler())
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("e", 16<<10))
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write(chunk); err != nil {
				break
			}
			if rc.Flush() != nil {
				break
			}
		}
		<-r.Context().Done()
		wt.ended <- "cancelled"
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err == nil {
			wt.ended <- "complete " + strconv.FormatInt(n, 10)
			return
		}
		wt.ended <- "body failed"
	})
	return mux
}

// TestSlowClientsCut: over each upstream kind, a client that stops reading its response, and one
// that stops sending its body (408), are cut at their timeouts; their upstream streams are reset
// (the upstream's handler sees the end), and another client is served meanwhile.
func TestSlowClientsCut(t *testing.T) {
	const (
		timeout = time.Second
		bound   = 15 * time.Second // far above the timeouts; nothing waits for it to pass
	)
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) { slowClientsCut(t, k, timeout, bound) })
	}
}

// slowClientsCut is TestSlowClientsCut over upstream kind k.
func slowClientsCut(t *testing.T, k upstreamKind, timeout, bound time.Duration) {
	wt := &watched{ended: make(chan string, 4)}
	u := startUpstream(t, k, demo.Options{Handler: wt.handler()})
	cfg := testConfig(u)
	cfg.Front.WriteTimeout = timeout
	cfg.Front.BodyReadTimeout = timeout
	f := startGateway(t, cfg)

	waitEnd := func(what string) string {
		t.Helper()
		select {
		case how := <-wt.ended:
			return how
		case <-time.After(bound):
			t.Fatalf("%s: the upstream's request did not end within %v", what, bound)
			return ""
		}
	}

	t.Run("stops reading", func(t *testing.T) {
		c := dialRaw(t, f.addr, false)
		c.send("GET /endless HTTP/1.1\r\nHost: a\r\n\r\n")
		// Never read: the socket buffers fill, then the gateway's writes stall.
		start := time.Now()
		if r := getOther(t, f.addr); r != "/path/other" {
			t.Errorf("another client: got %q, want /path/other", r)
		}
		if how := waitEnd("stops reading"); how != "cancelled" {
			t.Errorf("upstream request ended %q, want cancelled", how)
		}
		t.Logf("upstream stream reset %v after the request", time.Since(start).Round(time.Millisecond))
	})

	t.Run("stops sending", func(t *testing.T) {
		c := dialRaw(t, f.addr, false)
		c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789")
		if r := getOther(t, f.addr); r != "/path/other" {
			t.Errorf("another client: got %q, want /path/other", r)
		}
		if how := waitEnd("stops sending"); how != "body failed" {
			t.Errorf("upstream request ended %q, want its body failed", how)
		}
		resp, _ := c.response("POST")
		if resp.StatusCode != 408 || !resp.Close {
			t.Errorf("got %d close %v, want 408 with Connection: close", resp.StatusCode, resp.Close)
		}
		c.expectClosed()
	})
}

// TestBodyLimit: with -max-body-bytes, over each upstream kind, a Content-Length beyond the limit
// is refused with 413 before anything goes upstream, a chunked body that passes it is cut (413,
// its upstream stream reset), and a body within it goes through whole, on the same connection as
// before. The cut request never reaches the upstream's handler whole: over HTTP/2 the handler
// sees its body fail; over HTTP/3 either quic-go's server drops the request before its handler
// runs (the reset came with the head), or the handler sees its body fail and answers all the same
// (a reset stops only the request's side), and the client still gets 413.
func TestBodyLimit(t *testing.T) {
	const limit = 1000
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			wt := &watched{ended: make(chan string, 4)}
			u := startUpstream(t, k, demo.Options{Handler: wt.handler()})
			cfg := testConfig(u)
			cfg.Front.MaxBodyBytes = limit
			f := startGateway(t, cfg)
			post := func(c *rawConn, n int) {
				c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n" + strings.Repeat("a", n))
			}
			// ended returns how the upstream's next request ended, skipping cut ones.
			ended := func() string {
				for {
					select {
					case how := <-wt.ended:
						if how != "body failed" {
							return how
						}
					case <-time.After(15 * time.Second):
						t.Fatal("the upstream's request did not end within 15s")
					}
				}
			}

			c := dialRaw(t, f.addr, false)
			c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(limit+1) + "\r\n\r\n")
			resp, _ := c.response("POST")
			wantStatus(t, resp, "413 Content Too Large")
			if !resp.Close {
				t.Errorf("Content-Length beyond: got no Connection: close, want it")
			}
			c.expectClosed()

			c = dialRaw(t, f.addr, false)
			post(c, limit)
			if resp, _ := c.response("POST"); resp.StatusCode != 200 || resp.Close {
				t.Errorf("body within: got %d close %v, want 200 on a kept connection", resp.StatusCode, resp.Close)
			}
			if how := ended(); how != "complete 1000" {
				t.Errorf("body within: the upstream's request ended %q, want complete 1000 (and no earlier request)", how)
			}

			chunk := fmt.Sprintf("%x\r\n%s\r\n", 600, strings.Repeat("b", 600))
			c.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk)
			resp, _ = c.response("POST")
			if resp.StatusCode != 413 || !resp.Close || resp.Header.Get("X-Muxgate-Error") != "client_body_too_large" {
				t.Errorf("chunked beyond: got %d close %v error %q, want 413 with Connection: close and client_body_too_large",
					resp.StatusCode, resp.Close, resp.Header.Get("X-Muxgate-Error"))
			}
			c.expectClosed()

			post(dialRaw(t, f.addr, false), limit-1)
			if how := ended(); how != "complete 999" {
				t.Errorf("after the cut: the upstream's next request ended %q, want complete 999 (the cut one never whole)", how)
			}
		})
	}
}

// getOther fetches /path/other on a connection of its own and returns the body.
func getOther(t *testing.T, addr string) string {
	t.Helper()
	c := dialRaw(t, addr, false)
	c.send("GET /path/other HTTP/1.1\r\nHost: a\r\n\r\n")
	_, body := c.response("GET")
	return body
}

// TestIdleConnectionsHeld: the real binary holds 10,000 idle keep-alive connections, each after
// one request, at a bounded cost in memory, and then serves a second request on every one of
// them. The file limit of the test process is raised to its hard limit first; the binary, a
// child, inherits it.
func TestIdleConnectionsHeld(t *testing.T) {
	const (
		conns   = 10000
		workers = 64
		// maxPerConn fails the test well above what the front end costs once the burst is over
		// (about 4.5 KiB per connection here; 6-8 KiB before the idle trim and the shallow idle
		// stack, 13 KiB before idle connections gave up their buffers and stacks).
		maxPerConn = 6 << 10
	)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < conns+1024 {
		t.Skipf("the hard file limit is %d, below the %d this test needs (raise ulimit -Hn)", lim.Cur, conns+1024)
	}
	p := startBinary(t, "-demo", "-listen", "127.0.0.1:0", "-log-format", "json", "-access-log", "off",
		"-max-conns", strconv.Itoa(conns+100), "-log-level", "debug")
	addrs, _ := p.waitServing(1)
	addr := addrs[0]
	before := rssOf(t, p.cmd.Process.Pid)

	held := make([]*rawConn, conns)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= conns {
					return
				}
				c, err := idleRequest(addr)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				held[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range held {
			c.c.Close()
		}
	})
	// The burst is over: once the process has given back what it no longer uses, what remains
	// is what idle connections cost.
	for drained := false; !drained; {
		select {
		case <-p.stderrLines: // lines logged during the burst
		default:
			drained = true
		}
	}
	waitLine(t, p.stderrLines, "settled idle trim", 20*time.Second, func(l logLine) bool {
		return l.str("message") == "idle: memory returned to the OS" && l.str("settled") == "true"
	})
	after := rssOf(t, p.cmd.Process.Pid)
	perConn := (after - before) / conns
	t.Logf("RSS %d KiB before, %d KiB with %d idle connections: %d bytes per connection", before>>10, after>>10, conns, perConn)
	if perConn > maxPerConn {
		t.Errorf("RSS grew %d bytes per idle connection, want at most %d", perConn, maxPerConn)
	}

	// Every connection is still open and serves its next request.
	next.Store(0)
	failed := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= conns {
					return
				}
				c := held[i]
				c.c.SetDeadline(time.Now().Add(rawDeadline))
				if _, err := io.WriteString(c.c, "GET /path/again HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
					failed <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				resp, err := http.ReadResponse(c.br, nil)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					if err == nil && (resp.StatusCode != 200 || string(b) != "/path/again") {
						err = fmt.Errorf("got %d %q, want 200 /path/again", resp.StatusCode, b)
					}
				}
				if err != nil {
					failed <- fmt.Errorf("connection %d, second request: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Error(err)
	}
}

// idleRequest opens a connection to addr and reads the response to one GET on it.
func idleRequest(addr string) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, rawDeadline)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(rawDeadline))
	if _, err := io.WriteString(c, "GET /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		if err == nil && (resp.StatusCode != 200 || resp.Close) {
			err = fmt.Errorf("got %d close %v, want 200 kept alive", resp.StatusCode, resp.Close)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return &rawConn{c: c, br: br}, nil
}

// rssOf is the resident set size of process pid, in bytes.
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc/%d/status: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) < 2 || f[1] != "kB" {
				t.Fatalf("unexpected VmRSS line %q", line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
