package h1

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// h2loadGET is what h2load sends for each request of an HTTP/1.1 run.
const h2loadGET = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: h2load nghttp2/1.52.0\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n"

func BenchmarkParseHead(b *testing.B) {
	src := strings.NewReader(h2loadGET)
	br := bufio.NewReaderSize(src, bufferSize)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(h2loadGET)
		br.Reset(src)
		raw, err := readHead(br, buf, defaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		buf = raw[:0]
		var h head
		if err := parseHead(&h, string(raw)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeepAlive measures one request and response on a kept-alive loopback connection,
// client included.
func BenchmarkKeepAlive(b *testing.B) {
	body := strings.Repeat("x", 100)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, body)
	})
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{}, h)
	go s.Serve(ln)
	defer s.Close()
	c := dial(b, ln.Addr().String())
	c.conn.SetDeadline(noDeadline)
	b.ReportAllocs()
	for b.Loop() {
		c.send(h2loadGET)
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
	}
}

// TestParseHeadAllocs pins the parser's allocations for a typical request: the head's string,
// the header map, the values' backing array, and the URL.
func TestParseHeadAllocs(t *testing.T) {
	src := strings.NewReader(h2loadGET)
	br := bufio.NewReaderSize(src, bufferSize)
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(h2loadGET)
		br.Reset(src)
		raw, err := readHead(br, buf, defaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		var h head
		if err := parseHead(&h, string(raw)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("got %.0f allocations per head, want at most 5", allocs)
	}
}
