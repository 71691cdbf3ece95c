package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"golang.org/x/net/http2/hpack"

	"muxgate/internal/fieldlist"
	"muxgate/internal/godebugtest"
	"muxgate/internal/pool"
	"muxgate/internal/tunneltest"
)

// tunnelRequest is tunneltest.Request with info in its context.
func tunnelRequest(t testing.TB, info *pool.Info, protocol, target string, body io.ReadCloser) *http.Request {
	t.Helper()
	req, err := tunneltest.Request(pool.WithInfo(context.Background(), info), protocol, target, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// echoTunnel is tunneltest.Echo with X-Seen saying what it saw of the request.
func echoTunnel(protocol string) http.Handler {
	echo := tunneltest.Echo(protocol)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.URL.Path+" "+r.Header.Get("Sec-Websocket-Version"))
		echo(w, r)
	})
}

// TestRealExtendedConnectEcho: through a pool of either engine, an extended
// CONNECT reaches x/net's server as one (RFC 8441 4), with its fields from a
// Header or from Info.Request; the bytes written into its body come back
// through the response body while the request is still open, and the body's
// EOF ends the response. The caller's Header is not changed.
func TestRealExtendedConnectEcho(t *testing.T) {
	if !godebugtest.Run(t, godebugtest.XConnect) {
		return
	}
	forBoth(t, func(t *testing.T, e Engine, useTLS bool) {
		u := startUpstream(t, useTLS, 0, echoTunnel("websocket"))
		p := newRealPool(t, u, Config{Engine: e})
		for _, list := range []bool{false, true} {
			info := new(pool.Info)
			pr, pw := io.Pipe()
			req := tunnelRequest(t, info, "websocket", scheme(u)+"://"+u.addr+"/chat", pr)
			shared := http.Header{"Sec-Websocket-Version": {"13"}}
			req.Header = shared
			if list {
				req.Header, info.Request = nil, []fieldlist.Field{{Name: "Sec-WebSocket-Version", Value: "13"}}
			}
			res, err := p.RoundTrip(req)
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("list %v: RoundTrip = %v, %v; want 200", list, res, err)
			}
			if got := res.Header.Get("X-Seen"); got != "/chat 13" {
				t.Errorf("list %v: upstream saw %q, want /chat 13", list, got)
			}
			for _, msg := range []string{"hello", "world"} {
				pw.Write([]byte(msg))
				buf := make([]byte, len(msg))
				if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != msg {
					t.Fatalf("list %v: echo of %q: %q, %v", list, msg, buf, err)
				}
			}
			pw.Close()
			if rest, err := io.ReadAll(res.Body); err != nil || len(rest) != 0 {
				t.Errorf("list %v: after the request body's EOF: %q, %v; want EOF", list, rest, err)
			}
			res.Body.Close()
			if len(shared) != 1 {
				t.Errorf("list %v: the caller's Header became %v", list, shared)
			}
		}
	})
}

// TestExtendedConnectNotEnabled: on either engine, an extended CONNECT to an
// upstream whose SETTINGS do not enable it (RFC 8441 3) fails with
// pool.ErrNoExtendedConnect after one attempt, and the upstream sees no
// stream.
func TestExtendedConnectNotEnabled(t *testing.T) {
	forEngines(t, func(t *testing.T, e Engine) {
		ps := &peers{onRequest: func(pr *fakePeer, stream uint32, _ []hpack.HeaderField) { pr.respond(stream, 200, "") }}
		p := newFakePool(t, Config{Engine: e, Limits: pool.Limits{MaxSessions: 2}}, ps)
		info := new(pool.Info)
		pr, pw := io.Pipe()
		defer pw.Close()
		_, err := p.RoundTrip(tunnelRequest(t, info, "websocket", "https://upstream.test/chat", pr))
		if !errors.Is(err, pool.ErrNoExtendedConnect) || info.Attempts != 1 {
			t.Errorf("RoundTrip = %v after %d attempts, want pool.ErrNoExtendedConnect after 1", err, info.Attempts)
		}
		if reqs, _ := ps.get(0).stats(); len(reqs) != 0 || ps.count() != 1 {
			t.Errorf("upstream saw streams %v on %d sessions, want none on 1", reqs, ps.count())
		}
		mustGet(t, p, 1, 1) // the session serves other requests
	})
}
