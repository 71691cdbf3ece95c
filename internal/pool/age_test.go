package pool

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

const testAge = 10 * time.Minute

// TestSessionAge: a session past its age serves on while its replacement is dialed, takes no new
// streams once that is up, and is shut down (GOAWAY), not closed, once its last stream ends.
func TestSessionAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessionAge: testAge}}, d)
		mustGet(t, p).res.Body.Close()
		s1 := d.session(0)
		time.Sleep(testAge - testAge/10 - time.Nanosecond)
		r := mustGet(t, p)
		r.res.Body.Close()
		if r.info.SessionID != 1 {
			t.Fatalf("before 0.9 of its age: session %d, want 1", r.info.SessionID)
		}
		synctest.Wait()
		if dials, _, _ := d.stats(); dials != 1 {
			t.Fatalf("%d dials before 0.9 of the age, want 1", dials)
		}

		time.Sleep(testAge/10 + time.Nanosecond)
		held := mustGet(t, p)
		if held.info.SessionID != 1 {
			t.Fatalf("at its age, before its replacement is up: session %d, want 1", held.info.SessionID)
		}
		synctest.Wait()
		if dials, _, _ := d.stats(); dials != 2 {
			t.Fatalf("%d dials at the age, want the replacement's 2", dials)
		}
		if r := mustGet(t, p); r.info.SessionID != 2 {
			t.Fatalf("once the replacement is up: session %d, want 2", r.info.SessionID)
		}
		if _, shutdowns, closes := s1.counts(); shutdowns != 0 || closes != 0 {
			t.Fatalf("session 1 with a stream open: %d shutdowns %d closes, want none", shutdowns, closes)
		}
		if st := p.State(); len(st.Sessions) != 2 || st.Sessions[1].ID != 1 || !st.Sessions[1].Draining {
			t.Errorf("State sessions %+v, want 2 live and 1 draining", st.Sessions)
		}
		held.res.Body.Close()
		synctest.Wait()
		if _, shutdowns, closes := s1.counts(); shutdowns != 1 || closes != 0 {
			t.Errorf("session 1 after its last stream: %d shutdowns %d closes, want 1 shutdown", shutdowns, closes)
		}
		if ends := p.State().Ends; ends != (Ends{EndAge: 1}) {
			t.Errorf("ends %v, want 1 for its age", ends)
		}
	})
}

// TestSessionAgeOneSession: where no session may be added (MaxSessions 1), a session past its
// age is dropped at once, and the request waits for the new one.
func TestSessionAgeOneSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessionAge: testAge, MaxSessions: 1}}, d)
		mustGet(t, p).res.Body.Close()
		time.Sleep(testAge)
		if r := mustGet(t, p); r.info.SessionID != 2 {
			t.Fatalf("past the age: session %d, want the new session 2", r.info.SessionID)
		}
		synctest.Wait()
		if _, shutdowns, _ := d.session(0).counts(); shutdowns != 1 {
			t.Errorf("session 1: %d shutdowns, want 1", shutdowns)
		}
	})
}

// TestSessionAgeUnreachable: a session past its age whose replacement cannot be dialed serves on.
func TestSessionAgeUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := errors.New("connection refused")
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessionAge: testAge}}, d)
		mustGet(t, p).res.Body.Close()
		d.set(func(d *fakeDialer) {
			d.result = func(uint64) (*fakeSession, error) { return nil, refused }
		})
		time.Sleep(testAge)
		for i := range 3 {
			r := mustGet(t, p)
			r.res.Body.Close()
			if r.info.SessionID != 1 {
				t.Fatalf("request %d while the replacement fails: session %d, want 1", i, r.info.SessionID)
			}
			synctest.Wait()
			time.Sleep(maxBackoff)
		}
		if dials, _, _ := d.stats(); dials != 4 {
			t.Errorf("%d dials, want the first and one replacement per request past each back-off", dials)
		}
	})
}

// TestRetireAtSpread: sessions retire between 0.9 and 1 of the age after their dial, not all at
// one instant.
func TestRetireAtSpread(t *testing.T) {
	p := &Pool{cfg: Config{Limits: Limits{MaxSessionAge: testAge}}}
	now := time.Now()
	seen := map[time.Time]bool{}
	for range 100 {
		at := p.retireAt(now)
		if at.Before(now.Add(testAge-testAge/10)) || at.After(now.Add(testAge)) {
			t.Fatalf("retireAt %v after the dial, want 0.9 to 1 of %v", at.Sub(now), testAge)
		}
		seen[at] = true
	}
	if len(seen) < 50 {
		t.Errorf("%d distinct times of 100, want them spread", len(seen))
	}
	if at := (&Pool{}).retireAt(now); !at.IsZero() {
		t.Errorf("without an age: %v, want never", at)
	}
}
