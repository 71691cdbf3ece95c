package gateway

import (
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

	"muxgate/internal/pool"
)

// fakePool is a pool whose answers the test chooses. By default it reads the request body to
// its end, closes it, and answers 200 with its protocol and the body it read.
type fakePool struct {
	proto string

	mu    sync.Mutex
	calls int                                         // guarded by mu
	rt    func(*http.Request) (*http.Response, error) // guarded by mu; nil: the default answer
	state pool.State                                  // guarded by mu
	load  int                                         // guarded by mu
}

func (p *fakePool) RoundTrip(req *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.calls++
	rt := p.rt
	p.mu.Unlock()
	if rt != nil {
		return rt(req)
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	if info := pool.InfoFrom(req.Context()); info != nil {
		*info = pool.Info{SessionID: 1, Protocol: p.proto, Attempts: 1}
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(p.proto + " " + string(body)))}, nil
}

func (p *fakePool) Shutdown(context.Context) error { return nil }

func (p *fakePool) State() pool.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

func (p *fakePool) Load() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.load
}

func (p *fakePool) set(rt func(*http.Request) (*http.Response, error)) {
	p.mu.Lock()
	p.rt = rt
	p.mu.Unlock()
}

func (p *fakePool) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// fails answers every request with err, closing its body as a pool does.
func fails(err error) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
}

var errUnreachable = fmt.Errorf("%w: h3: dial: timeout", pool.ErrUnavailable)

func newTestFallback() (*fallback, *fakePool, *fakePool) {
	p3, p2 := &fakePool{proto: "h3"}, &fakePool{proto: "h2"}
	return newFallback(p3, p2, zerolog.Nop()), p3, p2
}

// closeBody is a request body that records its Close.
type closeBody struct {
	io.Reader
	closed bool
}

func (b *closeBody) Close() error { b.closed = true; return nil }

// send posts body through f and returns what the serving fake said, with the Info.
func send(t *testing.T, f upstream, body string) (string, *pool.Info, error) {
	t.Helper()
	info := new(pool.Info)
	var rc io.ReadCloser = http.NoBody
	if body != "" {
		rc = &closeBody{Reader: strings.NewReader(body)}
	}
	req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "POST", "https://up.test/", rc)
	res, err := f.RoundTrip(req)
	if err != nil {
		return "", info, err
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return string(b), info, nil
}

func TestFallbackUnreachableSwitchesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p3, p2 := newTestFallback()
		if got, info, err := send(t, f, "first"); err != nil || got != "h3 first" || info.Protocol != "h3" {
			t.Fatalf("with HTTP/3 up: %q, %+v, %v; want h3 first", got, info, err)
		}
		p3.set(fails(errUnreachable))
		// The request the primary could not take goes to the secondary, body intact.
		if got, info, err := send(t, f, "second"); err != nil || got != "h2 second" || info.Protocol != "h2" {
			t.Fatalf("with HTTP/3 unreachable: %q, %+v, %v; want h2 second", got, info, err)
		}
		st, _, _ := f.State()
		if !st.OnSecondary || st.Switches != 1 || st.Backoff != fallbackMinBackoff || !st.Retry.Equal(time.Now().Add(fallbackMinBackoff)) {
			t.Errorf("state %+v, want on the secondary after 1 switch, retry in %v", st, fallbackMinBackoff)
		}
		// Until the back-off passes, the primary is not asked.
		calls := p3.callCount()
		for i := range 3 {
			if got, _, err := send(t, f, fmt.Sprint(i)); err != nil || got != "h2 "+fmt.Sprint(i) {
				t.Errorf("request %d while switched: %q, %v; want it on h2", i, got, err)
			}
		}
		if n := p3.callCount() - calls; n != 0 {
			t.Errorf("primary asked %d times during the back-off, want 0", n)
		}
		if n := p2.callCount(); n != 4 {
			t.Errorf("secondary asked %d times, want 4", n)
		}
	})
}

func TestFallbackReturnsAfterBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p3, _ := newTestFallback()
		p3.set(fails(errUnreachable))
		send(t, f, "x")

		// The back-off passes; the primary still fails: the probing request is served by the
		// secondary and the back-off doubles.
		time.Sleep(fallbackMinBackoff)
		if got, _, err := send(t, f, "probe"); err != nil || got != "h2 probe" {
			t.Fatalf("failed probe: %q, %v; want it served on h2", got, err)
		}
		st, _, _ := f.State()
		if !st.OnSecondary || st.Backoff != 2*fallbackMinBackoff || st.Probing {
			t.Fatalf("after a failed probe: %+v, want on the secondary, back-off %v, not probing", st, 2*fallbackMinBackoff)
		}

		// HTTP/3 comes back. One request at a time tries it: while the probe is in the primary,
		// others go to the secondary.
		time.Sleep(2 * fallbackMinBackoff)
		entered, release := make(chan struct{}), make(chan struct{})
		p3.set(func(req *http.Request) (*http.Response, error) {
			close(entered)
			<-release
			p3.set(nil)
			return p3.RoundTrip(req)
		})
		probe := make(chan string, 1)
		go func() {
			got, _, _ := send(t, f, "probe")
			probe <- got
		}()
		<-entered
		if got, _, err := send(t, f, "meanwhile"); err != nil || got != "h2 meanwhile" {
			t.Errorf("request during the probe: %q, %v; want it on h2", got, err)
		}
		close(release)
		if got := <-probe; got != "h3 probe" {
			t.Errorf("probe: %q, want h3 probe", got)
		}
		if got, _, err := send(t, f, "after"); err != nil || got != "h3 after" {
			t.Errorf("after a good probe: %q, %v; want h3", got, err)
		}
		if st, _, _ := f.State(); st != (fallbackState{Switches: 1}) {
			t.Errorf("state after the return %+v, want on the primary, switched once", st)
		}
	})
}

// TestFallbackRequestFailuresKeepPrimary: requests that fail on their own over a live HTTP/3
// connection (a handler's panic resets its stream with H3_INTERNAL_ERROR; quic-go's bound on 1xx
// responses), however many in a row, leave the fallback on HTTP/3: HTTP/2 would fail them too.
func TestFallbackRequestFailuresKeepPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p3, p2 := newTestFallback()
		p3.state = pool.State{Sessions: []pool.SessionState{{ID: 1}}}
		reset := errors.New("h3: session 1: http3: parsing frame failed: H3_INTERNAL_ERROR")
		p3.set(fails(reset))
		for i := range 2 * fallbackFailures {
			if _, _, err := send(t, f, "body"); !errors.Is(err, reset) {
				t.Fatalf("request %d: %v, want the primary's error", i, err)
			}
		}
		if st, _, _ := f.State(); st.OnSecondary || st.Failures != 0 {
			t.Errorf("state %+v after %d stream resets, want on the primary, no failure counted", st, 2*fallbackFailures)
		}
		p3.set(nil)
		if got, _, err := send(t, f, "next"); err != nil || got != "h3 next" || p2.callCount() != 0 {
			t.Errorf("after the resets: %q, %v, secondary asked %d times; want h3 and 0", got, err, p2.callCount())
		}
	})
}

func TestFallbackRepeatedFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p3, p2 := newTestFallback()
		p3.state = pool.State{Sessions: []pool.SessionState{{ID: 1}}}
		broken := pool.SessionFailed(errors.New("h3: session 1: Application error 0x100 (remote)"))
		p3.set(fails(broken))
		for i := 1; i <= fallbackFailures; i++ {
			// A request the primary may have processed is not sent again.
			if _, _, err := send(t, f, "body"); !errors.Is(err, broken) {
				t.Fatalf("failure %d: %v, want the primary's error", i, err)
			}
			st, _, _ := f.State()
			if st.Failures != i || st.OnSecondary != (i == fallbackFailures) {
				t.Fatalf("after %d failures: %+v, want switched only after %d", i, st, fallbackFailures)
			}
		}
		if p2.callCount() != 0 {
			t.Errorf("secondary asked %d times, want 0", p2.callCount())
		}
		if got, _, err := send(t, f, "next"); err != nil || got != "h2 next" {
			t.Errorf("after the switch: %q, %v; want h2", got, err)
		}
	})
}

// TestFallbackErrors: which failures of the primary count towards a switch, and which requests go
// to the secondary. Only what says the primary's path or connections fail counts; a request's
// own failure on a live connection does not.
func TestFallbackErrors(t *testing.T) {
	notProcessed := pool.NotProcessed(errors.New("h3: session 1: H3_REQUEST_REJECTED"))
	live := pool.State{Sessions: []pool.SessionState{{ID: 1}}}
	cases := []struct {
		name       string
		err        error
		state      pool.State
		cancel     bool
		readFirst  bool // the primary reads a byte of the body before it fails
		wantResent bool
		wantCount  int  // failures counted
		wantSwitch bool // switched to the secondary
	}{
		{name: "unreachable", err: errUnreachable, wantResent: true, wantCount: 1, wantSwitch: true},
		{name: "queue timeout, no session", err: pool.ErrQueueTimeout, wantResent: true, wantCount: 1, wantSwitch: true},
		{name: "queue timeout, live session", err: pool.ErrQueueTimeout, state: live},
		{name: "queue full", err: pool.ErrQueueFull, state: live},
		{name: "closed", err: pool.ErrClosed},
		{name: "not processed", err: notProcessed, state: live, wantResent: true, wantCount: 1},
		{name: "not processed, body read", err: notProcessed, state: live, readFirst: true, wantCount: 1},
		{name: "unreachable, body read", err: errUnreachable, readFirst: true, wantCount: 1, wantSwitch: true},
		{name: "connection failed", err: pool.SessionFailed(errors.New("h3: connection lost")), state: live, wantCount: 1},
		{name: "connection failed, maybe processed", err: pool.MaybeProcessed(errors.New("h3: connection lost")), state: live, wantCount: 1},
		{name: "stream reset on a live connection", err: errors.New("h3: http3: parsing frame failed: H3_INTERNAL_ERROR"), state: live},
		{name: "too many 1xx", err: errors.New("h3: http3: too many 1xx informational responses"), state: live},
		{name: "client gone", err: context.Canceled, cancel: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, p3, p2 := newTestFallback()
			p3.state = c.state
			p3.set(func(req *http.Request) (*http.Response, error) {
				if c.readFirst {
					req.Body.Read(make([]byte, 1))
				}
				req.Body.Close()
				return nil, c.err
			})
			ctx, cancel := context.WithCancel(context.Background())
			if c.cancel {
				cancel()
			}
			defer cancel()
			body := &closeBody{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequestWithContext(ctx, "PUT", "https://up.test/", body)
			res, err := f.RoundTrip(req)
			resent := p2.callCount() == 1
			if resent != c.wantResent {
				t.Errorf("sent to the secondary: %v, want %v (err %v)", resent, c.wantResent, err)
			}
			if resent {
				b, _ := io.ReadAll(res.Body)
				if string(b) != "h2 payload" {
					t.Errorf("secondary answered %q, want the whole body: h2 payload", b)
				}
			} else if !errors.Is(err, c.err) {
				t.Errorf("err %v, want the primary's %v", err, c.err)
			}
			if !body.closed {
				t.Error("request body not closed")
			}
			st, _, _ := f.State()
			if st.Failures != c.wantCount || st.OnSecondary != c.wantSwitch {
				t.Errorf("state %+v, want %d failures counted, switched %v", st, c.wantCount, c.wantSwitch)
			}
		})
	}
}

func TestFallbackHeldBody(t *testing.T) {
	t.Run("kept by the primary", func(t *testing.T) {
		rc := &closeBody{Reader: strings.NewReader("abc")}
		b := &heldBody{rc: rc}
		b.Close()
		if rc.closed {
			t.Fatal("the primary's Close went through before the fallback decided")
		}
		b.commit()
		if !rc.closed {
			t.Error("commit did not pass on the primary's earlier Close")
		}
	})
	t.Run("closed after commit", func(t *testing.T) {
		rc := &closeBody{Reader: strings.NewReader("abc")}
		b := &heldBody{rc: rc}
		b.commit()
		b.Close()
		if !rc.closed {
			t.Error("Close after commit did not go through")
		}
	})
	t.Run("detached", func(t *testing.T) {
		rc := &closeBody{Reader: strings.NewReader("abc")}
		b := &heldBody{rc: rc}
		b.Close()
		if !b.detach() {
			t.Fatal("detach failed for an unread body")
		}
		if n, err := b.Read(make([]byte, 3)); n != 0 || !errors.Is(err, errBodyDetached) {
			t.Errorf("Read after detach: %d, %v; want 0, errBodyDetached", n, err)
		}
		if rc.closed {
			t.Error("the primary closed a body that went to the secondary")
		}
	})
	t.Run("read", func(t *testing.T) {
		b := &heldBody{rc: &closeBody{Reader: strings.NewReader("abc")}}
		b.Read(make([]byte, 1))
		if b.detach() {
			t.Error("detach succeeded for a body the primary read from")
		}
	})
}

// TestFallbackCountsAttempts: a request the primary tried on streams it did not process, then
// sent over the secondary, reports the streams of both in Info.Attempts, which the access log
// and muxgate_upstream_retries_total take.
func TestFallbackCountsAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p3, _ := newTestFallback()
		p3.set(func(req *http.Request) (*http.Response, error) {
			req.Body.Close()
			if info := pool.InfoFrom(req.Context()); info != nil {
				*info = pool.Info{SessionID: 1, Protocol: "h3", Attempts: 2}
			}
			return nil, pool.NotProcessed(errors.New("h3: H3_REQUEST_REJECTED"))
		})
		got, info, err := send(t, f, "body")
		if err != nil || got != "h2 body" || info.Attempts != 3 {
			t.Errorf("got %q, %+v, %v; want h2 body after 3 attempts (2 on h3, 1 on h2)", got, info, err)
		}
		m := newMetrics()
		m.observe(&record{status: 200, info: info})
		if n := m.retries.Load(); n != 2 {
			t.Errorf("retries counted %d, want 2", n)
		}
	})
}

// TestFallbackKeepsMaybeProcessed: a request the primary may have processed (its session died
// after it was sent, and the pool's one retry failed as well, even as not processed) is not sent
// again over the secondary: the upstream would run it a third time.
func TestFallbackKeepsMaybeProcessed(t *testing.T) {
	lost := errors.New("h3: session 1: connection lost")
	for name, err := range map[string]error{
		"both attempts lost":           pool.MaybeProcessed(lost),
		"retry not processed":          pool.MaybeProcessed(pool.NotProcessed(lost)),
		"retry found it unreachable":   pool.MaybeProcessed(errUnreachable),
		"resent, then refused at dial": pool.MaybeProcessed(fmt.Errorf("%w: %w", pool.ErrNotProcessed, errUnreachable)),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, p3, p2 := newTestFallback()
				p3.set(fails(err))
				if _, _, got := send(t, f, ""); !errors.Is(got, pool.ErrMaybeProcessed) {
					t.Errorf("got %v, want the primary's error", got)
				}
				if n := p2.callCount(); n != 0 {
					t.Errorf("the secondary got %d requests, want 0", n)
				}
			})
		})
	}
}

// TestFallbackExtendedConnect: a WebSocket's extended CONNECT that HTTP/3's SETTINGS do not allow
// goes to HTTP/2 at once, and counts as no failure of the primary.
func TestFallbackExtendedConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p3, p2 := newTestFallback()
		p3.state = pool.State{Sessions: []pool.SessionState{{ID: 1}}}
		p3.set(fails(fmt.Errorf("h3: session 1: %w", pool.ErrNoExtendedConnect)))
		for i := range 2 * fallbackFailures {
			if got, _, err := send(t, f, "tunnel"); err != nil || got != "h2 tunnel" {
				t.Fatalf("request %d: %q, %v; want the secondary's answer", i, got, err)
			}
		}
		if st, _, _ := f.State(); st.OnSecondary || st.Failures != 0 {
			t.Errorf("state %+v, want on the primary, no failure counted", st)
		}
		if p2.callCount() != 2*fallbackFailures {
			t.Errorf("secondary asked %d times, want %d", p2.callCount(), 2*fallbackFailures)
		}
	})
}
