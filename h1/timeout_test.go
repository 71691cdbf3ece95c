package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run in a synctest bubble over in-memory connections: time is fake and moves only
// when every goroutine is blocked, so the timeouts are checked exactly and take no real time.
// time.Sleep in a bubble only advances the fake clock.

const (
	testHeaderTimeout = 5 * time.Second
	testIdleTimeout   = 30 * time.Second
)

var timeoutConfig = Config{HeaderTimeout: testHeaderTimeout, IdleTimeout: testIdleTimeout}

const getRoot = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

func TestNewConnectionSilentClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, l := servePipe(t, timeoutConfig, text)
		conn := l.dial()
		defer conn.Close()
		start := time.Now()
		b, err := io.ReadAll(conn)
		if len(b) != 0 || err != nil {
			t.Errorf("got %q, %v; want a silent close", b, err)
		}
		if d := time.Since(start); d != testHeaderTimeout {
			t.Errorf("closed after %v, want %v", d, testHeaderTimeout)
		}
	})
}

func TestPartialHeadTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, l := servePipe(t, timeoutConfig, text)
		c := newClient(t, l.dial())
		start := time.Now()
		time.Sleep(time.Second)
		c.send("GET / HTTP/1.1\r\nHo")
		r := c.read("GET")
		if r.StatusCode != 408 || !r.Close {
			t.Errorf("got %d close %v, want 408 with Connection: close", r.StatusCode, r.Close)
		}
		// A new connection's head is due HeaderTimeout after the accept.
		if d := time.Since(start); d != testHeaderTimeout {
			t.Errorf("answered after %v, want %v", d, testHeaderTimeout)
		}
		c.expectClosed()
	})
}

func TestKeptAliveConnectionTimeouts(t *testing.T) {
	t.Run("idle close is silent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, l := servePipe(t, timeoutConfig, text)
			c := newClient(t, l.dial())
			c.roundTrip(getRoot)
			start := time.Now()
			b, err := io.ReadAll(c.br)
			if len(b) != 0 || err != nil {
				t.Errorf("got %q, %v; want a silent close", b, err)
			}
			if d := time.Since(start); d != testIdleTimeout {
				t.Errorf("closed after %v idle, want %v", d, testIdleTimeout)
			}
		})
	})
	t.Run("partial head after idling gets 408", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, l := servePipe(t, timeoutConfig, text)
			c := newClient(t, l.dial())
			c.roundTrip(getRoot)
			// Idle almost to the idle timeout: the head's own timeout starts with its first byte.
			time.Sleep(testIdleTimeout - time.Second)
			c.send("GET / HT")
			start := time.Now()
			r := c.read("GET")
			if r.StatusCode != 408 || !r.Close {
				t.Errorf("got %d close %v, want 408 with Connection: close", r.StatusCode, r.Close)
			}
			if d := time.Since(start); d != testHeaderTimeout {
				t.Errorf("answered %v after the first byte, want %v", d, testHeaderTimeout)
			}
			c.expectClosed()
		})
	})
	t.Run("slow but complete head is served", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, l := servePipe(t, timeoutConfig, text)
			c := newClient(t, l.dial())
			c.roundTrip(getRoot)
			c.send("GET /slow HTTP/1.1\r\n")
			time.Sleep(testHeaderTimeout - time.Millisecond)
			if r := c.roundTrip("Host: a\r\n\r\n"); r.body != "GET /slow" {
				t.Errorf("got %d %q, want the request served", r.StatusCode, r.body)
			}
		})
	})
}

func TestIdleConnectionReleasesReadBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, l := servePipe(t, timeoutConfig, text)
		c := newClient(t, l.dial())
		c.roundTrip(getRoot)
		synctest.Wait()
		s.mu.Lock()
		for sc := range s.conns {
			if sc.br != nil || sc.bw != nil {
				t.Errorf("waiting for the next request: got reader %v writer %v, want both released at once", sc.br != nil, sc.bw != nil)
			}
		}
		s.mu.Unlock()
		// The byte read without a buffer starts the next request.
		if r := c.roundTrip("GET /after HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "GET /after" {
			t.Errorf("after release: got %q, want %q", r.body, "GET /after")
		}
		// The idle timeout still counts from the end of the last response, across the move to a
		// fresh goroutine.
		start := time.Now()
		if b, err := io.ReadAll(c.br); len(b) != 0 || err != nil || time.Since(start) != testIdleTimeout {
			t.Errorf("got %q, %v after %v; want a silent close after %v", b, err, time.Since(start), testIdleTimeout)
		}
	})
}

// goroutineID is the number of the calling goroutine, from its stack trace.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
}

// TestIdleConnectionShedsGoroutine: a connection idle for idleShed goes on on a fresh goroutine;
// the one that ran its handler, and grew its stack, ends. A connection whose next request comes
// sooner stays on its goroutine.
func TestIdleConnectionShedsGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ids := make(chan string, 4)
		s, l := servePipe(t, timeoutConfig, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ids <- goroutineID()
			io.WriteString(w, "ok")
		}))
		c := newClient(t, l.dial())
		c.roundTrip(getRoot)
		first := <-ids
		time.Sleep(idleShed / 2)
		c.roundTrip(getRoot)
		if id := <-ids; id != first {
			t.Errorf("next request after %v: served on goroutine %s, want the same goroutine %s", idleShed/2, id, first)
		}
		time.Sleep(idleShed + time.Millisecond)
		synctest.Wait()
		buf := make([]byte, 1<<20)
		if all := string(buf[:runtime.Stack(buf, true)]); strings.Contains(all, "goroutine "+first+" [") {
			t.Errorf("idle for %v: goroutine %s that ran the handler still exists, want it ended", idleShed, first)
		}
		c.roundTrip(getRoot)
		if id := <-ids; id == first {
			t.Errorf("after the idle wait: served on goroutine %s again, want a fresh one", id)
		}

		// Shutdown closes a connection that waits on its fresh goroutine once its grace is over.
		time.Sleep(idleShed + time.Millisecond)
		synctest.Wait()
		start := time.Now()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if b, err := io.ReadAll(c.br); len(b) != 0 || err != nil || time.Since(start) != defaultDrainGrace {
			t.Errorf("after Shutdown: got %q, %v after %v; want a silent close after %v", b, err, time.Since(start), defaultDrainGrace)
		}
	})
}

// TestShutdownDrainGrace: once Shutdown has begun, a kept-alive connection that sends its next
// request within DrainGrace gets it answered, with Connection: close; one that stays silent is
// closed when the grace is over. Without a grace (negative), idle connections close at once.
func TestShutdownDrainGrace(t *testing.T) {
	const grace = 3 * time.Second
	synctest.Test(t, func(t *testing.T) {
		cfg := timeoutConfig
		cfg.DrainGrace = grace
		s, l := servePipe(t, cfg, text)
		busy, silent := newClient(t, l.dial()), newClient(t, l.dial())
		busy.roundTrip(getRoot)
		silent.roundTrip(getRoot)
		start := time.Now()
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		time.Sleep(grace - time.Millisecond)
		if r := busy.roundTrip(getRoot); r.StatusCode != http.StatusOK || !r.Close {
			t.Errorf("a request within the grace: %s (close %v), want 200 with Connection: close", r.Status, r.Close)
		}
		if b, err := io.ReadAll(busy.br); len(b) != 0 || err != nil {
			t.Errorf("after its answer: got %q, %v; want the connection closed", b, err)
		}
		if b, err := io.ReadAll(silent.br); len(b) != 0 || err != nil || time.Since(start) != grace {
			t.Errorf("a silent connection: got %q, %v after %v; want it closed after %v", b, err, time.Since(start), grace)
		}
		if err := <-shut; err != nil || time.Since(start) != grace {
			t.Errorf("Shutdown: %v after %v, want nil after %v", err, time.Since(start), grace)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		cfg := timeoutConfig
		cfg.DrainGrace = -1
		s, l := servePipe(t, cfg, text)
		c := newClient(t, l.dial())
		c.roundTrip(getRoot)
		start := time.Now()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if b, err := io.ReadAll(c.br); len(b) != 0 || err != nil || time.Since(start) != 0 {
			t.Errorf("no grace: got %q, %v after %v; want a silent close at once", b, err, time.Since(start))
		}
	})
}

func TestMaxConnsPausesAccept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, l := servePipe(t, Config{MaxConns: 2}, text)
		a := newClient(t, l.dial())
		a.roundTrip(getRoot)
		b := newClient(t, l.dial())
		b.roundTrip(getRoot)
		waiting := l.dial()
		synctest.Wait()
		if n := len(l.conns); n != 1 {
			t.Errorf("at the cap: got %d connections waiting for Accept, want 1", n)
		}
		if st := s.State(); st.Conns != 2 {
			t.Errorf("at the cap: got %+v, want 2 connections", st)
		}
		a.conn.Close()
		synctest.Wait()
		if n := len(l.conns); n != 0 {
			t.Errorf("after a close: got %d connections waiting, want 0", n)
		}
		if r := newClient(t, waiting).roundTrip(getRoot); r.StatusCode != 200 {
			t.Errorf("accepted after the pause: got %d, want 200", r.StatusCode)
		}
	})
}

// TestMaxConnsStopAccepting: an accept loop that waits at the cap for a connection slot returns
// once shutdown begins, while the connection that holds the slot stays open.
func TestMaxConnsStopAccepting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newPipeListener()
		s := New(Config{MaxConns: 1, Logger: testLogger(t)}, text)
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		newClient(t, l.dial()).roundTrip(getRoot)
		synctest.Wait()
		s.StopAccepting()
		synctest.Wait()
		select {
		case err := <-served:
			if err != http.ErrServerClosed {
				t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
			}
		default:
			t.Error("Serve still waits for a connection slot after StopAccepting")
		}
		s.Close()
	})
}

// flakyListener fails Accept with EMFILE a given number of times first.
type flakyListener struct {
	*pipeListener
	fails atomic.Int32
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", l.err)}
	}
	return l.pipeListener.Accept()
}

func TestAcceptBacksOffOnTemporaryErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &flakyListener{pipeListener: newPipeListener(), err: syscall.EMFILE}
		l.fails.Store(3)
		s := New(Config{Logger: testLogger(t)}, text)
		served := make(chan error, 1)
		start := time.Now()
		go func() { served <- s.Serve(l) }()
		c := newClient(t, l.dial())
		if r := c.roundTrip(getRoot); r.StatusCode != 200 {
			t.Errorf("after EMFILE: got %d, want 200", r.StatusCode)
		}
		if d, want := time.Since(start), 5*time.Millisecond+10*time.Millisecond+20*time.Millisecond; d != want {
			t.Errorf("served after %v, want the back-off of %v", d, want)
		}
		s.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		l := &flakyListener{pipeListener: newPipeListener(), err: syscall.EINVAL}
		l.fails.Store(1)
		s := New(Config{Logger: testLogger(t)}, text)
		if err := s.Serve(l); err == nil || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Serve: got %v, want the permanent Accept error", err)
		}
		s.Close()
	})
}

// TestPartialHeadTimeoutReported: the refusal of a head that did not arrive in time reports
// the request line when that had come whole, and none otherwise.
func TestPartialHeadTimeoutReported(t *testing.T) {
	for _, tc := range []struct {
		sent string
		want Refusal
	}{
		{"GET /partial?q HTTP/1.1\r\nHost: a\r\n", Refusal{Method: "GET", Target: "/partial?q", Proto: "HTTP/1.1", Status: 408, Reason: "request_head_timeout"}},
		{"GET /parti", Refusal{Status: 408, Reason: "request_head_timeout"}},
	} {
		synctest.Test(t, func(t *testing.T) {
			refusals := make(chan Refusal, 1)
			cfg := timeoutConfig
			cfg.OnRefusal = func(r Refusal) { refusals <- r }
			_, l := servePipe(t, cfg, text)
			c := newClient(t, l.dial())
			c.send(tc.sent)
			if r := c.read("GET"); r.StatusCode != 408 {
				t.Errorf("%q: got %d, want 408", tc.sent, r.StatusCode)
			}
			got := <-refusals
			got.RemoteAddr = ""
			if got != tc.want {
				t.Errorf("%q: reported %+v, want %+v", tc.sent, got, tc.want)
			}
		})
	}
}

// TestSilentConnectionOverTCP: over a real socket, where a new connection's first wait sets its
// read deadline only once the socket has nothing to read (onReadable), a connection that sends
// nothing is still closed, silently, at HeaderTimeout.
func TestSilentConnectionOverTCP(t *testing.T) {
	const timeout = 300 * time.Millisecond
	_, addr := startServer(t, Config{HeaderTimeout: timeout}, text)
	c := dial(t, addr)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < timeout/2 {
		t.Errorf("closed after %v, want about the header timeout of %v", d, timeout)
	}
}
