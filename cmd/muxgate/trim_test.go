package main

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestTrimmer: the trimmer gives memory back once a busy period ends with enough to give back,
// again while each trim gives back more, never while allocation goes on, and not again until
// there is something to give back once more.
func TestTrimmer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const period = 250 * time.Millisecond
		// The fake runtime: mu orders the test's changes with the trimmer's reads and trims.
		var mu sync.Mutex
		var s heapStats
		shrinkable := uint64(0) // what the next trims give back beyond garbage and free pages, halving each time
		trims := 0
		read := func() heapStats {
			mu.Lock()
			defer mu.Unlock()
			return s
		}
		tr := &trimmer{period: period, read: read, trim: func() {
			mu.Lock()
			defer mu.Unlock()
			trims++
			s.retained -= s.spare() + shrinkable
			s.objects, s.free = s.live, 0
			shrinkable /= 2
		}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go tr.run(ctx)
		synctest.Wait()

		step := func(allocate uint64, want int, what string) {
			t.Helper()
			mu.Lock()
			s.allocated += allocate
			s.objects += allocate
			s.retained += allocate
			mu.Unlock()
			time.Sleep(period)
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if trims != want {
				t.Fatalf("%s: %d trims, want %d", what, trims, want)
			}
		}
		set := func(f func()) {
			mu.Lock()
			defer mu.Unlock()
			f()
		}
		set(func() {
			s.live = 10 << 20
			s.objects, s.retained = s.live, 2*s.live
		})
		step(64<<20, 0, "busy")
		step(64<<20, 0, "still busy")
		step(0, 1, "quiet after a burst")
		step(0, 2, "the trim gave back much: once more")
		step(0, 2, "the last trim gave back nothing")
		step(1<<20, 2, "a little garbage")
		step(0, 2, "quiet with less than the minimum to give back")
		step(minTrim, 2, "busy again")
		set(func() { shrinkable = 4 * minTrimGain })
		step(0, 3, "quiet after the second burst")
		step(0, 4, "the trim gave back stacks: again")
		step(0, 5, "again: it still gave back enough")
		step(0, 6, "once more")
		step(0, 6, "the last trim gave back too little")
		set(func() { s.free = minTrim })
		step(0, 7, "quiet with free pages to give back")
	})
}

// TestReadHeapStats: the runtime metrics the trimmer reads exist and move.
func TestReadHeapStats(t *testing.T) {
	sink = make([]byte, 1<<20)
	runtime.GC()
	a := readHeapStats()
	sink = make([]byte, 1<<20)
	b := readHeapStats()
	if b.allocated < a.allocated+1<<20 || b.objects == 0 || b.live == 0 || b.retained < b.objects {
		t.Errorf("heap stats %+v then %+v: want allocations counted, a live heap and retained memory", a, b)
	}
}

var sink []byte

// TestSetGCPercent: -gc-percent applies when given or when GOGC is not set; GOGC wins over the
// default only.
func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		args []string
		gogc string
		want int
	}{
		{nil, "", 400},
		{[]string{"-gc-percent", "250"}, "", 250},
		{nil, "150", 100}, // GOGC is left to the runtime: unchanged here
		{[]string{"-gc-percent", "300"}, "150", 300},
	} {
		t.Setenv("GOGC", tc.gogc)
		o, err := parseFlags(append([]string{"-upstream", "h2c://127.0.0.1:1"}, tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		debug.SetGCPercent(100)
		setGCPercent(o)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("%v with GOGC=%q: GC percent %d, want %d", tc.args, tc.gogc, got, tc.want)
		}
	}
}
