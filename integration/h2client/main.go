// Command h2client sends one GET over an HTTP/2 session of muxgate's own (the h2 pool) and
// prints the response's status and size. It is the client that h2specd, the HTTP/2 client
// conformance suite, drives in integration/h2specd_test.go: h2specd runs it with the URL of a
// test server that answers with correct or broken frames.
//
// Usage: h2client [-linger d] URL. An http URL is h2c with prior knowledge, https is h2 over
// TLS (certificate not verified: the suite's server is throwaway). After the response, or the
// failure, the session stays open until the server closes it or -linger passes, as a gateway's
// long-lived session would, so that it answers what the server sends after the response
// (frames on closed streams, bad frames) before it is shut down.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"muxgate/h2"
	"muxgate/internal/pool"
)

func main() {
	linger := flag.Duration("linger", 1500*time.Millisecond, "how long the session stays open after the response, at most")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: h2client [-linger d] URL")
		os.Exit(2)
	}
	os.Exit(run(flag.Arg(0), *linger))
}

func run(target string, linger time.Duration) int {
	u, err := url.Parse(target)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := h2.Config{Address: u.Host, DialTimeout: 2 * time.Second, ResponseTimeout: 2 * time.Second}
	if u.Scheme == "https" {
		cfg.TLS = &tls.Config{InsecureSkipVerify: true}
	}
	p, err := h2.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	code := get(p, target)
	for end := time.Now().Add(linger); time.Now().Before(end) && open(p.State()); {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.Shutdown(ctx)
	return code
}

func get(p *h2.Pool, target string) int {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res, err := p.RoundTrip(req)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	fmt.Println(res.Status, n, "bytes", err)
	if err != nil {
		return 1
	}
	return 0
}

// open reports whether a session of the pool is still open.
func open(st pool.State) bool {
	for _, s := range st.Sessions {
		if !s.Closed {
			return true
		}
	}
	return false
}
