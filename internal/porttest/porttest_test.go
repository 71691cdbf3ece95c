package porttest

import "testing"

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
		if !free(port, tcp, udp) {
			t.Fatalf("port %d handed out, but a server could not bind it (tcp %v, udp %v)", port, tcp, udp)
		}
	}
}

// TestParseFloor: ip_local_port_range's first number, or Linux's default where there is none.
func TestParseFloor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"32768\t60999\n", 32768},
		{"1024 65535", 1024},
		{"", 32768},
		{"x 60999", 32768},
		{"0\t60999", 32768},
		{"70000\t80000", 32768},
	} {
		if got := parseFloor([]byte(tc.in)); got != tc.want {
			t.Errorf("parseFloor(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzParseFloor: any text gives a port number.
func FuzzParseFloor(f *testing.F) {
	f.Add([]byte("32768\t60999\n"))
	f.Add([]byte("1024 65535"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := parseFloor(b); n < 1 || n > 65535 {
			t.Fatalf("parseFloor(%q) = %d, not a port", b, n)
		}
	})
}
