package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"

	"muxgate/certs"
)

// client returns an HTTP/2 client for s: prior knowledge in clear text, or TLS trusting cert.
func client(t *testing.T, cert *tls.Certificate) *http.Client {
	tr := &http2.Transport{}
	if cert == nil {
		tr.AllowHTTP = true
		tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	} else {
		tr.TLSClientConfig = &tls.Config{RootCAs: certs.Pool(*cert)}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func fetch(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != 200 || (resp.ProtoMajor != 2 && resp.ProtoMajor != 3) {
		t.Fatalf("GET %s: %s %s", url, resp.Proto, resp.Status)
	}
	return string(b)
}

func TestServeAndGoAway(t *testing.T) {
	cert, err := certs.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "h2c", true: "h2"}[useTLS], func(t *testing.T) {
			opt, scheme, cc := Options{}, "http://", (*tls.Certificate)(nil)
			if useTLS {
				opt.TLS, scheme, cc = certs.FromCertificates(cert).ServerConfig(), "https://", &cert
			}
			s, err := Listen("127.0.0.1:0", opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c := client(t, cc)
			base := scheme + s.Addr()

			if got := fetch(t, c, base+"/bytes/30"); got != "abcdefghijklmnopqrstuvwxyzabcd" {
				t.Errorf("/bytes/30: %q", got)
			}
			fetch(t, c, base+"/path/x")
			if s.Accepted() != 1 || s.Requests() != 2 || s.Peak() != 1 {
				t.Errorf("accepted %d, requests %d, peak %d; want 1, 2, 1", s.Accepted(), s.Requests(), s.Peak())
			}

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.GoAway(ctx); err != nil {
				t.Fatal(err)
			}
			// After GOAWAY the server takes no new stream on that connection.
			fetch(t, c, base+"/path/y")
			if s.Accepted() != 2 {
				t.Errorf("accepted %d after GOAWAY and a request, want 2", s.Accepted())
			}
		})
	}
}

func TestPeak(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s, err := Listen("127.0.0.1:0", Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := client(t, nil)
	done := make(chan error, 3)
	for range 3 {
		go func() {
			resp, err := c.Get("http://" + s.Addr() + "/")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for range 3 {
		<-entered
	}
	if s.Active() != 3 {
		t.Errorf("active %d, want 3", s.Active())
	}
	close(release)
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if s.Peak() != 3 || s.Requests() != 3 {
		t.Errorf("peak %d, requests %d; want 3, 3", s.Peak(), s.Requests())
	}
	if s.Accepted() != 1 {
		t.Errorf("accepted %d, want 1", s.Accepted())
	}
}

// h3Client returns an HTTP/3 client trusting cert.
func h3Client(t *testing.T, cert tls.Certificate) *http.Client {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool(cert)}}
	t.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestServeAndGoAwayHTTP3(t *testing.T) {
	cert, err := certs.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("127.0.0.1:0", Options{HTTP3: true}); err == nil {
		t.Fatal("Listen with HTTP3 and no TLS: no error")
	}
	s, err := Listen("127.0.0.1:0", Options{HTTP3: true, TLS: certs.FromCertificates(cert).ServerConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "https://" + s.Addr()
	c := h3Client(t, cert)
	for _, path := range []string{"/bytes/30", "/path/x"} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 3 {
			t.Fatalf("GET %s: %s %s, %v", path, resp.Proto, resp.Status, err)
		}
		if path == "/bytes/30" && string(b) != "abcdefghijklmnopqrstuvwxyzabcd" {
			t.Errorf("/bytes/30: %q", b)
		}
	}
	if s.Accepted() != 1 || s.Open() != 1 || s.Requests() != 2 || s.Peak() != 1 {
		t.Errorf("accepted %d, open %d, requests %d, peak %d; want 1, 1, 2, 1", s.Accepted(), s.Open(), s.Requests(), s.Peak())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.GoAway(ctx); err != nil {
		t.Fatal(err)
	}
	// After GOAWAY the idle client closes the connection (RFC 9114 5.2); a new client gets a
	// new one.
	if got := fetch(t, h3Client(t, cert), base+"/path/y"); got != "/path/y" {
		t.Errorf("/path/y after GOAWAY: %q", got)
	}
	if s.Accepted() != 2 {
		t.Errorf("accepted %d after GOAWAY and a new client, want 2", s.Accepted())
	}
	s.CloseConns()
}

// TestWaitOpen: WaitOpen returns once as many connections are open as asked, and fails when its
// context ends first.
func TestWaitOpen(t *testing.T) {
	s, err := Listen("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitOpen(ctx, 1); err != nil {
		t.Fatalf("with a connection open: %v", err)
	}
	c.Close()
	if err := s.WaitOpen(ctx, 0); err != nil {
		t.Fatalf("after its close: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if err := s.WaitOpen(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with none open, WaitOpen for 1: %v, want the context's deadline", err)
	}
}
