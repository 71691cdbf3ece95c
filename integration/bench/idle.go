//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// raiseFileLimit sets the soft RLIMIT_NOFILE to the hard one, for the idle connections and for
// the children, which inherit it (Go restores its own start-up raise in children unless the
// program sets the limit itself). It returns the new limit.
func raiseFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("rlimit: %w", err)
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("rlimit: %w", err)
	}
	return r.Cur, nil
}

// fdLimit is the current soft RLIMIT_NOFILE.
func fdLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 1024
	}
	return r.Cur
}

// fdReserve is what the bench process keeps free of the file limit besides the idle connections:
// its listeners, the upstream's connections, h2load's pipes.
const fdReserve = 512

// idleSet is a set of open keep-alive client connections, each of which has had one response.
type idleSet struct {
	conns   []net.Conn      // the connections that got their response and stayed open
	times   []time.Duration // connect to end of response, sorted
	failed  int             // connections that could not be opened or got no 200
	elapsed time.Duration   // time to open them all
	lastErr error           // the last failure, for the report
}

// openIdle opens n connections to addr, workers at a time; each sends one GET and reads the
// whole response, then is left open. The caller closes the set. It gives up at ctx's end.
func openIdle(ctx context.Context, addr string, n, workers int) *idleSet {
	s := &idleSet{conns: make([]net.Conn, 0, n), times: make([]time.Duration, 0, n)}
	var (
		next atomic.Int64
		mu   sync.Mutex // guards s's fields while the workers run
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				t0 := time.Now()
				c, err := oneRequest(ctx, addr)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					s.failed++
					s.lastErr = err
				} else {
					s.conns = append(s.conns, c)
					s.times = append(s.times, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	s.failed += n - len(s.conns) - s.failed // the ones never tried, when ctx ended
	slices.Sort(s.times)
	return s
}

// oneRequest dials addr and reads one response to GET /bytes/100 on a keep-alive connection.
func oneRequest(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /bytes/100 HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != http.StatusOK || resp.Close) {
			err = fmt.Errorf("idle: got %q, close %v; want 200 on a kept-alive connection", resp.Status, resp.Close)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// closedByPeer counts the connections the proxy has closed: a read that returns at once with
// EOF or a reset, where a live idle connection only times out.
func (s *idleSet) closedByPeer() int {
	var closed atomic.Int64
	var wg sync.WaitGroup
	const workers = 256
	for w := range workers {
		wg.Go(func() {
			var b [1]byte
			for i := w; i < len(s.conns); i += workers {
				c := s.conns[i]
				c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
				_, err := c.Read(b[:])
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					closed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(closed.Load())
}

func (s *idleSet) close() {
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}
