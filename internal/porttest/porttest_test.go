package porttest

import (
	"net"
	"strconv"
	"testing"
)

// TestFree: the ports lie below the ephemeral range, differ from each other, and a server can
// bind each over the protocols asked. 1,000 ports of the 22,768 below Linux's default range: drawn
// at random with no memory, two would be alike with a chance of 1 - e^-22.
func TestFree(t *testing.T) {
	top := ephemeralFloor()
	seen := make(map[int]bool)
	for i := range 1000 {
		tcp, udp := i%3 != 1, i%3 != 0
		port := Free(t, tcp, udp)
		if port < lowest || port >= top {
			t.Fatalf("port %d, want one in [%d, %d)", port, lowest, top)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if tcp {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("a TCP server on the port handed out: %v", err)
			}
			ln.Close()
		}
		if udp {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				t.Fatalf("a UDP server on the port handed out: %v", err)
			}
			pc.Close()
		}
	}
}
