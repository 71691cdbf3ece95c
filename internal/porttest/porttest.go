// Package porttest hands tests loopback ports for servers they start later, or that they want
// nothing to listen on: ports that no other socket of the machine is likely to take meanwhile.
package porttest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lowest is the lowest port Free hands out: above the ports of the machine's own services.
const lowest = 10000

// given holds every port Free returned in this process, so that no two tests get the same one.
var given struct {
	sync.Mutex
	m map[int]bool
}

// ephemeralFloor is the lowest port the kernel hands to a bind of port 0 or to an outgoing
// connection (Linux's net.ipv4.ip_local_port_range); 32768, its default, where that cannot be
// read.
func ephemeralFloor() int {
	const linuxDefault = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return linuxDefault
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return linuxDefault
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return linuxDefault
	}
	return n
}

// Free returns a loopback port that was free a moment ago over TCP, over UDP, or both. The port
// lies below the ephemeral range, so nothing that binds port 0 or dials in the meantime (a
// gateway's own listeners, its upstream connections, other tests) takes it before the test's
// server does, or answers where the test wants nothing to; and no two calls in a process return
// the same port.
func Free(t testing.TB, tcp, udp bool) int {
	t.Helper()
	top := ephemeralFloor()
	if top-lowest < 1000 {
		t.Fatalf("the ephemeral port range starts at %d, leaving too few ports above %d for servers the tests start later", top, lowest)
	}
	given.Lock()
	defer given.Unlock()
	if given.m == nil {
		given.m = make(map[int]bool)
	}
	for range 200 {
		port := lowest + rand.IntN(top-lowest)
		if !given.m[port] && free(port, tcp, udp) {
			given.m[port] = true
			return port
		}
	}
	t.Fatalf("found no free loopback port between %d and %d in 200 tries", lowest, top)
	return 0
}

// Addr is Free's port on 127.0.0.1, as host:port.
func Addr(t testing.TB, tcp, udp bool) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Free(t, tcp, udp)))
}

// free reports whether a loopback listener could bind port now over each protocol asked.
func free(port int, tcp, udp bool) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if tcp {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		defer ln.Close()
	}
	if udp {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		defer pc.Close()
	}
	return true
}
