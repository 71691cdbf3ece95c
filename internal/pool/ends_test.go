package pool

import (
	"testing"
	"testing/synctest"
)

// TestEnds: State counts the sessions dialed, and the ones dropped by why.
func TestEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		p := newTestPool(t, Config{}, d)
		for i, end := range []func(s *fakeSession){
			func(s *fakeSession) { s.draining = true },
			func(s *fakeSession) { s.closed = true },
			func(s *fakeSession) { s.closed, s.silent = true, true },
			func(s *fakeSession) { s.refuse = true },
		} {
			mustGet(t, p).res.Body.Close()
			d.session(i).set(end)
		}
		mustGet(t, p).res.Body.Close()
		st := p.State()
		want := Ends{EndGoAway: 1, EndClosed: 1, EndSilent: 1, EndRefused: 1}
		if st.Opened != 5 || st.Ends != want {
			t.Errorf("opened %d, ends %v; want 5 and %v", st.Opened, st.Ends, want)
		}
		for r := range endReasons {
			if r.String() == "" {
				t.Errorf("end reason %d has no name", r)
			}
		}
	})
}
