package h1

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// selfSigned makes a certificate for 127.0.0.1 in memory.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "h1 test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startTLSServer serves h over TLS (ALPN http/1.1) on a loopback listener until the test ends,
// with a self-signed certificate that the returned pool trusts, its connections beginning with a
// PROXY header if proxied (see serveUntilEnd).
func startTLSServer(t *testing.T, cfg Config, h http.Handler, proxied bool) (s *Server, addr string, pool *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	inner, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	cfg.Logger = testLogger(t)
	s = New(cfg, h)
	serveUntilEnd(t, s, ln, proxied)
	return s, ln.Addr().String(), pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	inner, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	s := New(Config{Logger: testLogger(t)}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete || r.TLS.NegotiatedProtocol != "http/1.1" {
			t.Errorf("got TLS state %+v, want a completed handshake with ALPN http/1.1", r.TLS)
		}
		io.WriteString(w, "secure "+r.URL.Path)
	}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	defer func() {
		s.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
	}()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for i := range 2 {
		resp, err := hc.Get("https://" + ln.Addr().String() + "/p")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "secure /p" || resp.TLS == nil {
			t.Errorf("request %d: got %q, want %q over TLS", i, b, "secure /p")
		}
	}
	if st := s.State(); st.Conns != 1 || st.Requests != 2 {
		t.Errorf("got %+v, want both requests on one connection", st)
	}

	// A refusal over TLS is still answered before the close.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(safetyNet))
	c := newClient(t, conn)
	if r := c.roundTrip("GET / HTTP/1.1\r\n\r\n"); r.StatusCode != 400 || !r.Close {
		t.Errorf("got %d close %v, want 400 with Connection: close", r.StatusCode, r.Close)
	}
	c.expectClosed()

	// A client that negotiated h2 is not answered in HTTP/1.1.
	srvConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1", "http/1.0"}}
	inner2, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ln2 := tls.NewListener(inner2, srvConf)
	s2 := New(Config{Logger: testLogger(t)}, text)
	served2 := make(chan error, 1)
	go func() { served2 <- s2.Serve(ln2) }()
	h2c, err := tls.Dial("tcp", ln2.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	h2c.SetDeadline(time.Now().Add(safetyNet))
	if n, err := h2c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("h2 over ALPN: got %d bytes, %v; want the connection closed", n, err)
	}
	h2c.Close()

	// curl --http1.0 offers http/1.0 alone; that is served.
	c10, err := tls.Dial("tcp", ln2.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	c10.SetDeadline(time.Now().Add(safetyNet))
	if r := newClient(t, c10).roundTrip("GET /ten HTTP/1.0\r\n\r\n"); r.body != "GET /ten" {
		t.Errorf("ALPN http/1.0: got %d %q, want GET /ten", r.StatusCode, r.body)
	}
	s2.Close()
	if err := <-served2; err != http.ErrServerClosed {
		t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
	}
}
