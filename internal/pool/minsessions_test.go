package pool

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestMinSessions: with MinSessions, the first request has the pool dial that many sessions, one
// at a time, each in a slot of its own (the dial's turn); requests one after another go to each
// in turn; a session that dies is replaced in its slot.
func TestMinSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MinSessions: 3, MaxSessions: 4}}, d)
		mustGet(t, p).res.Body.Close()
		synctest.Wait()
		if dials, maxActive, _ := d.stats(); dials != 3 || maxActive != 1 {
			t.Fatalf("after one request: %d dials, %d at once; want 3, one at a time", dials, maxActive)
		}
		var used []uint64
		for range 6 {
			r := mustGet(t, p)
			r.res.Body.Close()
			used = append(used, r.info.SessionID)
		}
		if want := []uint64{2, 3, 1, 2, 3, 1}; !slices.Equal(used, want) {
			t.Errorf("six requests went to sessions %v, want %v: the least lately used of the idle ones", used, want)
		}
		d.session(1).set(func(s *fakeSession) { s.closed = true }) // session 2, in slot 1
		mustGet(t, p).res.Body.Close()
		synctest.Wait()
		d.mu.Lock()
		turns := slices.Clone(d.turns)
		d.mu.Unlock()
		if want := []uint64{0, 1, 2, 1}; !slices.Equal(turns, want) {
			t.Errorf("dials' turns %v, want %v: a slot each, the dead session's taken again", turns, want)
		}
		if n := len(p.State().Sessions); n != 3 {
			t.Errorf("%d sessions, want 3", n)
		}
	})
}

// TestMinSessionsOff: without MinSessions, one session serves requests one after another, and
// the turns of the dials are the sessions' IDs.
func TestMinSessionsOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{Limits: Limits{MaxSessions: 4}}, d)
		for range 3 {
			mustGet(t, p).res.Body.Close()
		}
		d.session(0).set(func(s *fakeSession) { s.closed = true })
		mustGet(t, p).res.Body.Close()
		synctest.Wait()
		d.mu.Lock()
		defer d.mu.Unlock()
		if !slices.Equal(d.turns, []uint64{1, 2}) {
			t.Errorf("dials' turns %v, want [1 2]: one session, then its replacement", d.turns)
		}
	})
}

// TestMinSessionsAge: with MinSessions and MaxSessionAge, sessions past their age are each
// replaced in their own slot, so on their own address, and each serves on until its replacement
// is up: the pool never keeps fewer than MinSessions sessions that take new streams. Before, the
// first replacement, dialled into a new slot (so on another session's address), retired every
// session past its age at once.
func TestMinSessionsAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{result: func(id uint64) (*fakeSession, error) {
			time.Sleep(time.Millisecond) // a dial takes a while: the pool's state meanwhile counts
			return &fakeSession{id: id, max: 100}, nil
		}}
		p := newTestPool(t, Config{Limits: Limits{MinSessions: 3, MaxSessions: 4, MaxSessionAge: testAge}}, d)
		mustGet(t, p).res.Body.Close()
		time.Sleep(testAge) // every session up, and past its age
		for i := range 12 {
			mustGet(t, p).res.Body.Close()
			synctest.Wait() // a dial it started is under way
			taking := 0
			for _, s := range p.State().Sessions {
				if !s.Draining {
					taking++
				}
			}
			if taking < 3 {
				t.Fatalf("after request %d: %d sessions take new streams, want 3 at least", i+1, taking)
			}
			time.Sleep(time.Millisecond) // the dial ends
		}
		d.mu.Lock()
		turns := slices.Clone(d.turns)
		d.mu.Unlock()
		if want := []uint64{0, 1, 2, 0, 1, 2}; !slices.Equal(turns, want) {
			t.Errorf("dials' turns %v, want %v: each replacement in its session's slot", turns, want)
		}
		if n := len(p.State().Sessions); n != 3 {
			t.Errorf("%d sessions in the end, want 3", n)
		}
	})
}
