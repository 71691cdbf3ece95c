package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestNotifier: the states reach the socket NOTIFY_SOCKET names, a path or an abstract name,
// one datagram each; other values send nothing.
func TestNotifier(t *testing.T) {
	names := []string{filepath.Join(t.TempDir(), "notify")}
	if runtime.GOOS == "linux" {
		names = append(names, "@muxgate-test-"+strconv.Itoa(os.Getpid()))
	}
	for _, name := range names {
		sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		t.Setenv("NOTIFY_SOCKET", name)
		n := newNotifier(zerolog.Nop())
		ctx, cancel := context.WithCancel(context.Background())
		wait := n.stoppingWith(ctx)
		n.serving(false)
		n.serving(true)
		cancel()
		wait()
		for _, want := range []string{"READY=1", "MAINPID=" + strconv.Itoa(os.Getpid()) + "\nREADY=1", "STOPPING=1"} {
			if got := readDatagram(t, sock); got != want {
				t.Errorf("%s: got %q, want %q", name, got, want)
			}
		}
	}
	for _, v := range []string{"", "vsock:2:1234", "relative/path"} {
		t.Setenv("NOTIFY_SOCKET", v)
		if n := newNotifier(zerolog.Nop()); n.addr != "" {
			t.Errorf("NOTIFY_SOCKET=%q: the notifier would send to %q, want nowhere", v, n.addr)
		}
	}
}

func readDatagram(t *testing.T, sock *net.UnixConn) string {
	t.Helper()
	sock.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 256)
	n, err := sock.Read(b)
	if err != nil {
		t.Fatalf("reading the notify socket: %v", err)
	}
	return string(b[:n])
}
