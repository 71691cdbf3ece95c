//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestUpstreamServerFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		err     string   // a substring of the error; empty: none
		targets []string // the rows run, when no error
	}{
		{args: nil, targets: defaultTargets},
		{args: []string{"-upstream-server", "nghttpd"},
			targets: slices.DeleteFunc(slices.Clone(defaultTargets), func(t string) bool { return t == "direct" })},
		{args: []string{"-upstream-server", "nghttpd", "-targets", "muxgate,nghttpx"}, targets: []string{"muxgate", "nghttpx"}},
		{args: []string{"-upstream-server", "nghttpd", "-targets", "muxgate,direct"}, err: "no direct row"},
		{args: []string{"-upstream-server", "nghttpd", "-targets", "muxgate,muxgate-h3"}, err: "no muxgate-h3 row"},
		{args: []string{"-upstream-server", "nghttpd", "-scenarios", "small,tls-upstream"}, err: "no tls-upstream scenario"},
		{args: []string{"-upstream-server", "caddy"}, err: `unknown "caddy"`},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one with %q", tc.args, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err == "" && !slices.Equal(o.targets, tc.targets):
			t.Errorf("%q: targets %q, want %q", tc.args, o.targets, tc.targets)
		}
	}
}

// TestNghttpd starts nghttpd as the bench would and fetches a body over h2c.
func TestNghttpd(t *testing.T) {
	bin, err := findTool("nghttpd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nghttpd (Debian: nghttp2-server) is required with CI=true: %v", err)
		}
		t.Skipf("skipping: %v (Debian: nghttp2-server); with CI=true this is a failure", err)
	}
	n, err := startNghttpd(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.proc.stop(5 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	if got := n.established(); got != 0 {
		t.Errorf("established before any client: %d", got)
	}
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + n.addr + "/bytes/100")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || len(body) != 100 {
		t.Fatalf("GET /bytes/100: status %d, %d bytes, %v", res.StatusCode, len(body), err)
	}
	if got := n.established(); got != 1 {
		t.Errorf("established with one client connection: %d", got)
	}
}

func TestMuxgateThreadsFlag(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.muxThreads != threads {
		t.Fatalf("default: %v, %d threads, want %d", err, o.muxThreads, threads)
	}
	if !strings.HasPrefix(threadsText(o.muxThreads), "2 worker threads each: muxgate GOMAXPROCS=2,") {
		t.Errorf("setup line %q", threadsText(o.muxThreads))
	}
	if o, err = parseFlags([]string{"-muxgate-threads", "1"}, io.Discard); err != nil || o.muxThreads != 1 {
		t.Fatalf("-muxgate-threads 1: %v, %d", err, o.muxThreads)
	}
	if got := threadsText(1); !strings.HasPrefix(got, "muxgate GOMAXPROCS=1 (-muxgate-threads); nghttpx workers=2") {
		t.Errorf("setup line %q", got)
	}
	if _, err := parseFlags([]string{"-muxgate-threads", "0"}, io.Discard); err == nil {
		t.Error("-muxgate-threads 0 accepted")
	}
}
