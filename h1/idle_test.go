package h1

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestIdleWatch: touches keep the watch from firing; it fires once its time has passed since the
// last touch, and not after it is stopped.
func TestIdleWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fired atomic.Int32
		w := newIdleWatch(&clock{}, time.Second, func() { fired.Add(1) })
		for range 5 {
			time.Sleep(600 * time.Millisecond)
			w.touch()
		}
		synctest.Wait()
		if n := fired.Load(); n != 0 {
			t.Fatalf("fired %d times while touched every 600 ms, want none", n)
		}
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		if n := fired.Load(); n != 1 {
			t.Fatalf("fired %d times a second after the last touch, want once", n)
		}
		w2 := newIdleWatch(&clock{}, time.Second, func() { fired.Add(1) })
		w2.stop()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := fired.Load(); n != 1 {
			t.Errorf("a stopped watch fired")
		}
	})
}
