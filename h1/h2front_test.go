package h1

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestHTTP2Front: with HTTP2, a client that chooses h2 is served HTTP/2 on the same listener as
// HTTP/1.1 clients, by the same handler; CONNECT is refused; a Shutdown lets a request in flight
// finish and then ends the connection.
func TestHTTP2Front(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, r.Proto+" "+r.URL.Path)
	})
	cert, pool := selfSigned(t)
	inner, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	s := New(Config{Logger: testLogger(t), HTTP2: true}, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	addr := "https://" + ln.Addr().String()

	h2c := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}, Timeout: safetyNet}
	h1c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: safetyNet}
	for name, c := range map[string]*http.Client{"HTTP/2.0": h2c, "HTTP/1.1": h1c} {
		resp, err := c.Get(addr + "/a")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != name || string(b) != name+" /a" {
			t.Errorf("%s client: %s %q", name, resp.Proto, b)
		}
	}
	req, _ := http.NewRequest(http.MethodConnect, addr, nil)
	req.Host = "example.test:443"
	if resp, err := h2c.Do(req); err != nil || resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("CONNECT over HTTP/2: %v, %v; want 501", resp, err)
	}
	if st := s.State(); st.Requests != 2 {
		t.Errorf("%d requests counted, want the 2 served", st.Requests)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := h2c.Get(addr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	close(release)
	if got := <-slow; got != "HTTP/2.0 /slow" {
		t.Errorf("the request in flight at Shutdown: %q", got)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(safetyNet):
		t.Fatal("Shutdown did not end after the HTTP/2 connection's last stream")
	}
	if err := <-served; err != http.ErrServerClosed && !strings.Contains(err.Error(), "closed") {
		t.Errorf("Serve: %v", err)
	}
}

// TestHTTP2FrontRate: over HTTP/2, a request past the address's allowance gets 429 with
// Retry-After on its stream, and the connection serves on.
func TestHTTP2FrontRate(t *testing.T) {
	cert, pool := selfSigned(t)
	inner, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	s := New(Config{Logger: testLogger(t), HTTP2: true, RequestRatePerIP: 0.01, RequestBurstPerIP: 1}, text)
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	c := &http.Client{Transport: tr, Timeout: safetyNet}
	var codes []int
	for range 3 {
		resp, err := c.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("a 429 without Retry-After")
		}
	}
	if codes[0] != 200 || codes[1] != 429 || codes[2] != 429 {
		t.Errorf("statuses %v, want 200, 429, 429 on one connection", codes)
	}
}

// TestHTTP2FrontOutlivesHeaderTimeout: an HTTP/2 connection lives past HeaderTimeout, which
// bounds an HTTP/1.x head only: a request answered after it, and one after that, on the same
// connection, are served.
func TestHTTP2FrontOutlivesHeaderTimeout(t *testing.T) {
	const headerTimeout = 200 * time.Millisecond
	cert, pool := selfSigned(t)
	inner, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	s := New(Config{Logger: testLogger(t), HTTP2: true, HeaderTimeout: headerTimeout}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			time.Sleep(3 * headerTimeout) // an answer that takes longer than HeaderTimeout
		}
		io.WriteString(w, r.URL.Path)
	}))
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	c := &http.Client{Transport: tr, Timeout: safetyNet}
	for _, path := range []string{"/first", "/late", "/after"} {
		resp, err := c.Get("https://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != path {
			t.Fatalf("GET %s: %q", path, b)
		}
	}
	if n := s.State().Accepted; n != 1 {
		t.Errorf("%d connections accepted, want the one, kept", n)
	}
}
