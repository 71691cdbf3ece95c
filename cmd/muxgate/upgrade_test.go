//go:build unix

package main

import (
	"net"
	"reflect"
	"testing"
)

func TestParseHanded(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []handedSocket
		bad  bool
	}{
		{in: "", want: nil},
		{in: "client=127.0.0.1:8080", want: []handedSocket{{"client", "127.0.0.1:8080"}}},
		{in: "client=:80  client=[::1]:0 metrics=127.0.0.1:9100", want: []handedSocket{
			{"client", ":80"}, {"client", "[::1]:0"}, {"metrics", "127.0.0.1:9100"}}},
		{in: "client", bad: true},
		{in: "client=", bad: true},
		{in: "admin=127.0.0.1:1", bad: true},
		{in: "=127.0.0.1:1", bad: true},
	} {
		got, err := parseHanded(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("parseHanded(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseHanded(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, err := parseHanded(formatHanded(got)); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("parseHanded(formatHanded(%v)) = %v, %v", got, back, err)
		}
	}
}

// FuzzParseHanded: whatever the environment holds, parseHanded returns entries that
// formatHanded writes back to a value that reads the same.
func FuzzParseHanded(f *testing.F) {
	for _, s := range []string{"client=127.0.0.1:8080 metrics=:9100", "client=[::1]:0\tclient=x", "a=b=c", " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		socks, err := parseHanded(v)
		if err != nil {
			return
		}
		back, err := parseHanded(formatHanded(socks))
		if err != nil || !reflect.DeepEqual(back, socks) {
			t.Fatalf("%q: read %v, written back and read %v, %v", v, socks, back, err)
		}
	})
}

func TestSamePort(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true,
		":8080":          true,
		"127.0.0.1:0":    true,
		"127.0.0.1:8081": false,
		"127.0.0.1":      false,
		":http-alt":      true, // 8080 in /etc/services, where it is listed
	} {
		if addr == ":http-alt" {
			if p, err := net.LookupPort("tcp", "http-alt"); err != nil || p != 8080 {
				continue
			}
		}
		if got := samePort(addr, bound); got != want {
			t.Errorf("samePort(%q, %v) = %v, want %v", addr, bound, got, want)
		}
	}
	if samePort("127.0.0.1:8080", &net.UnixAddr{Name: "x", Net: "unix"}) {
		t.Error("a Unix socket's address matched a TCP port")
	}
}

func TestParseTicketsFD(t *testing.T) {
	if pid, fd, err := parseTicketsFD(formatTicketsFD(4242, 6)); err != nil || pid != 4242 || fd != 6 {
		t.Errorf("parseTicketsFD(formatTicketsFD(4242, 6)) = %d, %d, %v", pid, fd, err)
	}
	// The descriptors below the sockets' are the standard ones and the ready pipe.
	for _, bad := range []string{"", "4242", "4242:", ":6", "0:6", "-1:6", "4242:3", "4242:x", "4242:6:7"} {
		if pid, fd, err := parseTicketsFD(bad); err == nil {
			t.Errorf("parseTicketsFD(%q) = %d, %d; want an error", bad, pid, fd)
		}
	}
}

// FuzzParseTicketsFD: what parseTicketsFD accepts names a process and a descriptor past the
// ready pipe, and formatTicketsFD writes it back to a value that reads the same.
func FuzzParseTicketsFD(f *testing.F) {
	for _, s := range []string{"4242:6", "1:4", "x:y", "99999999999999999999:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		pid, fd, err := parseTicketsFD(v)
		if err != nil {
			return
		}
		if pid < 1 || fd <= readyFD {
			t.Fatalf("%q: pid %d, fd %d", v, pid, fd)
		}
		if p, d, err := parseTicketsFD(formatTicketsFD(pid, fd)); err != nil || p != pid || d != fd {
			t.Fatalf("%q: written back and read %d, %d, %v", v, p, d, err)
		}
	})
}
