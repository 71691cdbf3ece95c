package gateway

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"muxgate/internal/pool"
)

// answers makes a fake pool's round trip answer with status.
func answers(status int) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		if req.Body != nil {
			req.Body.Close()
		}
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("x"))}, nil
	}
}

// ejectingBalancer is newTestBalancer's with Ejection After 3, For 10s.
func ejectingBalancer(n int) (*balancer, []*fakePool) {
	b, fakes := newTestBalancer(n)
	b.eject = Ejection{After: 3, For: 10 * time.Second}
	return b, fakes
}

// TestEjection: a member that answers 503 three times in a row is passed over for Ejection.For,
// then tried again; ejected again at once by three more, for twice as long; a success ends the
// doubling. Other answers break the streak.
func TestEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, fakes := ejectingBalancer(2)
		a, bb := fakes[0], fakes[1]
		bb.load = 1 // a is chosen while it serves
		a.set(answers(503))
		burst := func(want string, n int) {
			t.Helper()
			for i := range n {
				if _, info, err := send(t, b, ""); err != nil || chosen(b, info) != want {
					t.Fatalf("request %d: %s, %v; want %s", i+1, chosen(b, info), err, want)
				}
			}
		}
		burst("a", 3)
		burst("b", 5) // ejected
		time.Sleep(10*time.Second - time.Nanosecond)
		burst("b", 1)
		time.Sleep(time.Nanosecond)
		burst("a", 3) // back, and failing again
		start := time.Now()
		burst("b", 1)
		time.Sleep(20*time.Second - time.Nanosecond) // twice as long
		burst("b", 1)
		time.Sleep(time.Nanosecond)
		if time.Since(start) != 20*time.Second {
			t.Fatalf("test clock at %v", time.Since(start))
		}
		a.set(answers(200))
		burst("a", 2) // a success ends the streak of ejections
		a.set(answers(503))
		burst("a", 3)
		burst("b", 1)
		time.Sleep(10 * time.Second) // as long as the first: the success ended the doubling
		a.set(answers(200))
		burst("a", 1)

		// Two failures, then another answer: no ejection.
		a.set(answers(502))
		burst("a", 2)
		a.set(answers(404))
		burst("a", 1)
		a.set(answers(504))
		burst("a", 2)
		if got := a.ejections(b); got != 3 {
			t.Errorf("%d ejections counted, want 3", got)
		}
	})
}

// TestEjectionKeepsOne: the last member that serves is not ejected, however it fails; errors
// that are not the upstream's doing do not count.
func TestEjectionKeepsOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, fakes := ejectingBalancer(2)
		a, bb := fakes[0], fakes[1]
		a.set(answers(503))
		bb.set(answers(503))
		for range 12 {
			send(t, b, "")
		}
		if n := a.ejections(b) + bb.ejections(b); n != 1 {
			t.Errorf("%d ejections of two failing members, want 1: the other must serve", n)
		}
		b2, fakes2 := ejectingBalancer(2)
		fakes2[1].load = 1
		fakes2[0].set(fails(pool.ErrQueueFull))
		for range 6 {
			send(t, b2, "")
		}
		fakes2[0].set(fails(errors.New("h2: stream reset")))
		for range 3 {
			send(t, b2, "")
		}
		if got := fakes2[0].ejections(b2); got != 1 {
			t.Errorf("%d ejections after queue-full refusals and then 3 resets, want 1 (the resets)", got)
		}
	})
}

// ejections is how many times p's member was ejected.
func (p *fakePool) ejections(b *balancer) uint64 {
	for _, m := range b.members {
		if m.up == p {
			return m.out.ejected.Load()
		}
	}
	return 0
}
