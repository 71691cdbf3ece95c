package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

func TestLeastLoadedAndGrowOnlyWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(3)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2}}, d)

		// Each step either opens a request and wants it on a session, or
		// closes an earlier request's body.
		steps := []struct {
			close       int // index of the request to close, or -1
			wantSession uint64
			wantDials   int
		}{
			{-1, 1, 1}, // r0: first session
			{-1, 1, 1}, // r1: room on 1, no dial
			{-1, 1, 1}, // r2: 1 is now full
			{-1, 2, 2}, // r3: all full: dial 2
			{0, 0, 2},  // close r0: 1 has 2, 2 has 1
			{-1, 2, 2}, // r4: least loaded is 2
			{1, 0, 2},  // close r1: 1 has 1, 2 has 2
			{-1, 1, 2}, // r5: least loaded is 1
		}
		var open []*http.Response
		for i, s := range steps {
			if s.close >= 0 {
				open[s.close].Body.Close()
				continue
			}
			r := mustGet(t, p)
			open = append(open, r.res)
			if r.info.SessionID != s.wantSession {
				t.Errorf("step %d: session %d, want %d", i, r.info.SessionID, s.wantSession)
			}
			if dials, _, _ := d.stats(); dials != s.wantDials {
				t.Errorf("step %d: %d dials, want %d", i, dials, s.wantDials)
			}
		}
		st := p.State()
		if len(st.Sessions) != 2 || st.Sessions[0].InFlight != 2 || st.Sessions[1].InFlight != 2 {
			t.Errorf("State sessions = %+v, want 2 sessions with 2 in flight each", st.Sessions)
		}
		if n := p.Load(); n != 4 {
			t.Errorf("Load = %d, want 4 (the streams in flight)", n)
		}
	})
}

func TestOneDialAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		d := &fakeDialer{result: sessionsWith(1), gate: gate}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 4}}, d)

		var results []<-chan result
		for range 5 {
			results = append(results, goGet(p))
		}
		synctest.Wait()
		if dials, _, _ := d.stats(); dials != 1 {
			t.Fatalf("%d dials started for 5 queued requests, want 1", dials)
		}
		if st := p.State(); !st.Dialing || st.Queued != 5 {
			t.Fatalf("State: dialing %v queued %d, want true and 5", st.Dialing, st.Queued)
		}
		// Each session takes one stream, so each dial serves one waiter and
		// the next dial starts only when the previous one ended.
		for i := 1; i <= 4; i++ {
			gate <- struct{}{}
			synctest.Wait()
			if st := p.State(); len(st.Sessions) != i {
				t.Fatalf("after dial %d: %d sessions, want %d", i, len(st.Sessions), i)
			}
		}
		if dials, maxActive, _ := d.stats(); dials != 4 || maxActive != 1 {
			t.Errorf("dials %d, at once %d; want 4 and 1 (MaxSessions 4)", dials, maxActive)
		}
		if st := p.State(); st.Queued != 1 || st.Dialing {
			t.Errorf("State: queued %d dialing %v, want 1 and false", st.Queued, st.Dialing)
		}
		if n := p.Load(); n != 5 {
			t.Errorf("Load = %d, want 5 (4 streams in flight, 1 queued)", n)
		}
		var done []result
		for _, c := range results {
			select {
			case r := <-c:
				done = append(done, r)
			default:
			}
		}
		if len(done) != 4 {
			t.Fatalf("%d requests done, want 4", len(done))
		}
		done[0].res.Body.Close()
		synctest.Wait()
		if st := p.State(); st.Queued != 0 {
			t.Errorf("after a release: %d queued, want 0", st.Queued)
		}
	})
}

func TestLocalStreamCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(100)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2, MaxStreamsPerSession: 1}}, d)
		a := mustGet(t, p)
		b := mustGet(t, p)
		if a.info.SessionID == b.info.SessionID {
			t.Errorf("both requests on session %d; the local cap of 1 stream wants two sessions", a.info.SessionID)
		}
		c := goGet(p)
		synctest.Wait()
		if st := p.State(); st.Queued != 1 {
			t.Fatalf("third request: %d queued, want 1", st.Queued)
		}
		b.res.Body.Close()
		r := <-c
		if r.err != nil || r.info.SessionID != b.info.SessionID {
			t.Errorf("woken request: session %d err %v, want session %d", r.info.SessionID, r.err, b.info.SessionID)
		}
	})
}

func TestQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 1, QueueLength: 1}}, d)
		first := mustGet(t, p)
		queued := goGet(p)
		synctest.Wait()
		if r := get(p); !errors.Is(r.err, ErrQueueFull) {
			t.Errorf("third request: err %v, want ErrQueueFull", r.err)
		}
		first.res.Body.Close()
		if r := <-queued; r.err != nil {
			t.Errorf("queued request: %v", r.err)
		}
	})
}

// TestQueueTimeout: each queued request times out exactly QueueTimeout after it was queued,
// although one timer serves the whole queue, and leaves the queue.
func TestQueueTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 1, QueueTimeout: 2 * time.Second}}, d)
		mustGet(t, p)
		start := time.Now()
		type timedOut struct {
			after time.Duration
			err   error
		}
		done := make(chan timedOut, 3)
		for i := range 3 {
			go func() {
				r := get(p)
				done <- timedOut{time.Since(start), r.err}
			}()
			if i < 2 {
				time.Sleep(730 * time.Millisecond) // fake time: queued 0.73 s apart, off the sweeps
			}
		}
		for i := range 3 {
			r := <-done
			want := 2*time.Second + time.Duration(i)*730*time.Millisecond
			if !errors.Is(r.err, ErrQueueTimeout) || r.after != want {
				t.Errorf("waiter %d: %v after %v, want ErrQueueTimeout after %v", i, r.err, r.after, want)
			}
		}
		if st := p.State(); st.Queued != 0 {
			t.Errorf("%d still queued after the timeouts", st.Queued)
		}
	})
}

// TestWaiterContextCanceled: a queued request whose context ends stops waiting within
// queuePoll and leaves the queue.
func TestWaiterContextCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		mustGet(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://upstream/", nil)
		errc := make(chan error, 1)
		go func() {
			_, err := p.RoundTrip(req)
			errc <- err
		}()
		time.Sleep(30 * time.Millisecond) // fake time: the wait is between two sweeps
		cancel()
		canceled := time.Now()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
		if d := time.Since(canceled); d > queuePoll {
			t.Errorf("the wait ended %v after its context, want at most %v", d, queuePoll)
		}
		if st := p.State(); st.Queued != 0 {
			t.Errorf("%d still queued after the context ended", st.Queued)
		}
	})
}

func TestWaitersWokenInOrderOnRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		first := mustGet(t, p)
		a := goGet(p)
		synctest.Wait()
		b := goGet(p)
		synctest.Wait()

		// Reading the body to its end releases the stream, like Close.
		io.ReadAll(first.res.Body)
		ra := <-a
		if ra.err != nil {
			t.Fatalf("first waiter: %v", ra.err)
		}
		select {
		case rb := <-b:
			t.Fatalf("second waiter done before a release: %+v", rb)
		default:
		}
		ra.res.Body.Close()
		if rb := <-b; rb.err != nil {
			t.Fatalf("second waiter: %v", rb.err)
		}
		if dials, _, _ := d.stats(); dials != 1 {
			t.Errorf("%d dials, want 1", dials)
		}
	})
}

func TestDrainingSessionReplaced(t *testing.T) {
	for _, kind := range []string{"draining", "closed"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := &fakeDialer{}
				p := newTestPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
				first := mustGet(t, p)
				s1 := d.session(0)
				s1.set(func(s *fakeSession) {
					if kind == "draining" {
						s.draining = true
					} else {
						s.closed = true
					}
				})
				second := mustGet(t, p)
				if second.info.SessionID != 2 {
					t.Fatalf("request after %s: session %d, want a new session 2", kind, second.info.SessionID)
				}
				if reserves, _, closes := s1.counts(); reserves != 1 || closes != 0 {
					t.Fatalf("session 1: %d reserves %d closes, want 1 and 0 while a stream is open", reserves, closes)
				}
				st := p.State()
				if len(st.Sessions) != 2 || !st.Sessions[1].Draining || st.Sessions[1].ID != 1 {
					t.Errorf("State sessions %+v, want session 2 live and 1 draining", st.Sessions)
				}
				first.res.Body.Close()
				synctest.Wait()
				if _, _, closes := s1.counts(); closes != 1 {
					t.Errorf("session 1 closed %d times after its last stream, want 1", closes)
				}
				if st := p.State(); len(st.Sessions) != 1 {
					t.Errorf("State sessions %+v, want only session 2", st.Sessions)
				}
			})
		})
	}
}

// TestLiveFullSessionPassedOver: a live session that refuses a reservation, full by its own
// count, is passed over until one of its streams ends, not dropped and replaced.
func TestLiveFullSessionPassedOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2}}, d)
		first := mustGet(t, p)
		mustGet(t, p)
		s1 := d.session(0)
		s1.set(func(s *fakeSession) { s.refuse = true })
		third := mustGet(t, p)
		if third.info.SessionID != 2 {
			t.Fatalf("request while session 1 refuses: session %d, want 2", third.info.SessionID)
		}
		if st := p.State(); len(st.Sessions) != 2 || st.Sessions[0].ID != 1 || st.Sessions[0].Closed {
			t.Fatalf("State sessions %+v, want session 1 kept beside session 2", st.Sessions)
		}
		s1.set(func(s *fakeSession) { s.refuse = false })
		// Session 1 is passed over until a stream of its own ends, even with room by count.
		if r := mustGet(t, p); r.info.SessionID != 2 {
			t.Errorf("request before a stream of session 1 ended: session %d, want 2", r.info.SessionID)
		}
		first.res.Body.Close()
		if r := mustGet(t, p); r.info.SessionID != 1 {
			t.Errorf("request after a stream of session 1 ended: session %d, want 1 again", r.info.SessionID)
		}
		if _, _, closes := s1.counts(); closes != 0 {
			t.Errorf("session 1 closed %d times, want 0", closes)
		}
	})
}

// TestDialFailureFailsFastAndBacksOff: while the upstream is unreachable, requests within the
// back-off fail at once; one after it waits for the dial it starts and gets its outcome, the
// first one after the upstream came back included.
func TestDialFailureFailsFastAndBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		refused := errors.New("connection refused")
		d := &fakeDialer{result: func(uint64) (*fakeSession, error) { return nil, refused }}
		p := newTestPool(t, Config{Logger: zerolog.New(&logs)}, d)

		// The first request waits for the first dial and gets its error.
		r := get(p)
		if !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, refused) {
			t.Fatalf("first request: %v, want ErrUnavailable wrapping the dial error", r.err)
		}
		// Then requests fail at once, and dials follow the back-off:
		// 100ms, 200ms, 400ms ... driven by requests.
		wantDials := 1
		for _, backoff := range []time.Duration{100, 200, 400, 800} {
			backoff *= time.Millisecond
			time.Sleep(backoff - time.Millisecond)
			start := time.Now()
			if r := get(p); !errors.Is(r.err, ErrUnavailable) || time.Since(start) != 0 {
				t.Fatalf("request during back-off: %v after %v, want ErrUnavailable at once", r.err, time.Since(start))
			}
			synctest.Wait()
			if dials, _, _ := d.stats(); dials != wantDials {
				t.Fatalf("dials %d before back-off %v passed, want %d", dials, backoff, wantDials)
			}
			time.Sleep(time.Millisecond)
			if r := get(p); !errors.Is(r.err, ErrUnavailable) {
				t.Fatalf("request after back-off: %v, want ErrUnavailable", r.err)
			}
			wantDials++
			if dials, _, _ := d.stats(); dials != wantDials {
				t.Fatalf("dials %d when the request after back-off %v failed, want %d: it waits for its dial", dials, backoff, wantDials)
			}
		}
		if st := p.State(); st.DialFailures != 5 || !errors.Is(st.DialError, refused) {
			t.Errorf("State: %d failures, error %v; want 5 and the dial error", st.DialFailures, st.DialError)
		}
		if n := strings.Count(logs.String(), "dial failed"); n != 1 {
			t.Errorf("%d dial failures logged for one repeated error, want 1:\n%s", n, logs.String())
		}

		// The upstream comes back: the first request after the back-off is served, by the dial
		// it starts, not failed with the outage's error.
		d.set(func(d *fakeDialer) { d.result = nil })
		time.Sleep(1600 * time.Millisecond)
		if r := get(p); r.err != nil {
			t.Fatalf("first request after the upstream came back: %v", r.err)
		}
		if st := p.State(); st.DialError != nil || st.DialFailures != 0 {
			t.Errorf("State after success: error %v failures %d, want none", st.DialError, st.DialFailures)
		}
	})
}

// TestFailWhileUnreachable: with it, a request past the back-off fails at once too, and the
// dial it started serves the requests after it.
func TestFailWhileUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := errors.New("connection refused")
		d := &fakeDialer{result: func(uint64) (*fakeSession, error) { return nil, refused }}
		p := newTestPool(t, Config{Limits: Limits{FailWhileUnreachable: true}}, d)
		if r := get(p); !errors.Is(r.err, refused) {
			t.Fatalf("first request: %v, want the dial error", r.err)
		}
		d.set(func(d *fakeDialer) { d.result = nil })
		time.Sleep(100 * time.Millisecond)
		if r := get(p); !errors.Is(r.err, ErrUnavailable) {
			t.Fatalf("request past the back-off: %v, want ErrUnavailable at once", r.err)
		}
		synctest.Wait()
		if dials, _, _ := d.stats(); dials != 2 {
			t.Errorf("dials %d, want 2: the request past the back-off starts one", dials)
		}
		if r := get(p); r.err != nil {
			t.Errorf("request after that dial: %v", r.err)
		}
	})
}

// TestSilentSessionUnreachable: with FailWhileUnreachable, a session that closed because its
// peer stopped answering makes the upstream unreachable, as a failed dial does: requests fail at
// once, rather than wait for a dial to a host that may be gone, and the first past the back-off
// starts a dial that serves the requests after it. Without it, the request waits for a dial.
func TestSilentSessionUnreachable(t *testing.T) {
	for _, fail := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			d := &fakeDialer{}
			p := newTestPool(t, Config{Limits: Limits{FailWhileUnreachable: fail}}, d)
			mustGet(t, p).res.Body.Close()
			d.session(0).set(func(s *fakeSession) { s.closed, s.silent = true, true })
			r := get(p)
			if fail {
				if !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, ErrPeerSilent) {
					t.Fatalf("FailWhileUnreachable: %v, want ErrUnavailable for the silent peer", r.err)
				}
				time.Sleep(100 * time.Millisecond) // the back-off of a first failure
				if r := get(p); !errors.Is(r.err, ErrUnavailable) {
					t.Fatalf("past the back-off: %v, want ErrUnavailable at once", r.err)
				}
				synctest.Wait() // the dial it started
				r = get(p)
			}
			if r.err != nil || r.info.SessionID != 2 {
				t.Errorf("FailWhileUnreachable %v: session %d, %v; want the new session 2", fail, r.info.SessionID, r.err)
			}
			if r.res != nil {
				r.res.Body.Close()
			}
		})
	}
}

func TestDialFailureWithLiveSessionQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2}}, d)
		first := mustGet(t, p)
		d.set(func(d *fakeDialer) {
			d.result = func(uint64) (*fakeSession, error) { return nil, errors.New("refused") }
		})
		waiting := goGet(p)
		synctest.Wait()
		if dials, _, _ := d.stats(); dials != 2 {
			t.Fatalf("%d dials, want 2", dials)
		}
		// A session is live, so the waiter stays queued for it.
		if st := p.State(); st.Queued != 1 {
			t.Fatalf("%d queued after a failed dial with a live session, want 1", st.Queued)
		}
		first.res.Body.Close()
		if r := <-waiting; r.err != nil || r.info.SessionID != 1 {
			t.Errorf("waiter: session %d err %v, want session 1", r.info.SessionID, r.err)
		}
	})
}

// TestDialFailureAfterSessionDied: a dial that fails while the only session, the one the
// waiter queued behind, has died unnoticed (the pool sees a session's end when it next looks at
// it) fails the waiter at once, as with no session at all, rather than leave it queued until
// the queue timeout with no dial to come before the back-off.
func TestDialFailureAfterSessionDied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2}}, d)
		first := mustGet(t, p)
		defer first.res.Body.Close()
		gate := make(chan struct{})
		d.set(func(d *fakeDialer) {
			d.gate = gate
			d.result = func(uint64) (*fakeSession, error) { return nil, errors.New("refused") }
		})
		waiting := goGet(p)
		synctest.Wait() // queued, with a dial waiting at the gate
		d.session(0).set(func(s *fakeSession) { s.closed = true })
		close(gate)
		synctest.Wait()
		select {
		case r := <-waiting:
			if !errors.Is(r.err, ErrUnavailable) {
				t.Errorf("waiter: %v, want ErrUnavailable", r.err)
			}
		default:
			t.Fatalf("waiter still queued (%d) after the dial failed with no live session", p.State().Queued)
		}
	})
}

// refuse makes a session fail every request as not processed, after
// reading read bytes of its body.
func refuse(s *fakeSession, read int) {
	s.set(func(s *fakeSession) {
		s.handler = func(req *http.Request) (*http.Response, error) {
			if req.Body != nil {
				if read > 0 {
					io.ReadFull(req.Body, make([]byte, read))
				}
				req.Body.Close()
			}
			return nil, NotProcessed(errors.New("refused stream"))
		}
	})
}

// echo makes a session answer with the request body.
func echo(s *fakeSession) {
	s.set(func(s *fakeSession) {
		s.handler = func(req *http.Request) (*http.Response, error) {
			var b []byte
			if req.Body != nil {
				var err error
				b, err = io.ReadAll(req.Body)
				req.Body.Close()
				if err != nil {
					return nil, err
				}
			}
			return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(b))}, nil
		}
	})
}

// closeCounter counts Close calls on a request body.
type closeCounter struct {
	io.Reader
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return nil }

func TestRetryNotProcessed(t *testing.T) {
	tests := []struct {
		name      string
		body      string // "" for no body
		read      int    // bytes the refusing session reads first
		replay    int    // Config.ReplayBuffer
		wantRetry bool
	}{
		{"no body", "", 0, 0, true},
		{"body not read", "hello", 0, 0, true},
		{"body read, no replay buffer", "hello", 2, 0, false},
		{"body read within replay buffer", "hello", 2, 16, true},
		{"body read past replay buffer", "hello", 5, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := &fakeDialer{}
				p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2, ReplayBuffer: tt.replay}}, d)
				mustGet(t, p).res.Body.Close() // session 1 up
				refuse(d.session(0), tt.read)
				d.set(func(d *fakeDialer) {
					d.result = func(id uint64) (*fakeSession, error) {
						s := &fakeSession{id: id, max: 100}
						echo(s)
						return s, nil
					}
				})

				info := new(Info)
				var body *closeCounter
				req, _ := http.NewRequestWithContext(WithInfo(context.Background(), info), "POST", "http://upstream/", nil)
				if tt.body != "" {
					body = &closeCounter{Reader: strings.NewReader(tt.body)}
					req.Body = body
				}
				res, err := p.RoundTrip(req)
				if !tt.wantRetry {
					if !errors.Is(err, ErrNotProcessed) || info.Attempts != 1 {
						t.Fatalf("err %v after %d attempts, want ErrNotProcessed after 1", err, info.Attempts)
					}
					if body.closes != 1 {
						t.Errorf("request body closed %d times, want 1", body.closes)
					}
					return
				}
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				got, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if info.Attempts != 2 || info.SessionID != 2 || info.Protocol != "fake" {
					t.Errorf("Info %+v, want 2 attempts ending on session 2, protocol fake", *info)
				}
				if tt.body != "" {
					if string(got) != tt.body {
						t.Errorf("upstream got body %q on the retry, want %q", got, tt.body)
					}
					if body.closes != 1 {
						t.Errorf("request body closed %d times, want 1", body.closes)
					}
				}
				if res.Request != req {
					t.Errorf("Response.Request is not the caller's request")
				}
			})
		})
	}
}

// TestRetryNotProcessedWhileBodyRead: a request refused while its sender waits for more body
// bytes from a slow client (a read in progress) goes again on another session, which gets the
// whole body, the bytes read before and those that come after. Refusing the retry for the read
// in progress turned an upstream's GOAWAY during a slow upload into a 502.
func TestRetryNotProcessedWhileBodyRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 2, ReplayBuffer: 16}}, d)
		mustGet(t, p).res.Body.Close() // session 1 up
		d.session(0).set(func(s *fakeSession) {
			s.handler = func(req *http.Request) (*http.Response, error) {
				go io.ReadAll(req.Body) // its sender: it reads "hel", then waits for more
				synctest.Wait()
				return nil, NotProcessed(errors.New("stream above GOAWAY's last stream ID"))
			}
		})
		retried := make(chan struct{})
		d.set(func(d *fakeDialer) {
			d.result = func(id uint64) (*fakeSession, error) {
				s := &fakeSession{id: id, max: 100}
				echo(s)
				close(retried)
				return s, nil
			}
		})
		client, send := io.Pipe()
		req, _ := http.NewRequest("POST", "http://upstream/", client)
		done := make(chan result, 1)
		go func() {
			res, err := p.RoundTrip(req)
			done <- result{res: res, err: err}
		}()
		send.Write([]byte("hel"))
		select {
		case <-retried:
		case r := <-done:
			t.Fatalf("RoundTrip: %v before a retry", r.err)
		}
		send.Write([]byte("lo"))
		send.Close()
		r := <-done
		if r.err != nil {
			t.Fatalf("RoundTrip: %v, want the retry's answer", r.err)
		}
		got, _ := io.ReadAll(r.res.Body)
		r.res.Body.Close()
		if string(got) != "hello" {
			t.Errorf("the retry's upstream got %q, want hello", got)
		}
	})
}

func TestRetryBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: func(id uint64) (*fakeSession, error) {
			s := &fakeSession{id: id, max: 100}
			refuse(s, 0)
			return s, nil
		}}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 4}}, d)
		r := get(p)
		if !errors.Is(r.err, ErrNotProcessed) {
			t.Fatalf("err %v, want ErrNotProcessed", r.err)
		}
		if r.info.Attempts != maxAttempts {
			t.Errorf("%d attempts, want %d", r.info.Attempts, maxAttempts)
		}
		// Each retry went to another session.
		if dials, _, _ := d.stats(); dials != maxAttempts {
			t.Errorf("%d sessions dialled, want %d", dials, maxAttempts)
		}
		if st := p.State(); len(st.Sessions) != maxAttempts {
			t.Fatalf("%d sessions, want %d", len(st.Sessions), maxAttempts)
		} else {
			for _, s := range st.Sessions {
				if s.InFlight != 0 {
					t.Errorf("session %d has %d in flight after failures, want 0", s.ID, s.InFlight)
				}
			}
		}
	})
}

func TestNoRetryOnOtherErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{}, d)
		mustGet(t, p).res.Body.Close()
		boom := errors.New("reset after headers")
		d.session(0).set(func(s *fakeSession) {
			s.handler = func(*http.Request) (*http.Response, error) { return nil, boom }
		})
		r := get(p)
		if !errors.Is(r.err, boom) || r.info.Attempts != 1 {
			t.Errorf("err %v after %d attempts, want the session's error after 1", r.err, r.info.Attempts)
		}
	})
}

// An extended CONNECT the upstream does not take is not retried even though it was not sent:
// no other session of the upstream would take it (RFC 8441 3).
func TestNoRetryWithoutExtendedConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{}, d)
		mustGet(t, p).res.Body.Close()
		d.session(0).set(func(s *fakeSession) {
			s.handler = func(*http.Request) (*http.Response, error) {
				return nil, NotProcessed(fmt.Errorf("no :protocol: %w", ErrNoExtendedConnect))
			}
		})
		r := get(p)
		if !errors.Is(r.err, ErrNoExtendedConnect) || r.info.Attempts != 1 {
			t.Errorf("err %v after %d attempts, want ErrNoExtendedConnect after 1", r.err, r.info.Attempts)
		}
	})
}

func TestRetryPrefersSameSessionOnlyAtMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		mustGet(t, p).res.Body.Close()
		s := d.session(0)
		var calls int
		s.set(func(s *fakeSession) {
			s.handler = func(*http.Request) (*http.Response, error) {
				calls++
				if calls == 1 {
					return nil, NotProcessed(errors.New("refused"))
				}
				return okResponse(), nil
			}
		})
		r := get(p)
		if r.err != nil || r.info.Attempts != 2 || r.info.SessionID != 1 {
			t.Errorf("err %v attempts %d session %d; want a retry on the only session", r.err, r.info.Attempts, r.info.SessionID)
		}
	})
}

func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p, err := New(Config{Dial: d.dial, Limits: Limits{MaxSessions: 2}})
		if err != nil {
			t.Fatal(err)
		}
		busy := mustGet(t, p)
		s1 := d.session(0)
		hold := make(chan struct{})
		s1.set(func(s *fakeSession) { s.hold = hold })

		// The second session's dial hangs; a request waits for it.
		gate := make(chan struct{})
		d.set(func(d *fakeDialer) { d.gate = gate })
		waiting := goGet(p)
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- p.Shutdown(ctx) }()
		synctest.Wait()

		if r := <-waiting; !errors.Is(r.err, ErrClosed) {
			t.Errorf("queued request: %v, want ErrClosed", r.err)
		}
		if r := get(p); !errors.Is(r.err, ErrClosed) {
			t.Errorf("request after Shutdown: %v, want ErrClosed", r.err)
		}
		if dials, _, returned := d.stats(); returned != dials {
			t.Errorf("the hanging dial did not return on Shutdown")
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while session 1 still had a stream", err)
		default:
		}
		if _, shutdowns, _ := s1.counts(); shutdowns != 1 {
			t.Errorf("session 1 shut down %d times, want 1", shutdowns)
		}
		busy.res.Body.Close()
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if _, _, closes := s1.counts(); closes != 0 {
			t.Errorf("session 1 closed %d times after a graceful shutdown, want 0", closes)
		}
		if err := p.Shutdown(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("second Shutdown: %v, want ErrClosed", err)
		}
	})
}

func TestShutdownDeadlineCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p, err := New(Config{Dial: d.dial})
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, p) // a stream that never ends
		s1 := d.session(0)
		s1.set(func(s *fakeSession) { s.hold = make(chan struct{}) })
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err = p.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want DeadlineExceeded", err)
		}
		if time.Since(start) != 3*time.Second {
			t.Errorf("Shutdown took %v, want the 3s deadline", time.Since(start))
		}
		if _, _, closes := s1.counts(); closes != 1 {
			t.Errorf("session closed %d times at the deadline, want 1", closes)
		}
	})
}

func TestNewValidates(t *testing.T) {
	dial := (&fakeDialer{}).dial
	tests := []struct {
		cfg     Config
		wantErr bool
	}{
		{Config{}, true},
		{Config{Dial: dial, Limits: Limits{QueueLength: -1}}, true},
		{Config{Dial: dial, Limits: Limits{MaxSessions: -1}}, true},
		{Config{Dial: dial}, false},
	}
	for i, tt := range tests {
		p, err := New(tt.cfg)
		if (err != nil) != tt.wantErr {
			t.Errorf("case %d: err %v, want error %v", i, err, tt.wantErr)
		}
		if err == nil {
			if got := fmt.Sprint(p.cfg.MaxSessions, p.cfg.QueueLength, p.cfg.QueueTimeout); got != "4 1024 5s" {
				t.Errorf("case %d: defaults %s, want 4 1024 5s", i, got)
			}
		}
	}
}

// TestRetryMaybeProcessedOnce: a request whose attempt may have been processed (ErrMaybeProcessed)
// is sent again once, never twice, while not-processed attempts are retried up to maxAttempts
// around it; the request's error then says it may have been processed, whatever the last
// attempt met, and Info.Resent says a retry followed such an attempt.
func TestRetryMaybeProcessedOnce(t *testing.T) {
	const np, mp, ok = "not processed", "maybe processed", "ok"
	for _, tc := range []struct {
		name      string
		outcomes  []string // of the attempts in turn
		attempts  int
		wantErr   bool
		wantNotPr bool // the error wraps ErrNotProcessed too
		resent    bool
	}{
		{"maybe, then answered", []string{mp, ok}, 2, false, false, true},
		{"maybe twice", []string{mp, mp, ok}, 2, true, false, true},
		{"maybe, then not processed to the end", []string{mp, np, np, ok}, 3, true, true, true},
		{"maybe, not processed, answered", []string{mp, np, ok}, 3, false, false, true},
		{"not processed, then maybe twice", []string{np, mp, mp, ok}, 3, true, false, true},
		{"not processed, then answered", []string{np, ok}, 2, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				calls := 0
				handler := func(*http.Request) (*http.Response, error) {
					mu.Lock()
					o := tc.outcomes[calls]
					calls++
					mu.Unlock()
					switch o {
					case np:
						return nil, NotProcessed(errors.New("refused stream"))
					case mp:
						return nil, MaybeProcessed(errors.New("connection lost"))
					}
					return okResponse(), nil
				}
				d := &fakeDialer{result: func(id uint64) (*fakeSession, error) {
					return &fakeSession{id: id, max: 100, handler: handler}, nil
				}}
				p := newTestPool(t, Config{}, d)
				r := get(p)
				if r.err == nil {
					r.res.Body.Close()
				}
				if (r.err != nil) != tc.wantErr || r.info.Attempts != tc.attempts || r.info.Resent != tc.resent {
					t.Fatalf("err %v, Info %+v; want error %v after %d attempts, Resent %v",
						r.err, *r.info, tc.wantErr, tc.attempts, tc.resent)
				}
				if r.err != nil && (!errors.Is(r.err, ErrMaybeProcessed) || errors.Is(r.err, ErrNotProcessed) != tc.wantNotPr) {
					t.Errorf("err %v: want ErrMaybeProcessed, and ErrNotProcessed %v", r.err, tc.wantNotPr)
				}
			})
		})
	}
}

// TestRetryWithoutStreamCounts: a retry that gets no stream (the upstream can no longer be
// dialled) still counts as an attempt in Info, with Resent where it followed an attempt the
// upstream may have processed: the access log then says the request was sent again and why that
// failed, not only that the upstream is unreachable.
func TestRetryWithoutStreamCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := errors.New("connection refused")
		var d *fakeDialer
		d = &fakeDialer{result: func(id uint64) (*fakeSession, error) {
			s := &fakeSession{id: id, max: 100}
			s.handler = func(*http.Request) (*http.Response, error) {
				// The session dies under the request, and the upstream with it.
				s.set(func(s *fakeSession) { s.closed = true })
				d.set(func(d *fakeDialer) { d.result = func(uint64) (*fakeSession, error) { return nil, refused } })
				return nil, MaybeProcessed(errors.New("connection lost"))
			}
			return s, nil
		}}
		p := newTestPool(t, Config{}, d)
		r := get(p)
		if !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, ErrMaybeProcessed) || r.info.Attempts != 2 || !r.info.Resent {
			t.Errorf("err %v, Info %+v; want ErrUnavailable and ErrMaybeProcessed after 2 attempts, Resent", r.err, *r.info)
		}
	})
}
