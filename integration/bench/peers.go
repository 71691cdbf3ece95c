//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The settings every proxy gets alike, so that the comparison is of the code, not the tuning.
const (
	threads      = 2         // worker threads of each proxy (muxgate: GOMAXPROCS)
	streamWindow = 256 << 10 // HTTP/2 receive window per upstream stream: muxgate's default
	maxFrameSize = 64 << 10  // SETTINGS_MAX_FRAME_SIZE announced upstream: muxgate's default; nghttpx has no such setting
)

// front is what one start of a proxy needs: where to listen, where the upstream is, and a
// directory of its own for its config file.
type front struct {
	dir       string    // this run's directory; the config file goes here
	port      int       // loopback port to listen on
	tls       bool      // terminate TLS (http/1.1) with the shared certificate
	h2        bool      // with tls, offer h2 by ALPN too and serve HTTP/2 to the clients that take it
	cert      certFiles // the shared certificate
	upstream  string    // host:port of the upstream
	upTLS     bool      // the upstream speaks h2 over TLS, not h2c
	upH3      bool      // the upstream speaks HTTP/3 over QUIC (UDP); muxgate-h3 only
	maxConns  int       // client connections the proxy must accept at once
	goThreads int       // muxgate's GOMAXPROCS
	threads   int       // a peer's worker threads (nghttpx workers, HAProxy nbthread)
	extra     []string  // muxgate's flags after the benchmark's own, which they may override
	// oneProcess runs the proxy as one process (nghttpx's single-process=yes; HAProxy's -db and
	// muxgate are one already): callgrind counts the process it starts, not a worker forked
	// from it.
	oneProcess bool
}

func (f front) addr() string { return "127.0.0.1:" + strconv.Itoa(f.port) }

// peer is one HTTP/1.1 -> h2c proxy under test.
type peer struct {
	name string
	tool string // the executable; found on PATH, or muxgate's built binary
	pkg  string // the Debian package that provides tool; empty for muxgate
	// threads are the peer's worker threads; 0: the shared number, threads. The rows with 1
	// run a peer on one thread, as muxgate's governor runs muxgate on one processor under these
	// loads, to compare the work per thread.
	threads int
	// command writes f's config into f.dir and returns the command that runs the proxy in the
	// foreground with it.
	command func(bin string, f front) (*exec.Cmd, error)
}

var peers = []peer{
	{name: "muxgate", tool: "muxgate", command: muxgateCommand},
	{name: "muxgate-b", tool: "muxgate", command: muxgateCommand},
	{name: "muxgate-h3", tool: "muxgate", command: muxgateH3Command},
	{name: "nghttpx", tool: "nghttpx", pkg: "nghttp2-proxy", command: nghttpxCommand},
	{name: "haproxy", tool: "haproxy", pkg: "haproxy", command: haproxyCommand},
	{name: "nghttpx-1", tool: "nghttpx", pkg: "nghttp2-proxy", threads: 1, command: nghttpxCommand},
	{name: "haproxy-1", tool: "haproxy", pkg: "haproxy", threads: 1, command: haproxyCommand},
}

// peerNamed returns the peer of that row name, or nil.
func peerNamed(name string) *peer {
	if i := slices.IndexFunc(peers, func(p peer) bool { return p.name == name }); i >= 0 {
		return &peers[i]
	}
	return nil
}

// workers is the number of worker threads p runs with.
func (p *peer) workers() int {
	if p.threads > 0 {
		return p.threads
	}
	return threads
}

// muxgateCommand runs muxgate with the flags of an operator who benchmarks: no access log, and
// the forwarding headers off (the peers add none either). Its log is at debug level, which logs
// nothing per request, so that the report can say how many processors it used. The command
// line is written to the run directory, so that a run can be repeated by hand.
func muxgateCommand(bin string, f front) (*exec.Cmd, error) {
	up := "h2c://" + f.upstream
	switch {
	case f.upH3:
		up = "h3://" + f.upstream
	case f.upTLS:
		up = "https://" + f.upstream
	}
	args := []string{
		"-upstream", up,
		"-access-log", "off",
		"-log-level", "debug",
		"-max-conns", strconv.Itoa(f.maxConns),
		"-stream-window", strconv.Itoa(streamWindow),
		"-idle-timeout", "120s",
		"-shutdown-timeout", "5s",
		"-no-x-forwarded-for", "-no-x-forwarded-proto", "-no-via",
	}
	switch {
	case f.upH3:
		// Verified against the shared self-signed certificate, as an operator would run it.
		args = append(args, "-upstream-ca", f.cert.cert)
	case f.upTLS:
		args = append(args, "-upstream-insecure")
	}
	if f.tls {
		args = append(args, "-listen-tls", f.addr(), "-cert", f.cert.cert, "-key", f.cert.key)
		if f.h2 {
			args = append(args, "-tls-h2")
		}
	} else {
		args = append(args, "-listen", f.addr())
	}
	args = append(args, f.extra...) // the flag package keeps a flag's last value
	env := "GOMAXPROCS=" + strconv.Itoa(f.goThreads)
	line := env + " " + bin + " " + strings.Join(args, " ") + "\n"
	if err := writeFile(filepath.Join(f.dir, "muxgate.cmdline"), line); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env)
	return cmd, nil
}

// muxgateH3Command is muxgateCommand with the upstream over HTTP/3: the muxgate-h3 row.
func muxgateH3Command(bin string, f front) (*exec.Cmd, error) {
	f.upH3 = true
	return muxgateCommand(bin, f)
}

// nghttpxCommand: nghttpx in its default (reverse proxy) mode with an h2 backend. Its backend
// stream window defaults to 64 KiB, which slows large bodies; it gets muxgate's. It adds
// X-Forwarded-Proto and Via unless told not to.
func nghttpxCommand(bin string, f front) (*exec.Cmd, error) {
	var b strings.Builder
	if f.tls {
		fmt.Fprintf(&b, "frontend=127.0.0.1,%d\n", f.port)
		fmt.Fprintf(&b, "private-key-file=%s\ncertificate-file=%s\n", f.cert.key, f.cert.cert)
	} else {
		fmt.Fprintf(&b, "frontend=127.0.0.1,%d;no-tls\n", f.port)
	}
	host, port, _ := strings.Cut(f.upstream, ":")
	if f.upTLS {
		fmt.Fprintf(&b, "backend=%s,%s;;proto=h2;tls\ninsecure=yes\n", host, port)
	} else {
		fmt.Fprintf(&b, "backend=%s,%s;;proto=h2\n", host, port)
	}
	fmt.Fprintf(&b, "workers=%d\n", f.threads)
	b.WriteString("no-ocsp=yes\n")
	fmt.Fprintf(&b, "backend-http2-window-size=%d\n", streamWindow)
	b.WriteString("worker-frontend-connections=0\n") // unlimited
	b.WriteString("frontend-keep-alive-timeout=120s\n")
	b.WriteString("no-via=yes\nno-add-x-forwarded-proto=yes\n")
	b.WriteString("no-server-push=yes\n")
	if f.oneProcess {
		b.WriteString("single-process=yes\n")
	}
	conf := filepath.Join(f.dir, "nghttpx.conf")
	if err := writeFile(conf, b.String()); err != nil {
		return nil, err
	}
	return exec.Command(bin, "--conf="+conf), nil
}

// haproxyCommand: HAProxy with an h2 server line and the settings PEERS.md found necessary.
//
// HAProxy 2.6 writes "HTTP/1.1 200 " (no reason phrase) for responses that came over HTTP/2, and
// h2load counts those as failed. set-status without a reason fills in the standard phrase; it is
// applied to 200 only, the one status the benchmark asks for, so other statuses pass untouched.
//
// maxconn wants twice its value in file descriptors, which the hard limit here may not allow;
// idle client connections share the upstream session and need one each, so the limit is given
// explicitly and strict-limits is off.
func haproxyCommand(bin string, f front) (*exec.Cmd, error) {
	server := "server s1 " + f.upstream + " proto h2"
	if f.upTLS {
		server += " ssl verify none alpn h2"
	}
	bind := "bind " + f.addr()
	switch {
	case f.tls && f.h2:
		bind += " ssl crt " + f.cert.combo + " alpn h2,http/1.1"
	case f.tls:
		bind += " ssl crt " + f.cert.combo + " alpn http/1.1"
	}
	conf := fmt.Sprintf(`global
    nbthread %[1]d
    maxconn %[2]d
    ulimit-n %[3]d
    no strict-limits
    tune.h2.initial-window-size %[4]d
    tune.h2.max-frame-size %[7]d

defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    timeout http-keep-alive 120s
    option http-no-delay

frontend fe
    %[5]s
    maxconn %[2]d
    default_backend be

backend be
    http-reuse always
    %[6]s
    http-response set-status 200 if { status 200 }
`, f.threads, f.maxConns, haproxyFDs(f.maxConns), streamWindow, bind, server, maxFrameSize)
	path := filepath.Join(f.dir, "haproxy.cfg")
	if err := writeFile(path, conf); err != nil {
		return nil, err
	}
	// -db: foreground, no daemon, no master process.
	return exec.Command(bin, "-db", "-f", path), nil
}

// haproxyFDs is HAProxy's ulimit-n: the two descriptors per connection it would reserve, within
// the file limit the bench has.
func haproxyFDs(maxConns int) uint64 {
	return min(fdLimit(), uint64(2*maxConns+256))
}
