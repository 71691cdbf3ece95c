package main

import (
	"fmt"
	"strconv"
	"strings"

	"muxgate/gateway"
)

// A running muxgate upgrades itself on SIGUSR2, as nginx and nghttpx do: it starts the program
// anew from the path it was started by (so a new binary put there, or a link moved to one, is
// what runs), with the same arguments (and -flags-file read again), and hands the new process
// its listening sockets; once that process is ready to serve, the old one drains
// and exits. The sockets stay open throughout, so no client finds a port closed, and no
// connection waiting in an accept queue is lost: the queue is the socket's, not the process's.
//
// The hand-over: the new process gets the write end of a pipe as file descriptor 3 and the
// sockets from 4 on, in the order of the list in its environment's upgradeEnv, which names each
// socket's role and configured address ("client=127.0.0.1:8080 metrics=127.0.0.1:9100"). It
// takes the socket of each listener that its flags configure alike, in order, binds any other,
// closes the sockets it did not take, and writes one byte to the pipe once it serves.
//
// Session ticket keys of muxgate's own (no -tls-ticket-keys) go over too, so that clients
// resume their TLS sessions with the new process: as certs.Tickets.Export wrote them, on a pipe
// whose read end follows the sockets, named in ticketsEnv with the old process's ID. A process
// that finds the variable but was not started by the process it names (one that did not know it
// passed it on) leaves it alone.

// upgradeEnv is the environment variable that lists the sockets handed over.
const upgradeEnv = "MUXGATE_UPGRADE"

// ticketsEnv names the process that handed session ticket keys over, and their descriptor:
// "pid:fd".
const ticketsEnv = "MUXGATE_TLS_TICKETS"

// maxTicketsHanded bounds what the new process reads of the keys handed over.
const maxTicketsHanded = 64 << 10

// The file descriptors of the hand-over in the new process.
const (
	readyFD       = 3 // the pipe's write end
	firstSocketFD = 4
)

// handedSocket is one entry of upgradeEnv's list.
type handedSocket struct{ role, addr string }

// formatHanded is upgradeEnv's value for socks.
func formatHanded(socks []handedSocket) string {
	parts := make([]string, len(socks))
	for i, s := range socks {
		parts[i] = s.role + "=" + s.addr
	}
	return strings.Join(parts, " ")
}

// parseHanded reads upgradeEnv's value: role=address entries, separated by spaces, whose role
// is a gateway socket role and whose address is not empty.
func parseHanded(v string) ([]handedSocket, error) {
	var socks []handedSocket
	for _, f := range strings.Fields(v) {
		role, addr, _ := strings.Cut(f, "=")
		if role != gateway.RoleClient && role != gateway.RoleMetrics || addr == "" {
			return nil, fmt.Errorf("%s: %q is not role=address", upgradeEnv, f)
		}
		socks = append(socks, handedSocket{role, addr})
	}
	return socks, nil
}

// formatTicketsFD is ticketsEnv's value for keys handed over by process pid on descriptor fd.
func formatTicketsFD(pid, fd int) string { return strconv.Itoa(pid) + ":" + strconv.Itoa(fd) }

// parseTicketsFD reads ticketsEnv's value.
func parseTicketsFD(v string) (pid, fd int, err error) {
	p, f, ok := strings.Cut(v, ":")
	pid, perr := strconv.Atoi(p)
	fd, ferr := strconv.Atoi(f)
	if !ok || perr != nil || ferr != nil || pid < 1 || fd < firstSocketFD {
		return 0, 0, fmt.Errorf("%s: %q is not pid:fd", ticketsEnv, v)
	}
	return pid, fd, nil
}
