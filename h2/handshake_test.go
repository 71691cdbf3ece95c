package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"muxgate/internal/pool"
)

// endingUpstream is an h2c upstream on a loopback listener that ends its first few connections
// before serving them, as a server does whose old process accepted them while being replaced.
type endingUpstream struct {
	addr     string
	tls      *tls.Config // client config trusting the server; nil for h2c
	accepted atomic.Int64
}

// endings are the ways an upstream ends a connection it accepted, before the session is up.
var endings = map[string]func(c net.Conn){
	"close": func(c net.Conn) { c.Close() },
	"reset": func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0) // RST rather than FIN
		c.Close()
	},
	// Apache's old children answer a new connection with their SETTINGS and a GOAWAY that
	// takes no stream, and close it. What the client sent is read to its close (or for a
	// second at most), so that the close is a FIN: a close with the client's frames unread
	// would be a reset, which may discard the SETTINGS and GOAWAY before the client reads them.
	"goaway": func(c net.Conn) {
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err == nil {
			fr := http2.NewFramer(c, nil)
			fr.WriteSettings()
			fr.WriteGoAway(0, http2.ErrCodeNo, nil)
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(time.Second))
			io.Copy(io.Discard, c)
		}
		c.Close()
	},
}

// startEndingUpstream serves GETs with "hello" on 127.0.0.1:0, over TLS if useTLS, after ending
// the first n connections with end (before any TLS), until the test ends.
func startEndingUpstream(t *testing.T, n int64, end func(net.Conn), useTLS bool) *endingUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &endingUpstream{addr: ln.Addr().String()}
	var serverTLS *tls.Config
	if useTLS {
		cert, roots := selfSigned(t)
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{http2.NextProtoTLS}}
		u.tls = &tls.Config{RootCAs: roots}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	serveConns(t, ln, &u.accepted, func(c net.Conn) net.Conn {
		switch {
		case u.accepted.Load() <= n:
			end(c)
			return nil
		case serverTLS != nil:
			return tls.Server(c, serverTLS)
		}
		return c
	}, &http2.Server{}, h)
	return u
}

// pool returns a pool of e's sessions to u.
func (u *endingUpstream) pool(t *testing.T, e Engine) *Pool {
	return newRealPool(t, upstream{addr: u.addr, tls: u.tls}, Config{Engine: e})
}

// get sends a GET to u through p.
func (u *endingUpstream) get(p *Pool) (*http.Response, error) {
	scheme := "http"
	if u.tls != nil {
		scheme = "https"
	}
	req, _ := http.NewRequest("GET", scheme+"://"+u.addr+"/", nil)
	return p.RoundTrip(req)
}

// TestDialAgainAfterConnectionEnded: a connection the upstream accepted and ended before the
// session was up is dialled once more at once, so that the request waiting for it is served,
// on either engine, however the upstream ended it, before TLS too. Two such in a row fail the
// dial, and the request, without a third.
func TestDialAgainAfterConnectionEnded(t *testing.T) {
	type ending struct {
		name   string
		end    func(net.Conn)
		useTLS bool
	}
	var once []ending
	for name, end := range endings {
		once = append(once, ending{name, end, false})
	}
	once = append(once, ending{"tls close", endings["close"], true}, ending{"tls reset", endings["reset"], true})
	for _, e := range engines {
		for _, en := range once {
			t.Run(e.name()+"/"+en.name, func(t *testing.T) {
				u := startEndingUpstream(t, 1, en.end, en.useTLS)
				res, err := u.get(u.pool(t, e))
				if err != nil {
					t.Fatalf("after one connection ended: %v", err)
				}
				if body := readAll(t, res); body != "hello" {
					t.Errorf("body %q", body)
				}
				if n := u.accepted.Load(); n != 2 {
					t.Errorf("%d connections, want the ended one and one more", n)
				}
			})
		}
		for _, name := range []string{"close", "reset"} {
			t.Run(e.name()+"/"+name+" twice", func(t *testing.T) {
				u := startEndingUpstream(t, 2, endings[name], false)
				if _, err := u.get(u.pool(t, e)); !errors.Is(err, pool.ErrUnavailable) {
					t.Errorf("err %v, want ErrUnavailable", err)
				}
				if n := u.accepted.Load(); n != 2 {
					t.Errorf("%d connections, want 2: one dial again at once, no more", n)
				}
			})
		}
	}
}

// TestEndedInHandshake: which dial errors make dial try again.
func TestEndedInHandshake(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{fmt.Errorf("h2: a:1: no answer to the first PING: %w", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}), true},
		{fmt.Errorf("h2: a:1: %w", http2.GoAwayError{ErrCode: http2.ErrCodeNo}), true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{context.DeadlineExceeded, false},
		{errors.New(`server chose ALPN protocol "", want "h2"`), false},
	} {
		if got := endedInHandshake(tc.err); got != tc.want {
			t.Errorf("endedInHandshake(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestUpstreamEndsEverySession: an upstream that answers every connection with a GOAWAY that
// takes no stream gets two connections for a request, on either engine (x/net's dial fails
// without the first PING's answer and dials once more; muxgate's own takes each session on its
// SETTINGS and the pool replaces the first that ends unused at once), and the request fails as
// for an unreachable upstream. A request right after it fails at once, with no connection.
func TestUpstreamEndsEverySession(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name(), func(t *testing.T) {
			u := startEndingUpstream(t, 1<<30, endings["goaway"], false)
			p := u.pool(t, e)
			for i := range 2 {
				if _, err := u.get(p); !errors.Is(err, pool.ErrUnavailable) {
					t.Errorf("request %d: %v, want ErrUnavailable", i, err)
				}
				if n := u.accepted.Load(); n != 2 {
					t.Errorf("after request %d: %d connections, want 2", i, n)
				}
			}
		})
	}
}
