package h1

import (
	"bufio"
	"net/http"
	"sync"
	"time"
)

// Tunnel is a client connection switched to another protocol by a 101 response (Upgrade): the
// bytes that follow the request head, read with Read, and those that go back, written with
// Write. Read and Write may run on two goroutines at once; neither may be called by two.
//
// A tunnel that carries no byte either way for Config.TunnelIdleTimeout is cut: its request's
// context is cancelled with ErrTunnelIdle, and Read and Write fail. Shutdown cuts it at its
// deadline, as any connection that is still busy. The connection closes once the handler
// returns, which ends the tunnel.
type Tunnel struct {
	c     *conn
	watch *idleWatch // touched by each byte either way; cuts the tunnel once idle

	// Owned by the goroutine that reads: WaitRead's callback, bound once, and the failure its
	// peek took, which the next Read returns.
	peek    func(fd uintptr) bool
	peekErr error

	mu    sync.Mutex
	ended bool           // guarded by mu: the handler returned, and Read and Write fail at once
	calls sync.WaitGroup // the Reads and Writes in progress; added to under mu while !ended
}

// CanUpgrade reports whether Upgrade may switch the connection of w, as far as the request goes:
// see Upgrade.
func CanUpgrade(rw http.ResponseWriter) bool {
	w, ok := rw.(*response)
	return ok && w.head.upgrade && w.out.p == nil && w.fin == nil
}

// Upgrade switches the connection of w, a ResponseWriter of this package's, to protocol: it sends
// "101 Switching Protocols" with Connection: upgrade, Upgrade: protocol and the fields set in
// w.Header() (RFC 9110 7.8, 15.2.2), and returns the tunnel that the connection has become. It
// returns ErrNotUpgradable, writing nothing, unless the request was an HTTP/1.1 request without
// content whose Connection listed "upgrade" beside an Upgrade field, was not dispatched with a
// pipeline, and nothing of the response was written; and the error that ended the connection if
// the client has gone.
//
// Nothing is read past a request that may switch before its handler returns, so the bytes that
// follow its head are the tunnel's. The connection closes when the handler returns.
func Upgrade(rw http.ResponseWriter, protocol string) (*Tunnel, error) {
	if !CanUpgrade(rw) || !isToken(protocol) {
		return nil, ErrNotUpgradable
	}
	w := rw.(*response)
	if w.done || w.wroteHeader {
		return nil, ErrNotUpgradable
	}
	c := w.c
	// The watch may be reading ahead: the bytes it took are the tunnel's first.
	c.cr.disarm()
	c.rdl = time.Time{}
	if c.cr.gone != nil {
		return nil, c.cr.gone
	}
	if err := c.rwc.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	w.writeSwitch(protocol)
	if err := w.bw.Flush(); err != nil {
		return nil, err
	}
	// The tunnel writes to the socket itself: the response's writer goes back to its pool, for
	// one that holds no buffer of its size, which finish flushes with nothing in it.
	putWriter(w.bw)
	w.bw = bufio.NewWriterSize(c, 16)
	c.bw = w.bw
	t := &Tunnel{c: c}
	t.watch = newIdleWatch(&c.s.clock, c.s.cfg.TunnelIdleTimeout, func() {
		c.fail(ErrTunnelIdle)
		c.rwc.SetDeadline(aLongTimeAgo)
	})
	w.tunnel = t
	return t, nil
}

// writeSwitch writes the head of a 101 response to protocol into w's writer. The connection
// closes after it: whatever follows is the other protocol's.
func (w *response) writeSwitch(protocol string) {
	w.mu.Lock()
	w.wroteHeader = true
	w.headerMark = w.produced() + int64(w.bw.Buffered())
	w.mu.Unlock()
	w.status, w.mode, w.closeAfter = http.StatusSwitchingProtocols, bodyNone, true
	bw := w.bw
	writeStatusLine(bw, http.StatusSwitchingProtocols)
	bw.WriteString("Connection: upgrade\r\n")
	writeField(bw, "Upgrade", protocol)
	for k, vv := range w.header {
		if k == "Upgrade" || !w.sendField(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if _, ok := w.header["Date"]; !ok {
		bw.Write(w.c.s.clock.dateLine())
	}
	bw.WriteString("\r\n")
}

// Read reads what the client sends after the request head.
func (t *Tunnel) Read(p []byte) (int, error) {
	if !t.enter() {
		return 0, ErrTunnelClosed
	}
	defer t.calls.Done()
	c := t.c
	var n int
	var err error
	if t.peekErr != nil {
		n, err, t.peekErr = 0, t.peekErr, nil
	} else if c.br != nil && c.br.Buffered() > 0 {
		n, err = c.br.Read(p)
	} else {
		if c.br != nil {
			// What the head's reader held is read: the tunnel reads the connection without it.
			putReader(c.br)
			c.br = nil
		}
		n, err = c.cr.Read(p)
	}
	if n > 0 {
		t.watch.touch()
	}
	return n, t.failure(err)
}

// WaitRead blocks until a Read would not block: the client has sent bytes, or its connection has
// ended or failed, or the tunnel was cut (Read then says which); it reports true then. It holds no
// buffer while it waits, so that a reader which takes its buffer only once WaitRead returns spends
// none on an idle tunnel. Over TLS, whose records only a read can tell, it reports false at once.
func (t *Tunnel) WaitRead() bool {
	if !t.enter() {
		return true // Read fails at once
	}
	defer t.calls.Done()
	c := t.c
	if c.br != nil && c.br.Buffered() > 0 {
		return true
	}
	if t.peek == nil {
		t.peek = t.onPeek
	}
	return c.cr.waitReadable(t.peek)
}

// onPeek is WaitRead's callback (see peekSocket).
func (t *Tunnel) onPeek(fd uintptr) bool {
	var b [1]byte
	_, ready, err := peekSocket(fd, b[:])
	if err != nil {
		t.peekErr = err
	}
	return ready
}

// Write sends p to the client, within Config.WriteTimeout.
func (t *Tunnel) Write(p []byte) (int, error) {
	if !t.enter() {
		return 0, ErrTunnelClosed
	}
	defer t.calls.Done()
	n, err := t.c.writeSocket(p)
	if n > 0 {
		t.watch.touch()
	}
	return n, t.failure(err)
}

// CloseWrite ends what goes to the client (a TCP half-close, after TLS close_notify); the
// client's side may still send.
func (t *Tunnel) CloseWrite() error {
	if !t.enter() {
		return ErrTunnelClosed
	}
	defer t.calls.Done()
	if !halfClose(t.c.rwc) {
		return t.c.rwc.Close()
	}
	return nil
}

// CloseRead stops a Read in progress, on any goroutine, and fails the Reads after it; writing
// goes on.
func (t *Tunnel) CloseRead() error { return t.c.rwc.SetReadDeadline(aLongTimeAgo) }

// Close stops a Read or Write in progress, on any goroutine, and fails those after it.
func (t *Tunnel) Close() error { return t.c.rwc.SetDeadline(aLongTimeAgo) }

// enter admits a Read or Write, which then calls t.calls.Done, unless the tunnel has ended.
func (t *Tunnel) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	t.calls.Add(1)
	return true
}

// end runs once the handler returned, before the connection closes and gives back its buffers:
// it stops the idle timer and the Reads and Writes still in progress on other goroutines, waits
// for them, and fails those after it.
func (t *Tunnel) end() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	t.watch.stop()
	t.Close()
	t.calls.Wait()
}

// failure is the error a Read or Write returns for err: the tunnel's cause where the connection
// failed (an idle tunnel, Shutdown), err otherwise.
func (t *Tunnel) failure(err error) error {
	if err == nil || isEOF(err) {
		return err
	}
	if cause := t.c.failure(); cause != nil {
		return cause
	}
	return err
}
