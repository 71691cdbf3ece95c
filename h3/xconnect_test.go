package h3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"muxgate/certs"
	"muxgate/internal/pool"
	"muxgate/internal/tunneltest"
)

// tunnelRequest is tunneltest.Request with info in its context.
func tunnelRequest(t *testing.T, info *pool.Info, protocol, target string, body io.ReadCloser) *http.Request {
	t.Helper()
	req, err := tunneltest.Request(pool.WithInfo(context.Background(), info), protocol, target, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestH3ExtendedConnectEcho: an extended CONNECT reaches quic-go's server as
// one (RFC 9220), which gives the handler Method CONNECT and the protocol as
// r.Proto; the bytes written into its body come back through the response
// body while the request is still open, and the body's EOF ends the response.
func TestH3ExtendedConnectEcho(t *testing.T) {
	echo := tunneltest.Echo("websocket")
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.URL.Path+" "+r.Header.Get("Sec-Websocket-Version"))
		echo(w, r)
	}))
	p := newTestPool(t, u, Config{})
	pr, pw := io.Pipe()
	req := tunnelRequest(t, new(pool.Info), "websocket", "https://"+u.addr+"/chat", pr)
	req.Header.Set("Sec-Websocket-Version", "13")
	res, err := p.RoundTrip(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("RoundTrip = %v, %v; want 200", res, err)
	}
	defer res.Body.Close()
	if got := res.Header.Get("X-Seen"); got != "/chat 13" {
		t.Errorf("upstream saw %q, want /chat 13", got)
	}
	for _, msg := range []string{"hello", "world"} {
		pw.Write([]byte(msg))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, buf, err)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(res.Body); err != nil || len(rest) != 0 {
		t.Errorf("after the request body's EOF: %q, %v; want EOF", rest, err)
	}
}

// TestH3PlainConnect: a CONNECT whose Proto names an HTTP version, as an
// HTTP/1.0 client's does, stays a plain CONNECT (RFC 9114 4.4), which
// quic-go would otherwise send with that version as :protocol.
func TestH3PlainConnect(t *testing.T) {
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Method+" "+r.Proto+" "+r.Host)
	}))
	p := newTestPool(t, u, Config{})
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1", "HTTP/2.0", ""} {
		req := tunnelRequest(t, new(pool.Info), proto, "https://"+u.addr, nil)
		req.URL, req.Host, req.Body = &url.URL{Host: "example.test:443"}, "example.test:443", nil
		res, err := p.RoundTrip(req)
		if err != nil {
			t.Fatalf("Proto %q: %v", proto, err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Seen"); got != "CONNECT HTTP/3.0 example.test:443" {
			t.Errorf("Proto %q: upstream saw %q, want a plain CONNECT to example.test:443", proto, got)
		}
	}
}

// TestH3ExtendedConnectNotEnabled: an extended CONNECT to an upstream whose
// SETTINGS do not enable it (RFC 9220 3) fails with pool.ErrNoExtendedConnect
// after one attempt, and opens no stream.
func TestH3ExtendedConnectNotEnabled(t *testing.T) {
	u, streams := startSettingsOnly(t)
	p := newTestPool(t, u, Config{})
	info := new(pool.Info)
	pr, pw := io.Pipe()
	defer pw.Close()
	_, err := p.RoundTrip(tunnelRequest(t, info, "websocket", "https://"+u.addr+"/chat", pr))
	if !errors.Is(err, pool.ErrNoExtendedConnect) || info.Attempts != 1 {
		t.Errorf("RoundTrip = %v after %d attempts, want pool.ErrNoExtendedConnect after 1", err, info.Attempts)
	}
	if n := streams.Load(); n != 0 || u.accepted.Load() != 1 {
		t.Errorf("upstream saw %d request streams on %d connections, want none on 1", n, u.accepted.Load())
	}
	if _, err := pw.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("writing the request body: %v, want ErrClosedPipe (body closed)", err)
	}
}

// startSettingsOnly is an HTTP/3 server on a loopback port that sends an
// empty SETTINGS frame on its control stream (RFC 9114 6.2.1, 7.2.4), so
// nothing is enabled, and counts the request streams opened, which it
// never answers.
func startSettingsOnly(t *testing.T) (*upstream, *atomic.Int64) {
	t.Helper()
	cert, err := certs.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{http3.NextProtoH3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String(), tls: &tls.Config{RootCAs: certs.Pool(cert)}, ln: ln}
	var streams atomic.Int64
	u.wg.Go(func() {
		for {
			c, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.wg.Go(func() {
				defer c.CloseWithError(0, "")
				ctrl, err := c.OpenUniStream()
				if err != nil {
					return
				}
				ctrl.Write([]byte{0x00, 0x04, 0x00}) // control stream type, SETTINGS, length 0
				for {
					if _, err := c.AcceptStream(context.Background()); err != nil {
						return
					}
					streams.Add(1)
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u, &streams
}

// interims records the informational responses a request got (pool.Interim).
type interims struct {
	mu    sync.Mutex
	codes []int
	links []string
}

func (in *interims) Got1xx(code int, h http.Header) {
	in.mu.Lock()
	in.codes = append(in.codes, code)
	in.links = append(in.links, h.Get("Link"))
	in.mu.Unlock()
}

// TestH3ExtendedConnectInterim: the interim responses before an extended CONNECT's 2xx go to the
// request's pool.Interim, in order; more than quic-go's RoundTrip takes (5) fail the request.
func TestH3ExtendedConnectInterim(t *testing.T) {
	echo := tunneltest.Echo("websocket")
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for i := range n {
			w.Header().Set("Link", fmt.Sprintf("</%d>; rel=preload", i))
			w.WriteHeader(http.StatusEarlyHints)
		}
		w.Header().Del("Link")
		echo(w, r)
	}))
	p := newTestPool(t, u, Config{})
	for _, n := range []int{2, 5, 6} {
		in := new(interims)
		pr, pw := io.Pipe()
		req := tunnelRequest(t, &pool.Info{Interim: in}, "websocket", fmt.Sprintf("https://%s/chat?n=%d", u.addr, n), pr)
		res, err := p.RoundTrip(req)
		pw.Close()
		if n > 5 {
			if !errors.Is(err, errTooMany1xx) {
				if err == nil {
					res.Body.Close()
				}
				t.Errorf("%d interim responses: RoundTrip error %v, want errTooMany1xx", n, err)
			}
			continue
		}
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%d interim responses: RoundTrip = %v, %v; want 200", n, res, err)
		}
		res.Body.Close()
		in.mu.Lock()
		if len(in.codes) != n {
			t.Errorf("%d interim responses: got %v", n, in.codes)
		}
		for i, link := range in.links {
			if want := fmt.Sprintf("</%d>; rel=preload", i); in.codes[i] != http.StatusEarlyHints || link != want {
				t.Errorf("interim response %d: %d with Link %q, want 103 with %q", i, in.codes[i], link, want)
			}
		}
		in.mu.Unlock()
	}
}

// TestH3ExtendedConnectCancelled: once an extended CONNECT's context ends, its tunnel is reset
// both ways with H3_REQUEST_CANCELLED (RFC 9220 3): the response body's Read fails with the
// context's error, and the upstream's read of the request body fails.
func TestH3ExtendedConnectCancelled(t *testing.T) {
	upstreamErr := make(chan error, 1)
	u := startUpstream(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		_, err := io.ReadAll(r.Body)
		upstreamErr <- err
	}))
	p := newTestPool(t, u, Config{})
	ctx, cancel := context.WithCancel(pool.WithInfo(context.Background(), new(pool.Info)))
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := tunneltest.Request(ctx, "websocket", "https://"+u.addr+"/chat", pr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.RoundTrip(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("RoundTrip = %v, %v; want 200", res, err)
	}
	defer res.Body.Close()
	pw.Write([]byte("hi")) // returns once the sender has read it
	cancel()
	if _, err := io.ReadAll(res.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("response body read after the cancel: %v, want context.Canceled", err)
	}
	err = <-upstreamErr
	if he, ok := errors.AsType[*http3.Error](err); !ok || he.ErrorCode != http3.ErrCodeRequestCanceled {
		t.Errorf("upstream's read of the request body: %v, want H3_REQUEST_CANCELLED", err)
	}
}
