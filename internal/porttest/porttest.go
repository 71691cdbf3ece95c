// Package porttest hands tests and the benchmark loopback ports for servers they start later, or
// that they want nothing to listen on: ports that no other socket of the machine is likely to take
// meanwhile.
package porttest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the lowest port Pick hands out: above the ports of the machine's own services.
const lowest = 10000

// given holds every port Pick returned in this process, so that no two callers get the same one.
var given struct {
	sync.Mutex
	m map[int]bool
}

// ephemeralFloor is the lowest port the kernel hands to a bind of port 0 or to an outgoing
// connection (Linux's net.ipv4.ip_local_port_range).
func ephemeralFloor() int {
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	return parseFloor(b)
}

// parseFloor returns the first number of ip_local_port_range's text ("32768\t60999\n"), or
// 32768, Linux's default, where there is none (another system, or no /proc).
func parseFloor(b []byte) int {
	const linuxDefault = 32768
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return linuxDefault
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 || n > 65535 {
		return linuxDefault
	}
	return n
}

// Pick returns a loopback port that was free a moment ago over TCP, over UDP, or both. The port
// lies below the ephemeral range, so nothing that binds port 0 or dials in the meantime (a
// gateway's own listeners, its upstream connections, other tests, a benchmark's clients) takes it
// before the server it is meant for does, or answers where nothing should; and no two calls in a
// process return the same port.
func Pick(tcp, udp bool) (int, error) {
	top := ephemeralFloor()
	if top-lowest < 1000 {
		return 0, fmt.Errorf("porttest: the ephemeral port range starts at %d, leaving too few ports above %d", top, lowest)
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
			return port, nil
		}
	}
	return 0, fmt.Errorf("porttest: found no free loopback port between %d and %d in 200 tries", lowest, top)
}

// TB is the part of testing.TB that Free and Addr use; it keeps package testing out of the
// benchmark's binary, which calls Pick.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Free is Pick for a test, which it fails where Pick fails.
func Free(t TB, tcp, udp bool) int {
	t.Helper()
	port, err := Pick(tcp, udp)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Addr is Free's port on 127.0.0.1, as host:port.
func Addr(t TB, tcp, udp bool) string {
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
