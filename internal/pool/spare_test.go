package pool

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

const testIdle = time.Minute

// openStreams sends n GETs through p one after another and returns them with their bodies open,
// so that their streams stay in flight.
func openStreams(t *testing.T, p *Pool, n int) []result {
	t.Helper()
	rs := make([]result, n)
	for i := range rs {
		rs[i] = mustGet(t, p)
	}
	return rs
}

func closeBodies(rs []result) {
	for _, r := range rs {
		r.res.Body.Close()
	}
}

// shutdowns returns each dialed session's count of shutdowns and of closes.
func shutdowns(d *fakeDialer) (shut, closed []int) {
	d.mu.Lock()
	ss := d.sessions
	d.mu.Unlock()
	for _, s := range ss {
		_, sh, cl := s.counts()
		shut, closed = append(shut, sh), append(closed, cl)
	}
	return shut, closed
}

// TestSpareSessions: the sessions a burst opened are shut down (GOAWAY), the youngest first, one
// per SessionIdleTimeout once the burst is over, down to one; not while the streams in flight
// would fill more than half of what the sessions left can take.
func TestSpareSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(2)}
		p := newTestPool(t, Config{Limits: Limits{SessionIdleTimeout: testIdle}}, d)
		burst := openStreams(t, p, 6)
		if n := len(p.State().Sessions); n != 3 {
			t.Fatalf("%d sessions for 6 streams of 2 each, want 3", n)
		}
		// A period began at session 2's dial: from here on the test acts between two of its ends.
		time.Sleep(testIdle / 2)
		time.Sleep(3 * testIdle)
		synctest.Wait()
		if shut, closed := shutdowns(d); shut[0]+shut[1]+shut[2]+closed[0]+closed[1]+closed[2] != 0 {
			t.Fatalf("while the burst's streams are open: shutdowns %v closes %v, want none", shut, closed)
		}

		// Three streams left would fill more than half of two sessions' four.
		closeBodies(burst[3:])
		time.Sleep(3 * testIdle)
		synctest.Wait()
		if shut, _ := shutdowns(d); shut[2] != 0 {
			t.Fatalf("with 3 streams of 6 open: shutdowns %v, want none", shut)
		}

		// The period under way saw the streams; the next whole one sees none.
		closeBodies(burst[:3])
		time.Sleep(testIdle)
		synctest.Wait()
		if shut, _ := shutdowns(d); shut[2] != 0 {
			t.Fatalf("at the end of the period in which the streams ended: shutdowns %v, want none", shut)
		}
		time.Sleep(testIdle)
		synctest.Wait()
		if shut, closed := shutdowns(d); shut[0] != 0 || shut[1] != 0 || shut[2] != 1 || closed[2] != 0 {
			t.Fatalf("a whole period after the last stream: shutdowns %v closes %v, want session 3's only", shut, closed)
		}
		time.Sleep(testIdle)
		synctest.Wait()
		if shut, _ := shutdowns(d); shut[0] != 0 || shut[1] != 1 {
			t.Fatalf("two periods after: shutdowns %v, want sessions 3's and 2's", shut)
		}
		time.Sleep(3 * testIdle)
		synctest.Wait()
		if shut, _ := shutdowns(d); shut[0] != 0 {
			t.Errorf("session 1, the last: %d shutdowns, want none", shut[0])
		}
		if r := mustGet(t, p); r.info.SessionID != 1 {
			t.Errorf("the next request went to session %d, want 1", r.info.SessionID)
		} else {
			r.res.Body.Close()
		}
		if dials, _, _ := d.stats(); dials != 3 {
			t.Errorf("%d dials, want 3", dials)
		}
		if st := p.State(); st.Opened != 3 || st.Ends != (Ends{EndSpare: 2}) {
			t.Errorf("State: %d opened, ends %v; want 3, and 2 spare", st.Opened, st.Ends)
		}
	})
}

// TestSpareSessionWithStreams: a spare session with streams in flight takes no new ones and is
// shut down once they end.
func TestSpareSessionWithStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(4)}
		p := newTestPool(t, Config{Limits: Limits{SessionIdleTimeout: testIdle}}, d)
		burst := openStreams(t, p, 9) // 4, 4 and 1
		closeBodies(burst[1:4])       // 1 stream left on each session
		closeBodies(burst[5:8])
		time.Sleep(testIdle / 2)
		time.Sleep(2 * testIdle)
		synctest.Wait()
		if st := p.State(); len(st.Sessions) != 3 || st.Sessions[2].ID != 3 || !st.Sessions[2].Draining {
			t.Fatalf("sessions %+v, want session 3 draining", st.Sessions)
		}
		for range 4 {
			if r := mustGet(t, p); r.info.SessionID == 3 {
				t.Fatal("a request went to session 3, which drains")
			} else {
				r.res.Body.Close()
			}
		}
		if shut, closed := shutdowns(d); shut[2] != 0 || closed[2] != 0 {
			t.Fatalf("session 3 with its stream open: %d shutdowns %d closes, want none", shut[2], closed[2])
		}
		burst[8].res.Body.Close()
		synctest.Wait()
		if shut, closed := shutdowns(d); shut[2] != 1 || closed[2] != 0 {
			t.Errorf("session 3 after its stream: %d shutdowns %d closes, want 1 shutdown", shut[2], closed[2])
		}
		burst[0].res.Body.Close()
		burst[4].res.Body.Close()
	})
}

// TestSpareSessionsMinSessions: with MinSessions, the sessions in its slots stay, even one with
// fewer streams than the spare one.
func TestSpareSessionsMinSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(2)}
		p := newTestPool(t, Config{Limits: Limits{MinSessions: 2, SessionIdleTimeout: testIdle}}, d)
		burst := openStreams(t, p, 6)
		var kept []result // a stream on session 2 (slot 1) and one on session 3 (slot 2)
		for _, r := range burst {
			if id := r.info.SessionID; id == 1 || slices.ContainsFunc(kept, func(k result) bool { return k.info.SessionID == id }) {
				r.res.Body.Close()
			} else {
				kept = append(kept, r)
			}
		}
		if len(kept) != 2 {
			t.Fatalf("streams kept %d, want one on each of sessions 2 and 3", len(kept))
		}
		time.Sleep(testIdle / 2)
		time.Sleep(2 * testIdle)
		synctest.Wait()
		if st := p.State(); len(st.Sessions) != 3 || st.Sessions[2].ID != 3 || !st.Sessions[2].Draining {
			t.Errorf("sessions %+v, want session 3 draining, 1 and 2 taking streams", st.Sessions)
		}
		closeBodies(kept)
		time.Sleep(3 * testIdle)
		synctest.Wait()
		if shut, _ := shutdowns(d); len(shut) != 3 || shut[0] != 0 || shut[1] != 0 || shut[2] != 1 {
			t.Errorf("shutdowns %v, want session 3's only", shut)
		}
	})
}

// TestSpareSessionsOff: without SessionIdleTimeout, every session is kept.
func TestSpareSessionsOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: sessionsWith(1)}
		p := newTestPool(t, Config{}, d)
		closeBodies(openStreams(t, p, 3))
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(p.State().Sessions); n != 3 {
			t.Errorf("%d sessions, want 3", n)
		}
	})
}
