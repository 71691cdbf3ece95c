package h1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Slow clients, under testing/synctest over in-memory connections (which buffer nothing, so a
// client that does not read stalls the server's write at once).

const (
	testWriteTimeout = 20 * time.Second
	testBodyTimeout  = 15 * time.Second
)

var slowConfig = Config{HeaderTimeout: testHeaderTimeout, IdleTimeout: time.Hour,
	WriteTimeout: testWriteTimeout, BodyReadTimeout: testBodyTimeout}

// handlerEnd is what a handler saw when it returned.
type handlerEnd struct {
	err   error         // the error that ended its work
	cause error         // context.Cause of its request
	after time.Duration // since it started
}

func TestWriteTimeoutCutsClientThatStopsReading(t *testing.T) {
	for _, pipelined := range []bool{false, true} {
		name := map[bool]string{false: "alone", true: "pipelined"}[pipelined]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ended := make(chan handlerEnd, 2)
				_, l := servePipe(t, slowConfig, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/stream" {
						io.WriteString(w, "quick")
						return
					}
					start := time.Now()
					chunk := strings.Repeat("s", 1024)
					for {
						if _, err := io.WriteString(w, chunk); err != nil {
							ended <- handlerEnd{err, context.Cause(r.Context()), time.Since(start)}
							return
						}
						w.(http.Flusher).Flush()
					}
				}))
				stuck := newClient(t, l.dial())
				if pipelined {
					stuck.send(pipelineOf("/stream", "/after"))
				} else {
					stuck.send(pipelineOf("/stream"))
				}

				// Another client is served at once while the first one is stuck.
				start := time.Now()
				other := newClient(t, l.dial())
				if r := other.roundTrip(getRoot); r.body != "quick" || time.Since(start) != 0 {
					t.Errorf("other client: got %q after %v, want quick at once", r.body, time.Since(start))
				}

				e := <-ended
				if !errors.Is(e.cause, errWriteTimeout) {
					t.Errorf("request context cause: got %v, want %v", e.cause, errWriteTimeout)
				}
				if e.after < testWriteTimeout/2 || e.after > testWriteTimeout {
					t.Errorf("cut after %v, want between %v and %v", e.after, testWriteTimeout/2, testWriteTimeout)
				}
				stuck.conn.SetReadDeadline(time.Now().Add(time.Minute))
				if _, err := io.ReadAll(stuck.conn); err != nil {
					t.Errorf("stuck client: got %v, want the connection closed", err)
				}
			})
		})
	}
}

func TestBodyReadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ended := make(chan handlerEnd, 1)
		_, l := servePipe(t, slowConfig, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				io.WriteString(w, "quick")
				return
			}
			start := time.Now()
			b, err := io.ReadAll(r.Body)
			if err == nil {
				io.WriteString(w, "got "+itoa(len(b)))
				return
			}
			ended <- handlerEnd{err, context.Cause(r.Context()), time.Since(start)}
			if r.URL.Path == "/answered" {
				w.WriteHeader(http.StatusBadRequest)
			}
		}))

		// A client that sends part of its body and stops.
		c := newClient(t, l.dial())
		c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
		other := newClient(t, l.dial())
		start := time.Now()
		if r := other.roundTrip(getRoot); r.body != "quick" || time.Since(start) != 0 {
			t.Errorf("other client: got %q after %v, want quick at once", r.body, time.Since(start))
		}
		e := <-ended
		if !errors.Is(e.err, ErrBodyTimeout) || !errors.Is(e.cause, ErrBodyTimeout) {
			t.Errorf("handler: got error %v, cause %v; want ErrBodyTimeout for both", e.err, e.cause)
		}
		if e.after != testBodyTimeout {
			t.Errorf("cut after %v, want %v", e.after, testBodyTimeout)
		}
		if r := c.read("POST"); r.StatusCode != http.StatusRequestTimeout || !r.Close {
			t.Errorf("got %d close %v, want 408 with Connection: close", r.StatusCode, r.Close)
		}
		c.expectClosed()

		// A handler that answers the failure itself: its response says the connection closes.
		c = newClient(t, l.dial())
		c.send("POST /answered HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
		<-ended
		if r := c.read("POST"); r.StatusCode != http.StatusBadRequest || !r.Close {
			t.Errorf("handler's own answer: got %d close %v, want 400 with Connection: close", r.StatusCode, r.Close)
		}
		c.expectClosed()

		// A client that sends slowly, but within the timeout between reads, is served.
		slow := newClient(t, l.dial())
		slow.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n")
		for range 3 {
			time.Sleep(testBodyTimeout - time.Second)
			slow.send("x")
		}
		if r := slow.read("POST"); r.body != "got 3" {
			t.Errorf("slow client: got %d %q, want %q", r.StatusCode, r.body, "got 3")
		}
	})
}

// TestBodyDeadlineDoesNotOutliveBody: after a body read completes, its deadline does not linger
// into the wait that notices a client going away.
func TestBodyDeadlineDoesNotOutliveBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done := make(chan error, 1)
		_, l := servePipe(t, slowConfig, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			// Work longer than the body timeout after the body was read whole.
			select {
			case <-time.After(2 * testBodyTimeout):
				done <- nil
			case <-r.Context().Done():
				done <- context.Cause(r.Context())
			}
			io.WriteString(w, "done")
		}))
		c := newClient(t, l.dial())
		c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n")
		synctest.Wait() // the handler waits for the body, under the body's deadline
		if r := c.roundTrip("hi"); r.body != "done" {
			t.Errorf("got %q, want done", r.body)
		}
		if err := <-done; err != nil {
			t.Errorf("handler cancelled with %v, want it to finish", err)
		}
	})
}

// TestMinBodyRate: a client that sends a byte a second, each within BodyReadTimeout, is cut off
// once the grace period is over; a client at a healthy rate, and a client held back by a handler
// that reads slowly, are served.
func TestMinBodyRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := slowConfig
		cfg.MinBodyRate = 1024
		ended := make(chan handlerEnd, 1)
		_, l := servePipe(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			var b []byte
			var err error
			if r.URL.Path == "/sip" {
				// A handler that takes a byte every 2s: its pace is not the client's.
				p := make([]byte, 1)
				for err == nil {
					var n int
					n, err = r.Body.Read(p)
					b = append(b, p[:n]...)
					time.Sleep(2 * time.Second)
				}
				if err == io.EOF {
					err = nil
				}
			} else {
				b, err = io.ReadAll(r.Body)
			}
			if err == nil {
				io.WriteString(w, "got "+itoa(len(b)))
				return
			}
			ended <- handlerEnd{err, context.Cause(r.Context()), time.Since(start)}
		}))

		// trickle sends size bytes of content, step bytes every every, from a goroutine of its
		// own, and stops when the server closes the connection.
		trickle := func(c *client, path string, size, step int, every time.Duration) <-chan struct{} {
			c.send("POST " + path + " HTTP/1.1\r\nHost: a\r\nContent-Length: " + itoa(size) + "\r\n\r\n")
			done := make(chan struct{})
			go func() {
				defer close(done)
				for sent := 0; sent < size; sent += step {
					time.Sleep(every)
					if _, err := c.conn.Write([]byte(strings.Repeat("x", step))); err != nil {
						return
					}
				}
			}()
			return done
		}

		// One byte a second beats BodyReadTimeout on every read but not the rate.
		c := newClient(t, l.dial())
		done := trickle(c, "/upload", 100, 1, time.Second)
		e := <-ended
		if !errors.Is(e.err, ErrBodyTimeout) || !errors.Is(e.cause, ErrBodyTimeout) {
			t.Errorf("trickling client: got error %v, cause %v; want ErrBodyTimeout for both", e.err, e.cause)
		}
		if want := minRateGrace + time.Second; e.after != want {
			t.Errorf("trickling client cut after %v, want %v (the first byte after the grace period)", e.after, want)
		}
		if r := c.read("POST"); r.StatusCode != http.StatusRequestTimeout || !r.Close {
			t.Errorf("trickling client: got %d close %v, want 408 with Connection: close", r.StatusCode, r.Close)
		}
		c.expectClosed()
		<-done

		// 2 KiB a second, a quarter at a time, for longer than the grace period.
		c = newClient(t, l.dial())
		done = trickle(c, "/upload", 20<<10, 512, time.Second/4)
		if r := c.read("POST"); r.body != "got "+itoa(20<<10) {
			t.Errorf("healthy client: got %d %q, want %q", r.StatusCode, r.body, "got "+itoa(20<<10))
		}
		<-done

		// Each byte is ready at once, but the handler takes one every 2s, for 40s.
		c = newClient(t, l.dial())
		done = trickle(c, "/sip", 20, 1, 0)
		if r := c.read("POST"); r.body != "got 20" {
			t.Errorf("client of a slow handler: got %d %q, want %q", r.StatusCode, r.body, "got 20")
		}
		<-done
	})
}

// TestWriteTimeoutOverTCP: over a real socket, whose writes go out without a deadline while the
// socket takes them whole (writeNow), a client that stops reading is still cut: once the socket's
// buffers fill, the write that waits does so under WriteTimeout.
func TestWriteTimeoutOverTCP(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ended := make(chan handlerEnd, 1)
	_, addr := startServer(t, Config{WriteTimeout: timeout}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		chunk := strings.Repeat("s", 16<<10)
		for {
			if _, err := io.WriteString(w, chunk); err != nil {
				ended <- handlerEnd{err, context.Cause(r.Context()), time.Since(start)}
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	stuck := dial(t, addr)
	stuck.send(pipelineOf("/stream"))
	select {
	case e := <-ended:
		if !errors.Is(e.cause, errWriteTimeout) {
			t.Errorf("request context cause: got %v, want %v", e.cause, errWriteTimeout)
		}
	case <-time.After(safetyNet):
		t.Fatalf("a client that stopped reading was not cut within %v (WriteTimeout %v)", safetyNet, timeout)
	}
}
