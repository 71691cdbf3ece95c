//go:build unix

package integration

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// givenPorts holds every port freeLoopbackPort returned in this process, so that no two tests
// are handed the same one.
var givenPorts struct {
	sync.Mutex
	m map[int]bool
}

// ephemeralFloor is the lowest port the kernel hands to a bind of port 0 or to an outgoing
// connection (Linux's net.ipv4.ip_local_port_range); 32768, its default, where that cannot be
// read.
func ephemeralFloor() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// freeLoopbackPort returns a loopback port that was free a moment ago over TCP, over UDP, or
// both, for a server the test starts later. The port lies below the ephemeral range, so nothing
// that binds port 0 or dials in the meantime (the gateway's own listeners, its upstream
// connections, other tests) can take it before that server does.
func freeLoopbackPort(t testing.TB, tcp, udp bool) int {
	t.Helper()
	const lowest = 10000
	top := ephemeralFloor()
	if top-lowest < 1000 {
		t.Fatalf("the ephemeral port range starts at %d, leaving too few ports above %d for servers the tests start later", top, lowest)
	}
	givenPorts.Lock()
	defer givenPorts.Unlock()
	if givenPorts.m == nil {
		givenPorts.m = make(map[int]bool)
	}
	for range 200 {
		port := lowest + rand.IntN(top-lowest)
		if !givenPorts.m[port] && portFree(port, tcp, udp) {
			givenPorts.m[port] = true
			return port
		}
	}
	t.Fatalf("found no free loopback port between %d and %d in 200 tries", lowest, top)
	return 0
}

// portFree reports whether a loopback listener could bind port now over each protocol asked.
func portFree(port int, tcp, udp bool) bool {
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

// freePort returns a loopback address that was free a moment ago for an upstream of kind k: a
// TCP port, or a UDP port for h3.
func freePort(t testing.TB, k upstreamKind) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(freeLoopbackPort(t, !k.h3, k.h3)))
}
