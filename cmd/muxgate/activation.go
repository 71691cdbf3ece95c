package main

import (
	"net"
	"os"
	"strconv"

	"github.com/rs/zerolog"
)

// A service manager may bind the listening sockets itself and pass them to the process it starts
// (systemd's socket activation, sd_listen_fds(3)): LISTEN_PID names the process, LISTEN_FDS
// counts the sockets, from descriptor 3 on. muxgate serves each listener (and the metrics one) on
// the socket bound to its address, and binds those it got none for. A privileged port needs no
// privilege of muxgate's then, and the port stays open while the service restarts: connections
// wait in its queue.

// firstActivatedFD is the first descriptor of the sockets passed (SD_LISTEN_FDS_START).
const firstActivatedFD = 3

// activated are the listening sockets a service manager passed to this process.
type activated struct {
	lns   []net.Listener
	taken []bool
	log   zerolog.Logger
}

// takeActivated returns the sockets passed to this process, or nil where none were: LISTEN_PID is
// not this process's (an upgrade's new process inherits its variables), or LISTEN_FDS is not a
// count. It takes the variables out of the environment, as sd_listen_fds does, so that no
// process started later takes them for its own.
func takeActivated(log zerolog.Logger) *activated {
	pid, err1 := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, err2 := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err1 != nil || err2 != nil || pid != os.Getpid() || n <= 0 {
		return nil
	}
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	a := &activated{log: log}
	for i := range n {
		f := os.NewFile(uintptr(firstActivatedFD+i), "activated")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			log.Error().Err(err).Int("fd", firstActivatedFD+i).Msg("socket activation: a socket passed is no listening TCP socket")
			continue
		}
		a.lns = append(a.lns, ln)
		a.taken = append(a.taken, false)
	}
	log.Info().Int("sockets", len(a.lns)).Msg("socket activation: taking the listening sockets passed")
	return a
}

// listen is gateway.Config.Listen: the first socket passed and not yet taken that is bound to
// addr, or nil where there is none. The role does not count: the address tells.
func (a *activated) listen(_, addr string) (net.Listener, error) {
	for i, ln := range a.lns {
		if !a.taken[i] && boundTo(addr, ln.Addr()) {
			a.taken[i] = true
			return ln, nil
		}
	}
	return nil, nil
}

// boundTo reports whether bound is the address addr (host:port) configures: its port, and its
// IP address unless addr leaves the host empty or names no IP address (a name, or all of them).
func boundTo(addr string, bound net.Addr) bool {
	tcp, ok := bound.(*net.TCPAddr)
	host, port, err := net.SplitHostPort(addr)
	if !ok || err != nil {
		return false
	}
	n, err := net.LookupPort("tcp", port)
	if err != nil || n != tcp.Port {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || ip == nil || ip.IsUnspecified() || ip.Equal(tcp.IP)
}

// closeUntaken closes the sockets passed that no listener took, saying so.
func (a *activated) closeUntaken() {
	for i, ln := range a.lns {
		if !a.taken[i] {
			a.log.Warn().Str("socket", ln.Addr().String()).Msg("socket activation: a socket passed for no listener; closed")
			ln.Close()
		}
	}
}
