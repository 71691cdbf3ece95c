package pool

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// fakeStarted is a request a startSession started; deliver gives it its outcome.
type fakeStarted struct {
	s      *startSession
	req    *http.Request
	failed HeadFailer // Start's
	ready  atomic.Bool
	done   chan struct{} // closed by deliver
	res    *http.Response
	err    error
}

func (st *fakeStarted) Ready() bool { return st.ready.Load() }

// deliver sets the response head (or the failure) Await returns. A failure is told to Start's
// HeadFailer, as muxgate's HTTP/2 session does.
func (st *fakeStarted) deliver(res *http.Response, err error) {
	st.res, st.err = res, err
	st.ready.Store(true)
	close(st.done)
	if st.failed != nil && err != nil {
		st.failed.HeadFailed()
	}
}

// startSession is a fakeSession that is also a StartSession. Its RoundTrip (the fakeSession's
// handler) is counted apart from Start.
type startSession struct {
	*fakeSession

	smu        sync.Mutex
	started    []*fakeStarted // guarded by smu
	awaits     int            // guarded by smu
	roundTrips int            // guarded by smu
	startErr   error          // guarded by smu; returned by Start
}

func (s *startSession) Start(req *http.Request, f HeadFailer) (Started, error) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.startErr != nil {
		return nil, s.startErr
	}
	st := &fakeStarted{s: s, req: req, done: make(chan struct{}), failed: f}
	s.started = append(s.started, st)
	return st, nil
}

func (s *startSession) Await(started Started, req *http.Request) (*http.Response, error) {
	st, ok := started.(*fakeStarted)
	if !ok || st.s != s || st.req != req {
		return nil, errors.New("Await with a Started or request this session did not start")
	}
	s.smu.Lock()
	s.awaits++
	s.smu.Unlock()
	<-st.done
	return st.res, st.err
}

func (s *startSession) RoundTrip(req *http.Request) (*http.Response, error) {
	s.smu.Lock()
	s.roundTrips++
	s.smu.Unlock()
	return s.fakeSession.RoundTrip(req)
}

// stats returns the requests started, Await calls and RoundTrip calls.
func (s *startSession) stats() (started, awaits, roundTrips int) {
	s.smu.Lock()
	defer s.smu.Unlock()
	return len(s.started), s.awaits, s.roundTrips
}

func (s *startSession) nth(i int) *fakeStarted {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.started[i]
}

// startDialer hands out startSessions with max 100 streams.
type startDialer struct {
	mu       sync.Mutex
	sessions []*startSession
}

func (d *startDialer) dial(ctx context.Context, id, _ uint64) (Session, error) {
	s := &startSession{fakeSession: &fakeSession{id: id, max: 100}}
	d.mu.Lock()
	d.sessions = append(d.sessions, s)
	d.mu.Unlock()
	return s, nil
}

func (d *startDialer) session(i int) *startSession {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sessions[i]
}

func (d *startDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sessions)
}

func newStartPool(t *testing.T, cfg Config, d *startDialer) *Pool {
	t.Helper()
	return newPoolDialing(t, cfg, d.dial)
}

// newGet is a GET whose context carries a fresh Info.
func newGet(ctx context.Context) (*http.Request, *Info) {
	info := new(Info)
	req, _ := http.NewRequestWithContext(WithInfo(ctx, info), "GET", "http://upstream/", nil)
	return req, info
}

// bodyResponse is a 200 with body b, marked by an X-From header.
func bodyResponse(from, b string) *http.Response {
	return &http.Response{StatusCode: 200, Header: http.Header{"X-From": {from}}, Body: io.NopCloser(strings.NewReader(b))}
}

// inFlightOf is the streams in flight on each session of p, by session ID.
func inFlightOf(p *Pool) map[uint64]int {
	m := map[uint64]int{}
	for _, s := range p.State().Sessions {
		m[s.ID] = s.InFlight
	}
	return m
}

// TestStartAwait: Start sends the request with the session's Start, not RoundTrip, and counts
// the stream in flight; Await waits for the response head, returns the session's response with
// the caller's request, and the stream stays in flight until the body is closed, once only.
func TestStartAwait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{}, d)
		req, info := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		s := d.session(0)
		if started, awaits, rts := s.stats(); started != 1 || awaits != 0 || rts != 0 {
			t.Fatalf("after Start: %d started, %d awaits, %d round trips; want 1, 0, 0", started, awaits, rts)
		}
		if !reflect.DeepEqual(*info, Info{SessionID: 1, Protocol: "fake", Attempts: 1}) {
			t.Errorf("Info %+v after Start, want session 1, protocol fake, 1 attempt", *info)
		}
		if n := inFlight(t, p); n != 1 {
			t.Fatalf("InFlight %d after Start, want 1", n)
		}
		if pd.Ready() {
			t.Fatal("Ready before the response head came")
		}

		// Await waits for the head.
		type out struct {
			res *http.Response
			err error
		}
		ch := make(chan out, 1)
		go func() {
			res, err := pd.Await()
			ch <- out{res, err}
		}()
		synctest.Wait()
		select {
		case o := <-ch:
			t.Fatalf("Await returned %v, %v before the response head came", o.res, o.err)
		default:
		}
		sent := bodyResponse("start", "hello")
		sentBody := sent.Body
		s.nth(0).deliver(sent, nil)
		o := <-ch
		if o.err != nil {
			t.Fatalf("Await: %v", o.err)
		}
		if o.res != sent || o.res.Request != req {
			t.Errorf("Await returned %+v (Request is the caller's: %v), want the session's response with the caller's request", o.res, o.res.Request == req)
		}
		if _, awaits, rts := s.stats(); awaits != 1 || rts != 0 {
			t.Errorf("%d awaits, %d round trips; want 1, 0", awaits, rts)
		}
		if o.res.Body == sentBody {
			t.Error("the response body is the session's own: closing it would not release the stream")
		}
		if n := inFlight(t, p); n != 1 {
			t.Errorf("InFlight %d with the body open, want 1", n)
		}
		if b, err := io.ReadAll(o.res.Body); err != nil || string(b) != "hello" {
			t.Errorf("body %q, %v; want hello", b, err)
		}
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after the body ended, want 0", n)
		}
		o.res.Body.Close()
		o.res.Body.Close()
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after the body ended and was closed twice, want 0", n)
		}
	})
}

// TestStartAwaitClose: a body closed before its end releases the stream; a response without a
// body (nil or NoBody) releases it when Await returns. Several requests started before any is
// awaited each hold a stream.
func TestStartAwaitClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{}, d)
		pds := make([]Pending, 3)
		for i := range pds {
			req, _ := newGet(context.Background())
			p.Start(req, &pds[i])
		}
		s := d.session(0)
		if started, _, _ := s.stats(); started != 3 || d.count() != 1 {
			t.Fatalf("%d started on %d sessions, want 3 on 1", started, d.count())
		}
		if n := inFlight(t, p); n != 3 {
			t.Fatalf("InFlight %d after 3 Starts, want 3", n)
		}
		s.nth(0).deliver(bodyResponse("start", "unread"), nil)
		s.nth(1).deliver(&http.Response{StatusCode: 204, Body: http.NoBody}, nil)
		s.nth(2).deliver(&http.Response{StatusCode: 204}, nil)

		res0, err := pds[0].Await()
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 3; i++ {
			if res, err := pds[i].Await(); err != nil || res.StatusCode != 204 {
				t.Fatalf("request %d: %v, %v; want 204", i, res, err)
			}
		}
		if n := inFlight(t, p); n != 1 {
			t.Errorf("InFlight %d after the bodiless responses, want 1 (the open body)", n)
		}
		res0.Body.Close()
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after Close, want 0", n)
		}
	})
}

// TestPendingReady: Pending.Ready follows its own Started's Ready, request by request, and, for
// a failed stream, the outcome that is found for it at once.
func TestPendingReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{}, d)
		var a, b Pending
		reqA, _ := newGet(context.Background())
		reqB, _ := newGet(context.Background())
		p.Start(reqA, &a)
		p.Start(reqB, &b)
		s := d.session(0)
		if a.Ready() || b.Ready() {
			t.Fatalf("Ready %v, %v before any head came; want false, false", a.Ready(), b.Ready())
		}
		s.nth(1).deliver(nil, errors.New("stream reset")) // a failure makes it ready too,
		synctest.Wait()                                   // once its outcome is found
		if a.Ready() || !b.Ready() {
			t.Fatalf("Ready %v, %v after the second failed; want false, true", a.Ready(), b.Ready())
		}
		s.nth(0).deliver(bodyResponse("start", "a"), nil)
		if !a.Ready() || !b.Ready() {
			t.Fatalf("Ready %v, %v after both came; want true, true", a.Ready(), b.Ready())
		}
		res, err := a.Await()
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if _, err := b.Await(); err == nil {
			t.Error("b.Await succeeded, want the stream's failure")
		}
	})
}

// TestStartRetryNotProcessed: a started request whose Await fails with ErrNotProcessed is sent
// again with RoundTrip (not Start) and gets its response; the failed stream is released at
// once. A request whose context ended is not sent again. One session at most, so that the
// retry goes back to it (TestStartRetryOnOtherSession: another is preferred).
func TestStartRetryNotProcessed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		req, _ := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		s := d.session(0)
		var sawReq *http.Request
		s.set(func(fs *fakeSession) {
			fs.handler = func(r *http.Request) (*http.Response, error) {
				sawReq = r
				return bodyResponse("roundtrip", "again"), nil
			}
		})
		s.nth(0).deliver(nil, NotProcessed(errors.New("refused stream")))
		res, err := pd.Await()
		if err != nil {
			t.Fatalf("Await: %v, want the retry's response", err)
		}
		if started, awaits, rts := s.stats(); started != 1 || awaits != 1 || rts != 1 {
			t.Errorf("%d started, %d awaits, %d round trips; want 1, 1, 1", started, awaits, rts)
		}
		if sawReq != req {
			t.Error("the retry did not send the caller's request")
		}
		if res.Header.Get("X-From") != "roundtrip" || res.Request != req {
			t.Errorf("got the response from %q (Request is the caller's: %v), want the RoundTrip's", res.Header.Get("X-From"), res.Request == req)
		}
		// One stream in flight: the retry's, not the failed one.
		if n := inFlight(t, p); n != 1 {
			t.Errorf("InFlight %d with the retry's body open, want 1", n)
		}
		if b, _ := io.ReadAll(res.Body); string(b) != "again" {
			t.Errorf("body %q, want again", b)
		}
		res.Body.Close()
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after Close, want 0", n)
		}

		// Not retried once the request's context ended.
		ctx, cancel := context.WithCancel(context.Background())
		req, _ = newGet(ctx)
		p.Start(req, &pd)
		cancel()
		s.nth(1).deliver(nil, NotProcessed(context.Canceled))
		if _, err := pd.Await(); !errors.Is(err, ErrNotProcessed) {
			t.Errorf("Await after cancel: %v, want the session's error", err)
		}
		if _, _, rts := s.stats(); rts != 1 {
			t.Errorf("%d round trips, want still 1: a canceled request is not sent again", rts)
		}
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after the failed Await, want 0", n)
		}
	})
}

// TestStartRetryOnOtherSession: the retry is a RoundTrip on the least-loaded session, here
// not the one whose stream failed, and the failed stream is released.
func TestStartRetryOnOtherSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{Limits: Limits{MaxSessions: 2, MaxStreamsPerSession: 3}}, d)
		// Three started requests fill session 1; a fourth opens session 2.
		pds := make([]Pending, 4)
		for i := range pds {
			req, _ := newGet(context.Background())
			p.Start(req, &pds[i])
		}
		if d.count() != 2 {
			t.Fatalf("%d sessions, want 2", d.count())
		}
		s1, s2 := d.session(0), d.session(1)
		if n1, _, _ := s1.stats(); n1 != 3 {
			t.Fatalf("session 1 started %d, want 3", n1)
		}
		for i, s := range []*startSession{s1, s2} {
			from := []string{"s1", "s2"}[i]
			s.set(func(fs *fakeSession) {
				fs.handler = func(*http.Request) (*http.Response, error) { return bodyResponse(from, "x"), nil }
			})
		}
		// Session 1 falls to 2 streams when the failed one is released: session 2, with 1, is
		// the least loaded.
		s1.nth(0).deliver(nil, NotProcessed(errors.New("refused stream")))
		res, err := pds[0].Await()
		if err != nil {
			t.Fatalf("Await: %v", err)
		}
		_, _, rts1 := s1.stats()
		_, _, rts2 := s2.stats()
		if rts1 != 0 || rts2 != 1 || res.Header.Get("X-From") != "s2" {
			t.Errorf("round trips %d on session 1, %d on session 2, response from %q; want the retry on session 2", rts1, rts2, res.Header.Get("X-From"))
		}
		if got := inFlightOf(p); got[1] != 2 || got[2] != 2 {
			t.Errorf("in flight %v, want 2 on each session", got)
		}
		res.Body.Close()
		for i := 1; i < 4; i++ {
			pds[i].st.(*fakeStarted).deliver(&http.Response{StatusCode: 204}, nil)
			if _, err := pds[i].Await(); err != nil {
				t.Fatal(err)
			}
		}
		if got := inFlightOf(p); got[1] != 0 || got[2] != 0 {
			t.Errorf("in flight %v at the end, want none", got)
		}
	})
}

// TestStartRetriesAtOnce: started requests whose streams fail unprocessed together (a GOAWAY
// below them) are sent again at once, all of them, before any is awaited: a caller that awaits
// them in turn does not wait for each retry's answer before the next goes out.
func TestStartRetriesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{Limits: Limits{MaxSessions: 2}}, d)
		pds := make([]Pending, 3)
		for i := range pds {
			req, _ := newGet(context.Background())
			p.Start(req, &pds[i])
		}
		s1 := d.session(0)
		s1.set(func(fs *fakeSession) { fs.draining = true })
		for i := range pds {
			s1.nth(i).deliver(nil, NotProcessed(errors.New("GOAWAY below the stream")))
		}
		synctest.Wait()
		if d.count() != 2 {
			t.Fatalf("%d sessions, want a second for the retries", d.count())
		}
		if _, _, rts := d.session(1).stats(); rts != 3 {
			t.Errorf("%d retries sent before any Await, want all 3", rts)
		}
		for i := range pds {
			res, err := pds[i].Await()
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("Await %d: %v, want the retry's response", i, err)
			}
			res.Body.Close()
		}
		if got := inFlightOf(p); got[1] != 0 || got[2] != 0 {
			t.Errorf("in flight %v at the end, want none", got)
		}
	})
}

// TestStartAwaitOtherError: an Await error that does not wrap ErrNotProcessed is returned as
// is, without a retry, and the stream is released.
func TestStartAwaitOtherError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{}, d)
		req, _ := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		boom := errors.New("reset after headers")
		s := d.session(0)
		s.nth(0).deliver(nil, boom)
		res, err := pd.Await()
		if err != boom || res != nil {
			t.Errorf("Await = %v, %v; want nil, the session's error as is", res, err)
		}
		if _, _, rts := s.stats(); rts != 0 {
			t.Errorf("%d round trips, want 0", rts)
		}
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after the failed Await, want 0", n)
		}
	})
}

// TestStartSessionStartFails: an error from the session's Start releases the stream; one that
// wraps ErrNotProcessed is sent again with RoundTrip, others are Await's result.
func TestStartSessionStartFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		req, _ := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd) // session 1 up
		s := d.session(0)
		s.nth(0).deliver(&http.Response{StatusCode: 204}, nil)
		if _, err := pd.Await(); err != nil {
			t.Fatal(err)
		}

		s.smu.Lock()
		s.startErr = NotProcessed(errors.New("connection closed before HEADERS"))
		s.smu.Unlock()
		req, _ = newGet(context.Background())
		p.Start(req, &pd)
		if !pd.Ready() {
			t.Error("Ready false after Start failed and was retried")
		}
		if _, _, rts := s.stats(); rts != 1 {
			t.Errorf("%d round trips after Start failed as not processed, want 1", rts)
		}
		if n := inFlight(t, p); n != 1 {
			t.Errorf("InFlight %d with the retry's body open, want 1", n)
		}
		res, err := pd.Await()
		if err != nil || res.Request != req {
			t.Fatalf("Await = %v, %v; want the retry's response", res, err)
		}
		res.Body.Close()
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after Close, want 0", n)
		}

		boom := errors.New("header list too long")
		s.smu.Lock()
		s.startErr = boom
		s.smu.Unlock()
		req, _ = newGet(context.Background())
		p.Start(req, &pd)
		if res, err := pd.Await(); err != boom || res != nil {
			t.Errorf("Await = %v, %v; want nil, the Start error", res, err)
		}
		if _, _, rts := s.stats(); rts != 1 {
			t.Errorf("%d round trips, want still 1", rts)
		}
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after Start failed, want 0", n)
		}
	})
}

// TestStartPlainSession: with a session that cannot start, Start is a RoundTrip: the request
// is sent before Start returns, Ready is true at once, and Await returns the response.
func TestStartPlainSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{}, d)
		var calls atomic.Int32
		d.result = func(id uint64) (*fakeSession, error) {
			return &fakeSession{id: id, max: 100, handler: func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return okResponse(), nil
			}}, nil
		}
		req, info := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d round trips when Start returned, want 1", n)
		}
		if !pd.Ready() {
			t.Error("Ready false after a plain RoundTrip")
		}
		if !reflect.DeepEqual(*info, Info{SessionID: 1, Protocol: "fake", Attempts: 1}) {
			t.Errorf("Info %+v, want session 1, protocol fake, 1 attempt", *info)
		}
		if n := inFlight(t, p); n != 1 {
			t.Errorf("InFlight %d with the body open, want 1", n)
		}
		res, err := pd.Await()
		if err != nil || res.Request != req {
			t.Fatalf("Await = %v, %v; want the response to the caller's request", res, err)
		}
		if b, _ := io.ReadAll(res.Body); string(b) != "ok" {
			t.Errorf("body %q, want ok", b)
		}
		res.Body.Close()
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after Close, want 0", n)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d round trips in all, want 1", n)
		}
	})
}

// TestStartPlainSessionReservesOnce: Session.Reserve "reserves one stream for a RoundTrip that
// follows at once"; Start on a session that cannot start must reserve one stream per request,
// as RoundTrip does, or the session keeps a reservation nobody uses (x/net's ClientConn counts
// it against MAX_CONCURRENT_STREAMS for good, h2conn and h3 likewise).
func TestStartPlainSessionReservesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{}, d)
		mustGet(t, p).res.Body.Close()
		before, _, _ := d.session(0).counts()
		req, _ := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		res, err := pd.Await()
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if after, _, _ := d.session(0).counts(); after-before != 1 {
			t.Errorf("Start of one request made %d Reserve calls on a plain session, want 1 (RoundTrip makes 1)", after-before)
		}
	})
}

// TestStartWithBody: a request with a body goes through RoundTrip, even on a session that can
// start; one with NoBody is started.
func TestStartWithBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{}, d)
		req, _ := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd) // session 1 up
		s := d.session(0)
		s.nth(0).deliver(&http.Response{StatusCode: 204}, nil)
		if _, err := pd.Await(); err != nil {
			t.Fatal(err)
		}
		echo(s.fakeSession)

		req, _ = http.NewRequest("POST", "http://upstream/", strings.NewReader("payload"))
		p.Start(req, &pd)
		if started, _, rts := s.stats(); started != 1 || rts != 1 {
			t.Fatalf("request with a body: %d started, %d round trips; want 1 (the first request), 1", started, rts)
		}
		if !pd.Ready() {
			t.Error("Ready false after a RoundTrip")
		}
		res, err := pd.Await()
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(res.Body); string(b) != "payload" || res.Request != req {
			t.Errorf("body %q (Request is the caller's: %v), want the echoed payload", b, res.Request == req)
		}
		res.Body.Close()
		if n := inFlight(t, p); n != 0 {
			t.Errorf("InFlight %d after Close, want 0", n)
		}

		req, _ = http.NewRequest("GET", "http://upstream/", nil)
		req.Body = http.NoBody
		p.Start(req, &pd)
		if started, _, rts := s.stats(); started != 2 || rts != 1 {
			t.Fatalf("request with NoBody: %d started, %d round trips; want 2, 1", started, rts)
		}
		s.nth(1).deliver(&http.Response{StatusCode: 204}, nil)
		if _, err := pd.Await(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStartRetryInfoAttempts: Info.Attempts counts the streams a request tried ("1, or more
// when a request was retried"), as after RoundTrip's own retries; a started request sent again
// after its stream was refused tried 2.
func TestStartRetryInfoAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		req, info := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		d.session(0).nth(0).deliver(nil, NotProcessed(errors.New("refused stream")))
		res, err := pd.Await()
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if info.Attempts != 2 || info.SessionID != 1 {
			t.Errorf("Info %+v after a refused stream and a retry, want 2 attempts, session 1", *info)
		}
	})
}

// TestStartRetryMaybeProcessedOnce: a started request whose session died after it was sent
// (ErrMaybeProcessed from Await) is sent again once with RoundTrip, and not a third time when
// that attempt dies the same way.
func TestStartRetryMaybeProcessedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &startDialer{}
		p := newStartPool(t, Config{Limits: Limits{MaxSessions: 1}}, d)
		req, info := newGet(context.Background())
		var pd Pending
		p.Start(req, &pd)
		s := d.session(0)
		lost := MaybeProcessed(errors.New("connection lost"))
		s.set(func(fs *fakeSession) {
			fs.handler = func(*http.Request) (*http.Response, error) { return nil, lost }
		})
		s.nth(0).deliver(nil, lost)
		_, err := pd.Await()
		if !errors.Is(err, ErrMaybeProcessed) || info.Attempts != 2 || !info.Resent {
			t.Fatalf("Await: %v, Info %+v; want ErrMaybeProcessed after 2 attempts, Resent", err, *info)
		}
		var rts int
		for i := range d.count() {
			_, _, n := d.session(i).stats()
			rts += n
		}
		if rts != 1 {
			t.Errorf("%d round trips after the started attempt, want 1", rts)
		}
	})
}
