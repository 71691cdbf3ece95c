//go:build unix

package integration

import (
	"fmt"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestLimitsAndBadRequests: a request over a limit or malformed gets its status and a close, the
// upstream never sees it, and the gateway serves the next connection normally.
func TestLimitsAndBadRequests(t *testing.T) {
	const (
		maxHeaderBytes = 4096
		maxHeaderCount = 20
		maxURIBytes    = 1024
	)
	manyFields := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-Field-%d: v\r\n", i)
		}
		return b.String()
	}
	cases := []struct {
		name    string
		request string
		status  string
	}{
		{"header bytes", "GET /path/a HTTP/1.1\r\nHost: example.test\r\nX-Big: " + strings.Repeat("a", maxHeaderBytes+100) + "\r\n\r\n", "431 Request Header Fields Too Large"},
		{"header bytes in many fields", "GET /path/a HTTP/1.1\r\nHost: example.test\r\n" + strings.Repeat("X-Medium: "+strings.Repeat("m", 400)+"\r\n", 15) + "\r\n", "431 Request Header Fields Too Large"},
		{"header count", "GET /path/a HTTP/1.1\r\nHost: example.test\r\n" + manyFields(maxHeaderCount+5) + "\r\n", "431 Request Header Fields Too Large"},
		{"uri length", "GET /path/" + strings.Repeat("u", maxURIBytes+10) + " HTTP/1.1\r\nHost: example.test\r\n\r\n", "414 URI Too Long"},
		{"request line without version", "GET /path/a\r\nHost: example.test\r\n\r\n", "400 Bad Request"},
		{"request line with two spaces", "GET  /path/a HTTP/1.1\r\nHost: example.test\r\n\r\n", "400 Bad Request"},
		{"request line garbage", "\x01\x02 nonsense\r\n\r\n", "400 Bad Request"},
		{"header without colon", "GET /path/a HTTP/1.1\r\nHost: example.test\r\nNoColonHere\r\n\r\n", "400 Bad Request"},
		{"space before colon", "GET /path/a HTTP/1.1\r\nHost: example.test\r\nX-Bad : v\r\n\r\n", "400 Bad Request"},
		{"no host", "GET /path/a HTTP/1.1\r\n\r\n", "400 Bad Request"},
		{"two hosts", "GET /path/a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", "400 Bad Request"},
		{"content-length and transfer-encoding", "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 Bad Request"},
		{"two content-lengths", "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400 Bad Request"},
		{"content-length list", "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5, 6\r\n\r\nhello!", "400 Bad Request"},
		{"negative content-length", "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: -5\r\n\r\nhello", "400 Bad Request"},
		{"transfer-encoding gzip", "POST /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: gzip\r\n\r\nhello", "400 Bad Request"},
		{"transfer-encoding chunked then gzip", "POST /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", "400 Bad Request"},
	}
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.Front.MaxHeaderBytes = maxHeaderBytes
			cfg.Front.MaxHeaderCount = maxHeaderCount
			cfg.Front.MaxURIBytes = maxURIBytes
			f := startGateway(t, cfg)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					before := u.Requests()
					conn := dialRaw(t, f.addr, false)
					conn.send(c.request)
					resp, _ := conn.response("GET")
					wantStatus(t, resp, c.status)
					conn.expectClosed()
					if n := u.Requests() - before; n != 0 {
						t.Errorf("the upstream saw %d requests, want 0", n)
					}

					ok := dialRaw(t, f.addr, false)
					ok.send("GET /path/after HTTP/1.1\r\nHost: example.test\r\n\r\n")
					resp, body := ok.response("GET")
					if resp.StatusCode != 200 || body != "/path/after" {
						t.Errorf("next request: status %d body %q, want 200 /path/after", resp.StatusCode, body)
					}
				})
			}
			t.Run("within limits", func(t *testing.T) {
				// The limits are inclusive: a request at each of them passes.
				conn := dialRaw(t, f.addr, false)
				conn.send("GET /path/" + strings.Repeat("u", maxURIBytes-len("/path/")) + " HTTP/1.1\r\nHost: example.test\r\n" + manyFields(maxHeaderCount-1) + "\r\n")
				resp, body := conn.response("GET")
				if resp.StatusCode != 200 || len(body) != maxURIBytes {
					t.Errorf("status %d, body of %d bytes; want 200 and %d bytes", resp.StatusCode, len(body), maxURIBytes)
				}
			})
		})
	}
}
