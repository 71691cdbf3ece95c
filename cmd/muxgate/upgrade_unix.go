//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"muxgate/certs"
	"muxgate/gateway"
)

// upgradeTimeout bounds the wait for a new process to serve; one that has not by then is
// killed, and the old one serves on.
const upgradeTimeout = 30 * time.Second

// handover is what a process started by an upgrade took over: the old process's sockets, its
// session ticket keys, and the pipe on which it waits for this one to serve.
type handover struct {
	ready   *os.File
	socks   []takenSocket
	tickets []byte // as certs.Tickets.Export wrote them; nil where none came
	log     zerolog.Logger
}

type takenSocket struct {
	handedSocket
	ln    net.Listener // nil where the descriptor was not a listening socket
	taken bool
}

// startedByUpgrade reports whether an upgrade's old process started this one; so does takeOver,
// but it may only be asked before takeOver.
func startedByUpgrade() bool {
	_, ok := os.LookupEnv(upgradeEnv)
	return ok
}

// takeOver returns what the process that started this one handed over (see upgrade.go), or nil
// where no process did. It takes upgradeEnv out of the environment.
func takeOver(log zerolog.Logger) *handover {
	tickets := takeTickets(log)
	v, ok := os.LookupEnv(upgradeEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(upgradeEnv)
	socks, err := parseHanded(v)
	if err != nil {
		log.Error().Err(err).Msg("upgrade: the sockets handed over cannot be read; binding every listener")
		socks = nil
	}
	h := &handover{ready: os.NewFile(readyFD, "upgrade-ready"), tickets: tickets, log: log}
	for i, s := range socks {
		f := os.NewFile(uintptr(firstSocketFD+i), s.role+"="+s.addr)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			log.Error().Err(err).Str("listen", s.addr).Msg("upgrade: a socket handed over is no listening socket")
		}
		h.socks = append(h.socks, takenSocket{handedSocket: s, ln: ln})
	}
	log.Info().Int("sockets", len(h.socks)).Int("old_pid", os.Getppid()).Msg("upgrade: taking over the listening sockets")
	return h
}

// takeTickets reads the session ticket keys handed over (see upgrade.go), or returns nil where
// the process that started this one handed none. It takes ticketsEnv out of the environment.
func takeTickets(log zerolog.Logger) []byte {
	v, ok := os.LookupEnv(ticketsEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(ticketsEnv)
	pid, fd, err := parseTicketsFD(v)
	if err != nil || pid != os.Getppid() {
		log.Warn().Err(err).Str("value", v).Msg("upgrade: " + ticketsEnv + " was not set by the process that started this one; left alone")
		return nil
	}
	f := os.NewFile(uintptr(fd), "upgrade-tickets")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTicketsHanded))
	if err != nil {
		log.Error().Err(err).Msg("upgrade: the session ticket keys handed over cannot be read; clients' sessions will not resume")
		return nil
	}
	return b
}

// takeTickets has t, the TLS listeners' session ticket keys (nil without TLS listeners), take
// the keys handed over, where both are muxgate's own: keys from -tls-ticket-keys are read from
// that file.
func (h *handover) takeTickets(t *certs.Tickets) {
	if h.tickets == nil || t == nil || !t.Own() {
		return
	}
	if err := t.Import(h.tickets); err != nil {
		h.log.Error().Err(err).Msg("upgrade: clients' TLS sessions will not resume")
		return
	}
	h.log.Info().Msg("upgrade: took the old process's session ticket keys")
}

// listen is gateway.Config.Listen: the first socket not yet taken that was handed over for role
// and addr, or nil where there is none.
func (h *handover) listen(role, addr string) (net.Listener, error) {
	for i := range h.socks {
		s := &h.socks[i]
		if s.taken || s.ln == nil || s.role != role || s.addr != addr {
			continue
		}
		if !samePort(addr, s.ln.Addr()) {
			h.log.Error().Str("listen", addr).Str("socket", s.ln.Addr().String()).Msg("upgrade: the socket handed over has another port")
			continue
		}
		s.taken = true
		return s.ln, nil
	}
	return nil, nil
}

// samePort reports whether bound is on the port that addr configures, or on any where addr
// leaves it to the system (port 0).
func samePort(addr string, bound net.Addr) bool {
	_, port, err := net.SplitHostPort(addr)
	tcp, ok := bound.(*net.TCPAddr)
	if err != nil || !ok {
		return false
	}
	n, err := net.LookupPort("tcp", port)
	return err == nil && (n == 0 || n == tcp.Port)
}

// finish closes the sockets that were not taken and, once this process is ready to serve
// (served), tells the old process, which then drains. Without it, the old process finds the pipe
// closed and serves on.
func (h *handover) finish(served bool) {
	for _, s := range h.socks {
		if !s.taken && s.ln != nil {
			s.ln.Close()
		}
	}
	if served {
		if _, err := h.ready.Write([]byte{1}); err != nil {
			h.log.Error().Err(err).Msg("upgrade: the old process could not be told; it serves on")
		}
	}
	h.ready.Close()
}

// notifyUpgrade starts taking SIGUSR2 from the process's start, for upgradeOn, and finds the
// program's path for it.
func notifyUpgrade() <-chan os.Signal {
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	programPath, programErr = findProgram()
	return usr2
}

// programPath is the program an upgrade starts, or programErr why there is none.
var (
	programPath string
	programErr  error
)

// findProgram returns the path the program was started by, made absolute: os.Args[0] as the
// shell found it, so that a symbolic link moved to a new version (as deployments do) starts that
// version. The executable file the process runs (os.Executable) is the old version's then.
func findProgram() (string, error) {
	arg0 := os.Args[0]
	if !strings.Contains(arg0, "/") {
		return exec.LookPath(arg0)
	}
	return filepath.Abs(arg0)
}

// upgradeOn starts a new process of the program on each SIGUSR2 from usr2 (notifyUpgrade), hands
// it the sockets of g and the session ticket keys of tickets (nil: none) and, once it serves,
// calls drain. A failed start is logged, and this process serves on. It returns a function that
// stops the watch; the signal is still taken, and ignored, until the process exits.
func upgradeOn(usr2 <-chan os.Signal, g *gateway.Gateway, tickets *certs.Tickets, drain func(), log zerolog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr2:
			}
			var keys []byte
			if tickets != nil {
				keys = tickets.Export()
			}
			pid, err := startSuccessor(g.Sockets(), keys, log)
			if err != nil {
				log.Error().Err(err).Msg("upgrade failed; this process serves on")
				continue
			}
			log.Info().Int("new_pid", pid).Msg("upgrade: the new process serves; draining this one")
			g.HandedOver()
			drain()
			return // a SIGUSR2 while draining is ignored
		}
	}()
	return cancel
}

// startSuccessor starts the program anew with this process's arguments, hands it socks and
// tickets (exported session ticket keys; nil: none), and waits until it serves. It returns the
// new process's ID.
func startSuccessor(socks []gateway.Socket, tickets []byte, log zerolog.Logger) (int, error) {
	exe, err := programPath, programErr
	if err != nil {
		return 0, fmt.Errorf("finding the program: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	files := []*os.File{w}
	// The new process's once it has started; its end of the pipe closes with it.
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
	}
	handed := make([]handedSocket, len(socks))
	for i, s := range socks {
		f, err := socketFile(s.Listener)
		if err != nil {
			closeFiles()
			return 0, fmt.Errorf("socket %s: %w", s.Addr, err)
		}
		files = append(files, f)
		handed[i] = handedSocket{s.Role, s.Addr}
	}
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, upgradeEnv+"=") || strings.HasPrefix(kv, ticketsEnv+"=")
	}), upgradeEnv+"="+formatHanded(handed))
	if tickets != nil {
		f, err := ticketsPipe(tickets)
		if err != nil {
			closeFiles()
			return 0, fmt.Errorf("session ticket keys: %w", err)
		}
		// ExtraFiles[i] is descriptor readyFD+i in the new process.
		env = append(env, ticketsEnv+"="+formatTicketsFD(os.Getpid(), readyFD+len(files)))
		files = append(files, f)
	}
	cmd := &exec.Cmd{Path: exe, Args: os.Args, Env: env, Stdout: os.Stdout, Stderr: os.Stderr, ExtraFiles: files}
	err = cmd.Start()
	closeFiles()
	if err != nil {
		return 0, err
	}
	log.Info().Int("new_pid", cmd.Process.Pid).Str("path", exe).Msg("upgrade: new process started")
	return cmd.Process.Pid, awaitReady(cmd, r)
}

// ticketsPipe returns the read end of a pipe that holds b, whole: the keys are far smaller than
// a pipe's buffer, so writing them before the reader starts does not block.
func ticketsPipe(b []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(b)
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// awaitReady waits, within upgradeTimeout, for cmd's byte on r, which says that it serves. A
// process that exits first, or does not serve in time (it is killed then), is waited for.
func awaitReady(cmd *exec.Cmd, r *os.File) error {
	r.SetReadDeadline(time.Now().Add(upgradeTimeout))
	var b [1]byte
	_, err := r.Read(b[:])
	if err == nil {
		return nil // it outlives this process, whose exit leaves it to be reaped by another
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("the new process (pid %d) did not serve within %v; killed", cmd.Process.Pid, upgradeTimeout)
	}
	if err == io.EOF {
		err = cmd.Wait()
	}
	return fmt.Errorf("the new process (pid %d) ended before it served: %v", cmd.Process.Pid, err)
}

// socketFile returns a file of its own for ln's socket, to hand to another process. It is not
// the one ln.File returns: handing that to a process puts the socket, which ln shares, in
// blocking mode (os.File.Fd), and ln's Accept would then block a thread, and its Close wait for a
// client.
func socketFile(ln net.Listener) (*os.File, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no socket", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	err = rc.Control(func(s uintptr) {
		syscall.ForkLock.RLock() // no process may inherit fd before it is marked close-on-exec
		defer syscall.ForkLock.RUnlock()
		if fd, dupErr = syscall.Dup(int(s)); dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	if err = errors.Join(err, dupErr); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "socket"), nil
}
