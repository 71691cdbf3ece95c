package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	"muxgate/certs"
	"muxgate/internal/demo"
)

// upstream is the Go demo server every target funnels into, run inside the bench process so
// that its accepted-connection counter can be read directly.
type upstream struct {
	h2c    *demo.Server // HTTP/2 clear text: the proxies' upstream
	h2tls  *demo.Server // HTTP/2 over TLS, for an operator who points a proxy at it by hand
	h3     *demo.Server // HTTP/3 over QUIC on UDP: muxgate-h3's upstream; nil unless that row runs
	h1     *demo.Server // HTTP/1.1 clear text: the direct baseline
	h1tls  *demo.Server // HTTP/1.1 over TLS: the direct baseline of the tls scenario
	files  certFiles
	closed bool
}

// certFiles are the self-signed certificate and key the TLS front ends share, written once.
type certFiles struct {
	cert  string // PEM chain
	key   string // PEM PKCS#8 key
	combo string // chain then key in one file, as HAProxy's crt wants
}

// startUpstream makes the certificate in memory, writes it to dir for the proxies, and starts
// the four demo listeners on loopback ports, and with withH3 a fifth serving HTTP/3.
func startUpstream(dir string, withH3 bool) (*upstream, error) {
	cert, err := certs.SelfSigned("127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	files, err := writeCert(dir, cert)
	if err != nil {
		return nil, err
	}
	u := &upstream{files: files}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	listeners := []struct {
		dst *(*demo.Server)
		opt demo.Options
	}{
		{&u.h2c, demo.Options{}},
		{&u.h2tls, demo.Options{TLS: tlsCfg}},
		{&u.h1, demo.Options{HTTP1: true}},
		{&u.h1tls, demo.Options{HTTP1: true, TLS: tlsCfg}},
	}
	if withH3 {
		listeners = append(listeners, struct {
			dst *(*demo.Server)
			opt demo.Options
		}{&u.h3, demo.Options{HTTP3: true, TLS: tlsCfg}})
	}
	for _, l := range listeners {
		s, err := demo.Listen("127.0.0.1:0", l.opt)
		if err != nil {
			u.close()
			return nil, fmt.Errorf("upstream: %w", err)
		}
		*l.dst = s
	}
	return u, nil
}

func writeCert(dir string, cert tls.Certificate) (certFiles, error) {
	certPEM, keyPEM, err := certs.PEM(cert)
	if err != nil {
		return certFiles{}, err
	}
	f := certFiles{
		cert:  filepath.Join(dir, "cert.pem"),
		key:   filepath.Join(dir, "key.pem"),
		combo: filepath.Join(dir, "combo.pem"),
	}
	combo := append(append([]byte{}, certPEM...), keyPEM...)
	for _, w := range []struct {
		path string
		data []byte
	}{{f.cert, certPEM}, {f.key, keyPEM}, {f.combo, combo}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return certFiles{}, fmt.Errorf("upstream: %w", err)
		}
	}
	return f, nil
}

// accepted is the number of connections the proxies' upstream listeners have accepted so far.
// With HTTP/3 it counts QUIC connections.
func (u *upstream) accepted() int64 {
	n := u.h2c.Accepted() + u.h2tls.Accepted()
	if u.h3 != nil {
		n += u.h3.Accepted()
	}
	return n
}

func (u *upstream) close() {
	if u.closed {
		return
	}
	u.closed = true
	for _, s := range []*demo.Server{u.h2c, u.h2tls, u.h3, u.h1, u.h1tls} {
		if s != nil {
			s.Close()
		}
	}
}
