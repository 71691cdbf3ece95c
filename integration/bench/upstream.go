//go:build linux

package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"muxgate/certs"
	"muxgate/internal/demo"
)

// upstream is the Go demo server every target funnels into, run inside the bench process so
// that its accepted-connection counter can be read directly; or, with -upstream-server nghttpd,
// nghttpd in place of its h2c listener.
type upstream struct {
	h2c    *demo.Server // HTTP/2 clear text: the proxies' upstream unless ext is set
	ext    *nghttpd     // the proxies' h2c upstream instead of h2c; nil with the demo
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
// the four demo listeners on loopback ports, with withH3 a fifth serving HTTP/3, and, given
// nghttpdBin, nghttpd, which then takes the demo's place as the proxies' h2c upstream.
func startUpstream(dir string, withH3 bool, nghttpdBin string) (*upstream, error) {
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
	if nghttpdBin != "" {
		if u.ext, err = startNghttpd(nghttpdBin, dir); err != nil {
			u.close()
			return nil, err
		}
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

// h2cAddr is where the proxies reach the upstream over h2c.
func (u *upstream) h2cAddr() string {
	if u.ext != nil {
		return u.ext.addr
	}
	return u.h2c.Addr()
}

// connMark and connsSince count the upstream connections a run used: the demo's listeners'
// accepted connections (QUIC connections with HTTP/3) since the mark; with nghttpd, which
// counts none, the connections it holds at the run's end.
func (u *upstream) connMark() int64 {
	if u.ext != nil {
		return 0
	}
	n := u.h2c.Accepted() + u.h2tls.Accepted()
	if u.h3 != nil {
		n += u.h3.Accepted()
	}
	return n
}

func (u *upstream) connsSince(mark int64) int64 {
	if u.ext != nil {
		return u.ext.established()
	}
	return u.connMark() - mark
}

// cpu is the upstream's CPU time so far: the bench process's, which serves the demo, or
// nghttpd's.
func (u *upstream) cpu() time.Duration {
	if u.ext != nil {
		return u.ext.cpu()
	}
	st, err := readStat(os.Getpid())
	if err != nil {
		return 0
	}
	return st.cpu
}

// outside returns d, the upstream's CPU over a run, if the upstream is a process apart (nghttpd),
// and 0 if it is the bench process, whose CPU noise.end counts already.
func (u *upstream) outside(d time.Duration) time.Duration {
	if u.ext != nil {
		return d
	}
	return 0
}

func (u *upstream) close() {
	if u.closed {
		return
	}
	u.closed = true
	if u.ext != nil {
		u.ext.proc.stop(5 * time.Second)
	}
	for _, s := range []*demo.Server{u.h2c, u.h2tls, u.h3, u.h1, u.h1tls} {
		if s != nil {
			s.Close()
		}
	}
}
