package pool

import (
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// refusingSessions is a fakeDialer result: sessions that drain at once, as after a GOAWAY that
// took no stream.
func refusingSessions(id uint64) (*fakeSession, error) {
	return &fakeSession{id: id, max: 100, draining: true}, nil
}

// TestSessionsEndedUnused: an upstream that ends every new session before it carries a stream
// gets two dials for the first request (the first such session is replaced at once), then one
// per back-off, which grows; the requests in between fail at once. Once a session serves, the
// count starts again.
func TestSessionsEndedUnused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Bounded, so that a pool that dials again at each end fails here rather than spins.
		refusing := func(id uint64) (*fakeSession, error) {
			if id > 20 {
				return nil, errors.New("20 dials for a few requests")
			}
			return refusingSessions(id)
		}
		d := &fakeDialer{result: refusing}
		p := newTestPool(t, Config{}, d)
		wantFailed := func(when string, dials int) {
			t.Helper()
			if r := get(p); !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, ErrSessionsRefused) {
				t.Fatalf("%s: %v, want ErrUnavailable wrapping ErrSessionsRefused", when, r.err)
			}
			synctest.Wait()
			if n, _, _ := d.stats(); n != dials {
				t.Fatalf("%s: %d dials, want %d", when, n, dials)
			}
		}
		wantFailed("first request", 2)
		wantFailed("within the back-off", 2)
		for i, backoff := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
			time.Sleep(backoff - time.Millisecond)
			wantFailed("just before the back-off ends", 3+i-1)
			time.Sleep(time.Millisecond)
			wantFailed("after the back-off", 3+i)
		}

		// The upstream serves again: the first request after the back-off is served. When that
		// session drains, one that ends unused after it is replaced at once, as the first was.
		d.set(func(d *fakeDialer) { d.result = nil })
		time.Sleep(400 * time.Millisecond)
		mustGet(t, p).res.Body.Close()
		d.session(4).set(func(s *fakeSession) { s.draining = true })
		refused := false
		d.set(func(d *fakeDialer) {
			d.result = func(id uint64) (*fakeSession, error) {
				if !refused {
					refused = true
					return refusing(id)
				}
				return &fakeSession{id: id, max: 100}, nil
			}
		})
		mustGet(t, p).res.Body.Close()
		if n, _, _ := d.stats(); n != 7 {
			t.Errorf("%d dials, want 7: the served session's replacement ended unused and was replaced at once", n)
		}
	})
}

// TestSessionsEndedUnusedLater: sessions that end unused more than unusedWithin after their dial
// (an upstream's idle timeout ending the ones -min-sessions keeps) do not count.
func TestSessionsEndedUnusedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MinSessions: 3}}, d)
		mustGet(t, p).res.Body.Close()
		synctest.Wait()
		if n, _, _ := d.stats(); n != 3 {
			t.Fatalf("%d dials, want 3", n)
		}
		time.Sleep(2 * unusedWithin)
		for i := range 3 {
			d.session(i).set(func(s *fakeSession) { s.closed = true })
		}
		if r := get(p); r.err != nil {
			t.Fatalf("after the upstream closed idle sessions: %v", r.err)
		}
	})
}

// TestSessionsEndedUnusedWhileOneDrains: new sessions that end unused while a draining one
// still has a stream out do not count, as in Apache's graceful restart: the waiting request is
// served by the next session that serves.
func TestSessionsEndedUnusedWhileOneDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		d := &fakeDialer{}
		d.result = func(id uint64) (*fakeSession, error) {
			switch id {
			case 1:
				s := &fakeSession{id: id, max: 100}
				s.handler = func(*http.Request) (*http.Response, error) {
					<-hold
					return okResponse(), nil
				}
				return s, nil
			case 2, 3:
				return refusingSessions(id)
			}
			return &fakeSession{id: id, max: 100}, nil
		}
		p := newTestPool(t, Config{}, d)
		held := goGet(p)
		synctest.Wait()
		d.session(0).set(func(s *fakeSession) { s.draining = true })
		if r := get(p); r.err != nil {
			t.Fatalf("while session 1 drains with a stream out: %v", r.err)
		}
		if n, _, _ := d.stats(); n != 4 {
			t.Errorf("%d dials, want 4", n)
		}
		close(hold)
		if r := <-held; r.err != nil {
			t.Errorf("the held request: %v", r.err)
		}
	})
}
