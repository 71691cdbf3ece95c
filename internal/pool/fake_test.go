package pool

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeSession is an in-memory Session whose behaviour a test sets.
type fakeSession struct {
	id  uint64
	max int // MaxStreams reported

	mu        sync.Mutex
	closed    bool
	silent    bool // closed for an unanswered PING (SessionState.Silent)
	draining  bool
	refuse    bool // Reserve refuses while live, as a session full by its own count does
	reserves  int
	shutdowns int
	closes    int
	// handler answers RoundTrip; nil: 200 with body "ok".
	handler func(*http.Request) (*http.Response, error)
	// hold, if non-nil, makes Shutdown wait for it to close or ctx to end.
	hold chan struct{}
}

func (s *fakeSession) Reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.draining || s.refuse {
		return false
	}
	s.reserves++
	return true
}

func (s *fakeSession) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	h := s.handler
	s.mu.Unlock()
	if h != nil {
		return h(req)
	}
	return okResponse(), nil
}

func (s *fakeSession) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdowns++
	s.draining = true
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *fakeSession) Close() error {
	s.mu.Lock()
	s.closes++
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *fakeSession) State() SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SessionState{Closed: s.closed, Silent: s.silent, Draining: s.draining, MaxStreams: s.max}
}

func (s *fakeSession) set(f func(s *fakeSession)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *fakeSession) counts() (reserves, shutdowns, closes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserves, s.shutdowns, s.closes
}

func okResponse() *http.Response {
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok"))}
}

// fakeDialer hands out fakeSessions.
type fakeDialer struct {
	mu        sync.Mutex
	dials     int
	active    int
	maxActive int
	returned  int
	turns     []uint64 // each dial's, in order
	sessions  []*fakeSession
	// result makes the session or error of a dial; nil: a session with max 100.
	result func(id uint64) (*fakeSession, error)
	// gate, if non-nil, makes each dial wait for a value or ctx to end.
	gate chan struct{}
}

func (d *fakeDialer) dial(ctx context.Context, id, turn uint64) (Session, error) {
	d.mu.Lock()
	d.dials++
	d.turns = append(d.turns, turn)
	d.active++
	d.maxActive = max(d.maxActive, d.active)
	gate, result := d.gate, d.result
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.active--
		d.returned++
		d.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s := &fakeSession{id: id, max: 100}
	if result != nil {
		var err error
		if s, err = result(id); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	d.sessions = append(d.sessions, s)
	d.mu.Unlock()
	return s, nil
}

func (d *fakeDialer) set(f func(d *fakeDialer)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

func (d *fakeDialer) stats() (dials, maxActive, returned int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials, d.maxActive, d.returned
}

func (d *fakeDialer) session(i int) *fakeSession {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sessions[i]
}

// sessionsWith returns a result func for sessions that announce max streams.
func sessionsWith(max int) func(uint64) (*fakeSession, error) {
	return func(id uint64) (*fakeSession, error) { return &fakeSession{id: id, max: max}, nil }
}

func newTestPool(t *testing.T, cfg Config, d *fakeDialer) *Pool {
	t.Helper()
	return newPoolDialing(t, cfg, d.dial)
}

// newPoolDialing makes a pool of protocol "fake" that dials with dial, shut down when the test
// ends.
func newPoolDialing(t *testing.T, cfg Config, dial DialFunc) *Pool {
	t.Helper()
	cfg.Dial = dial
	cfg.Protocol = "fake"
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p
}

// result is the outcome of one RoundTrip run on its own goroutine.
type result struct {
	res  *http.Response
	err  error
	info *Info
}

// get sends a GET through p and returns its outcome with the Info.
func get(p *Pool) result {
	info := new(Info)
	req, _ := http.NewRequestWithContext(WithInfo(context.Background(), info), "GET", "http://upstream/", nil)
	res, err := p.RoundTrip(req)
	return result{res: res, err: err, info: info}
}

// goGet starts get on a goroutine; the result arrives on the channel.
func goGet(p *Pool) <-chan result {
	c := make(chan result, 1)
	go func() { c <- get(p) }()
	return c
}

func mustGet(t *testing.T, p *Pool) result {
	t.Helper()
	r := get(p)
	if r.err != nil {
		t.Fatalf("RoundTrip: %v", r.err)
	}
	return r
}
