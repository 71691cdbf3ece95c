//go:build linux

package h1

import (
	"container/heap"
	"crypto/tls"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// A connection that stays idle past Config.ParkAfter is parked: its serve goroutine ends, and the
// Server's parking lot waits for the connection on an epoll instance of its own, and for its
// idle deadline on one timer that serves every parked connection. Whichever comes first, bytes
// (or the client's close), the deadline, or Shutdown, starts the serve goroutine again, which
// resumes the idle wait and finds the bytes, the passed deadline or the closed socket. A parked
// connection holds no goroutine, no stack and no buffer: what an idle keep-alive connection
// costs is mostly its goroutine otherwise (its g and at least a 2 KiB stack, against about
// 1.4 KiB for the rest of it).
//
// A TLS connection parks on its TCP socket. crypto/tls may hold bytes it read from the socket,
// which the socket then no longer shows; but a connection parks only after a read through
// tls.Conn waited ParkAfter for a byte in vain, so what tls.Conn holds then is at most part of a
// record, whose rest makes the socket readable when it comes.

// parkingLot is the Server's set of parked connections and the goroutine that wakes them.
type parkingLot struct {
	s    *Server
	ep   *os.File // the epoll instance, pollable by the runtime, so that waiting costs no thread
	epfd int

	mu      sync.Mutex
	conns   map[uint64]*conn // guarded by mu: parked connections by ticket
	ticket  uint64           // guarded by mu: the last ticket given
	closed  bool             // guarded by mu: no connection parks any more
	ends    deadlines        // guarded by mu: the parked connections by idle deadline
	timer   *time.Timer      // guarded by mu: fires at timerAt for the earliest deadline; nil until the first park
	timerAt time.Time        // guarded by mu

	done chan struct{} // closed when the waiting goroutine returns
}

// parkState is a connection's place in the lot, guarded by the lot's mu.
type parkState struct {
	ticket uint64 // its key in conns; 0 while not parked
	fd     int32  // its socket
	index  int32  // its place in the lot's deadlines
}

// park hands c, whose serve goroutine is about to end, to the lot, and reports whether it did;
// if not, the caller goes on on a fresh goroutine as before.
func (s *Server) park(c *conn) bool {
	tcp := tcpOf(c.rwc)
	if tcp == nil {
		return false
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return false
	}
	lot := s.parkingLot()
	if lot == nil {
		return false
	}
	fd := -1
	raw.Control(func(f uintptr) { fd = int(f) })
	if fd < 0 {
		return false
	}
	return lot.add(c, fd)
}

// parkable reports whether rwc can park: a TCP connection, or TLS over one.
func parkable(rwc net.Conn) bool { return tcpOf(rwc) != nil }

// tcpOf is rwc if it is a TCP connection, the one under it if it is TLS over one, else nil.
func tcpOf(rwc net.Conn) *net.TCPConn {
	if tc, ok := rwc.(*tls.Conn); ok {
		rwc = tc.NetConn()
	}
	tcp, _ := rwc.(*net.TCPConn)
	return tcp
}

// parkingLot returns the Server's lot, started at the first park; nil if it cannot be had.
func (s *Server) parkingLot() *parkingLot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lot != nil || s.lotFailed || s.closing.Load() {
		return s.lot
	}
	lot, err := newParkingLot(s)
	if err != nil {
		s.lotFailed = true
		s.log.Warn().Err(err).Msg("h1: idle connections keep their goroutines: no epoll")
		return nil
	}
	s.lot = lot
	return lot
}

func newParkingLot(s *Server) (*parkingLot, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	lot := &parkingLot{s: s, ep: os.NewFile(uintptr(epfd), "epoll"), epfd: epfd,
		conns: make(map[uint64]*conn), done: make(chan struct{})}
	raw, err := lot.ep.SyscallConn()
	if err != nil {
		lot.ep.Close()
		return nil, err
	}
	go lot.wait(raw)
	return lot, nil
}

// add parks c, whose socket is fd, until its idle deadline c.idleEnd. The socket is watched
// once (EPOLLONESHOT): the first event wakes c, and epoll reports bytes that came before fd
// was added as an event too, so none is missed.
func (lot *parkingLot) add(c *conn, fd int) bool {
	lot.mu.Lock()
	defer lot.mu.Unlock()
	if lot.closed {
		return false
	}
	lot.ticket++
	t := lot.ticket
	if h := lot.s.hook; h != nil {
		h("parking")
	}
	// The ticket is the event's data: Fd and Pad are its two halves.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd: int32(uint32(t)), Pad: int32(uint32(t >> 32))}
	if err := syscall.EpollCtl(lot.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	if !c.waiting() {
		// Closed meanwhile (Shutdown, Close), perhaps before fd was added: fd may be another
		// socket's now. It leaves the instance, and c goes on to its end on a goroutine.
		syscall.EpollCtl(lot.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
		return false
	}
	c.park = parkState{ticket: t, fd: int32(fd)}
	lot.conns[t] = c
	heap.Push(&lot.ends, c)
	lot.armLocked()
	if h := lot.s.hook; h != nil {
		h("parked")
	}
	return true
}

// parked reports how many connections are parked.
func (lot *parkingLot) parked() int {
	lot.mu.Lock()
	defer lot.mu.Unlock()
	return len(lot.conns)
}

// ticketOf is the ticket that add stored in ev.
func ticketOf(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// wake starts the serve goroutine of the connection parked with ticket t, if it is still parked.
func (lot *parkingLot) wake(t uint64) {
	lot.mu.Lock()
	c := lot.conns[t]
	if c == nil {
		lot.mu.Unlock()
		return
	}
	lot.leaveLocked(c)
	lot.mu.Unlock()
	lot.s.start(c)
}

// unpark takes c out of the lot, if it is parked there, and starts its serve goroutine; it
// reports whether it did. Whoever closes an idle connection unparks it first: its socket must
// leave the epoll instance before its descriptor can be reused, and its goroutine must run to
// release it.
func (lot *parkingLot) unpark(c *conn) bool {
	if lot == nil {
		return false
	}
	lot.mu.Lock()
	if c.park.ticket == 0 {
		lot.mu.Unlock()
		return false
	}
	lot.leaveLocked(c)
	lot.mu.Unlock()
	lot.s.start(c)
	return true
}

func (lot *parkingLot) leaveLocked(c *conn) {
	delete(lot.conns, c.park.ticket)
	heap.Remove(&lot.ends, int(c.park.index))
	syscall.EpollCtl(lot.epfd, syscall.EPOLL_CTL_DEL, int(c.park.fd), nil)
	c.park = parkState{}
}

// armLocked sets the timer for the earliest idle deadline, unless it fires by then already.
func (lot *parkingLot) armLocked() {
	if len(lot.ends) == 0 {
		return
	}
	end := lot.ends[0].idleEnd
	switch {
	case !lot.timerAt.IsZero() && !lot.timerAt.After(end):
		return
	case lot.timer == nil:
		lot.timer = time.AfterFunc(time.Until(end), lot.expire)
	default:
		lot.timer.Reset(time.Until(end))
	}
	lot.timerAt = end
}

// expire is the timer's: it starts the connections whose idle deadline has passed, which end
// there, and sets the timer for the next deadline. A timer that fires early, for a connection
// that has left, only sets it again.
func (lot *parkingLot) expire() {
	lot.mu.Lock()
	now := time.Now()
	var due []*conn
	for len(lot.ends) > 0 && !lot.ends[0].idleEnd.After(now) {
		c := lot.ends[0]
		lot.leaveLocked(c)
		due = append(due, c)
	}
	lot.timerAt = time.Time{}
	if len(lot.ends) > 0 {
		lot.timerAt = lot.ends[0].idleEnd
		lot.timer.Reset(time.Until(lot.timerAt))
	}
	lot.mu.Unlock()
	for _, c := range due {
		lot.s.start(c)
	}
}

// deadlines is a heap of parked connections, the earliest idle deadline first.
type deadlines []*conn

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].idleEnd.Before(d[j].idleEnd) }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].park.index, d[j].park.index = int32(i), int32(j)
}

func (d *deadlines) Push(x any) {
	c := x.(*conn)
	c.park.index = int32(len(*d))
	*d = append(*d, c)
}

func (d *deadlines) Pop() any {
	old := *d
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	return c
}

// wait is the lot's goroutine: it waits, through the runtime's poller, until the epoll instance
// has events, and wakes their connections, until the lot is closed.
func (lot *parkingLot) wait(raw syscall.RawConn) {
	defer close(lot.done)
	evs := make([]syscall.EpollEvent, 128)
	err := raw.Read(func(uintptr) bool {
		for {
			n, err := syscall.EpollWait(lot.epfd, evs, 0)
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 {
				return false // nothing now: wait for the instance to become readable again
			}
			for i := range evs[:n] {
				lot.wake(ticketOf(&evs[i]))
			}
		}
	})
	lot.mu.Lock()
	closed := lot.closed
	lot.mu.Unlock()
	if !closed {
		// Only close ends the wait. Should it break otherwise, nothing but their deadlines
		// would wake the parked connections: they go on on goroutines, and none parks again.
		lot.s.log.Error().Err(err).Msg("h1: parked connections: wait failed; idle connections no longer park")
		lot.empty()
	}
}

// close wakes the connections still parked and stops the lot; none parks after it.
func (lot *parkingLot) close() {
	if lot == nil {
		return
	}
	lot.empty()
	lot.ep.Close()
	<-lot.done
}

// empty wakes the connections still parked and closes the lot to new ones.
func (lot *parkingLot) empty() {
	lot.mu.Lock()
	lot.closed = true
	var left []*conn
	for _, c := range lot.conns {
		lot.leaveLocked(c)
		left = append(left, c)
	}
	if lot.timer != nil {
		lot.timer.Stop()
	}
	lot.mu.Unlock()
	for _, c := range left {
		lot.s.start(c)
	}
}
