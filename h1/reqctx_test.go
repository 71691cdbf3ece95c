package h1

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

type ctxKey struct{}

func newReqContext() *reqContext {
	return &reqContext{base: context.WithValue(context.Background(), ctxKey{}, "v")}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestReqContext: a request's context carries its connection's values, ends once, with the first
// cause, whether or not anyone asked for Done before; context.Cause gives that cause but for a
// handler's plain return, which it gives as context.Canceled unless Done was asked for first.
func TestReqContext(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	for _, tc := range []struct {
		name       string
		doneBefore bool
		cause      error
		wantCause  error
	}{
		{"cause", false, errA, errA},
		{"cause, Done asked before", true, errA, errA},
		{"handler done", false, errHandlerDone, context.Canceled},
		{"handler done, Done asked before", true, errHandlerDone, errHandlerDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newReqContext()
			var done <-chan struct{}
			if tc.doneBefore {
				done = c.Done()
				if closed(done) {
					t.Fatal("Done closed before cancel")
				}
			}
			if c.Err() != nil || c.Value(ctxKey{}) != "v" || c.Value(listedKey) != nil {
				t.Fatalf("before cancel: Err %v, value %v, listed %v", c.Err(), c.Value(ctxKey{}), c.Value(listedKey))
			}
			if _, ok := RequestFields(newRequestOn(c)); ok {
				t.Error("RequestFields found a list on an unlisted request's context")
			}
			c.cancel(tc.cause)
			c.cancel(errB) // the first cause stands
			if got := context.Cause(c); got != tc.wantCause {
				t.Errorf("after cancel: Cause %v, want %v", got, tc.wantCause)
			}
			if !tc.doneBefore {
				done = c.Done()
			}
			if !closed(done) || c.Err() != context.Canceled {
				t.Errorf("after cancel: Done closed %v, Err %v; want true, %v", closed(done), c.Err(), context.Canceled)
			}
			if c.Value(ctxKey{}) != "v" {
				t.Errorf("after cancel: value %v", c.Value(ctxKey{}))
			}
		})
	}
}

// TestReqContextChildren: a context derived from a request's context, and a function after it,
// end with it, and cost no goroutine each (the standard library's cancelable context is made
// and takes them, as it did its own). In a synctest bubble, a function that never runs is a
// deadlock, reported at once. Only goroutines this test's goroutine started are counted:
// runtime.NumGoroutine also counts other tests' servers, which end on their own clocks.
func TestReqContextChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newReqContext()
		child, cancelChild := context.WithCancelCause(c)
		defer cancelChild(nil)
		ran := make(chan struct{})
		context.AfterFunc(c, func() { close(ran) })
		if n := goroutinesStartedHere(); n != 0 {
			t.Errorf("deriving started %d goroutines", n)
		}
		errA := errors.New("a")
		c.cancel(errA)
		<-ran
		if !closed(child.Done()) || context.Cause(child) != errA {
			t.Errorf("child: Done closed %v, Cause %v; want true, %v", closed(child.Done()), context.Cause(child), errA)
		}
	})
}

// TestReqContextConcurrent runs Done, Err and Cause against cancel (for the race detector):
// each goroutine looks until the context has ended, and once cancel has returned, it must have.
func TestReqContextConcurrent(t *testing.T) {
	for range 100 {
		c := newReqContext()
		var cancelled atomic.Bool
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				for {
					after := cancelled.Load()
					if i%2 == 0 && closed(c.Done()) || i%2 == 1 && context.Cause(c) != nil && c.Err() != nil {
						return
					}
					if after {
						t.Error("cancel returned, and the context has not ended")
						return
					}
					runtime.Gosched()
				}
			})
		}
		c.cancel(errPipelineClosed)
		cancelled.Store(true)
		wg.Wait()
		if context.Cause(c) != errPipelineClosed {
			t.Fatalf("Cause %v, want %v", context.Cause(c), errPipelineClosed)
		}
	}
}

// newRequestOn is a request on ctx.
func newRequestOn(ctx context.Context) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, "GET", "http://a/", nil)
	return r
}

// goroutinesStartedHere counts the live goroutines that the calling goroutine started.
func goroutinesStartedHere() int {
	mark := []byte(" in goroutine " + goroutineID() + "\n")
	for size := 1 << 12; ; size *= 2 {
		buf := make([]byte, size)
		if n := runtime.Stack(buf, true); n < size {
			return bytes.Count(buf[:n], mark)
		}
	}
}
