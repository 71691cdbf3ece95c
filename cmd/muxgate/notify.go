package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// notifier tells a service manager how the process is doing, by systemd's notify protocol
// (sd_notify(3)): a datagram to the socket that NOTIFY_SOCKET names. With Type=notify, systemd
// takes the service as started at READY=1, and as stopping at STOPPING=1; with NotifyAccess=all,
// it takes the new process of an upgrade as the service's main process at its MAINPID=, so that
// the old one's exit does not stop the service. Without NOTIFY_SOCKET it does nothing. The
// variable stays in the environment, for an upgrade's new process.
type notifier struct {
	addr string // the socket's path, or @name in the abstract namespace; "" for none
	log  zerolog.Logger
}

func newNotifier(log zerolog.Logger) *notifier {
	addr := os.Getenv("NOTIFY_SOCKET")
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		addr = "" // unset, or a kind of socket (vsock:) that the process does not speak
	}
	return &notifier{addr: addr, log: log}
}

// serving says that the process serves; takeover, that it took over the sockets of an upgrade's
// old process and is the main one from now on.
func (n *notifier) serving(takeover bool) {
	state := "READY=1"
	if takeover {
		state = "MAINPID=" + strconv.Itoa(os.Getpid()) + "\n" + state
	}
	n.send(state)
}

// stoppingWith says STOPPING=1 once ctx ends: the drain that SIGTERM or SIGINT asks for, not an
// upgrade's, where the service goes on in the new process. The returned function waits for that
// to be said, if ctx has ended, so that the process does not exit first.
func (n *notifier) stoppingWith(ctx context.Context) (wait func()) {
	if n.addr == "" {
		return func() {}
	}
	said := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		n.send("STOPPING=1")
		close(said)
	})
	return func() {
		if !stop() {
			<-said
		}
	}
}

func (n *notifier) send(state string) {
	if n.addr == "" {
		return
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte(state))
		c.Close()
	}
	if err != nil {
		n.log.Warn().Err(err).Str("socket", n.addr).Msg("the service manager could not be told " + strings.ReplaceAll(state, "\n", " "))
	}
}
