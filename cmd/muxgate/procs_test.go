package main

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// fakeProcs is the runtime as a governor under test sees it: the test says how busy the process
// is and how its goroutines wait, and records what the governor sets.
type fakeProcs struct {
	mu    sync.Mutex
	stats procStats
	sets  []int
}

// load adds one period of use: busy CPUs, and n scheduling waits of which a share late were longer
// than wait.
func (f *fakeProcs) load(busy float64, n int, late float64, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.cpu += time.Duration(busy * float64(governPeriod))
	f.stats.waits = slices.Clone(f.stats.waits)
	nLate := int(late * float64(n))
	f.stats.waits[bucketBelow(wait)] += uint64(n - nLate)
	f.stats.waits[bucketAbove(wait)] += uint64(nLate)
}

// serve adds n requests served to the work count.
func (f *fakeProcs) serve(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.work += n
}

func (f *fakeProcs) read() procStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *fakeProcs) set(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, n)
}

func (f *fakeProcs) setsSoFar() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sets)
}

// bucketBelow and bucketAbove index a scheduling-latency bucket wholly shorter than d and one
// wholly longer.
func bucketBelow(time.Duration) int {
	return 1 // bucket 0 starts at -Inf; bucket 1 at 0
}

func bucketAbove(d time.Duration) int {
	for i, b := range schedBuckets {
		if b >= 2*d.Seconds() {
			return i
		}
	}
	panic("no scheduling-latency bucket above " + d.String())
}

// TestGovernor: the governor takes a processor away while the process is idle, adds one back at
// once when the process is busy or its goroutines wait, waits longer before taking one away
// again after one had to be added back soon, never goes past its ceiling, and leaves GOMAXPROCS
// alone when it stops at the ceiling.
func TestGovernor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wait = time.Millisecond
		f := &fakeProcs{stats: procStats{waits: make([]uint64, len(schedBuckets)-1)}}
		g := &governor{period: governPeriod, wait: wait, ceiling: 2, read: f.read, set: f.set, log: zerolog.New(io.Discard)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			g.run(ctx)
			close(done)
		}()
		time.Sleep(governPeriod / 2) // each step below then spans exactly one tick

		var want []int
		periods := func(n int, busy, late float64, what string, change ...int) {
			t.Helper()
			for range n {
				f.load(busy, 1000, late, wait)
				time.Sleep(governPeriod)
				synctest.Wait()
			}
			want = append(want, change...)
			if got := f.setsSoFar(); !slices.Equal(got, want) {
				t.Fatalf("%s: GOMAXPROCS set to %v, want %v", what, got, want)
			}
		}
		want = []int{1} // it starts on one
		periods(1, 0.5, 0.1, "half busy, a few waits late")
		periods(1, 0.95, 0, "busier than growBusy: one more at once", 2)
		periods(baseHold-1, 0, 0, "idle, not yet for hold periods")
		periods(1, 0, 0, "idle for hold periods", 1)
		periods(1, 0.95, 0, "one processor busier than growBusy: one more at once", 2)
		periods(baseHold, 0.8, 0, "busier than shrinkBusy of one")
		periods(2*baseHold-1, 0.7, 0, "added back soon after it was taken away: hold doubled")
		periods(1, 0.7, 0, "light enough for one for the doubled hold", 1)
		periods(settled, 0.5, 0.1, "half busy, a few waits late")
		periods(1, 0.5, 0.5, "half the waits late: one more", 2)
		periods(baseHold, 0.1, 0.5, "idle but waits still late")
		periods(baseHold, 0.1, 0, "hold back at its base, once one fewer had settled", 1)
		periods(1, 1.9, 1, "saturated", 2)
		periods(5, 1.95, 1, "at the ceiling")

		cancel()
		<-done
		if got := f.setsSoFar(); len(got) != len(want) {
			t.Fatalf("stopping at the ceiling set GOMAXPROCS: %v", got[len(want):])
		}
	})
}

// periodsFunc runs a governor under test for n periods of a load (busy CPUs, a share late of
// the scheduling waits, work requests served), then checks that it has set GOMAXPROCS to the
// values set before and then to change, in order; what names the step in a failure.
type periodsFunc func(n int, busy, late float64, work uint64, what string, change ...int)

// runTrialGovernor starts, in t's synctest bubble until t ends, a governor of 2 processors that
// counts work, and returns its periods; the governor has set one processor when it returns.
func runTrialGovernor(t *testing.T) periodsFunc {
	const wait = time.Millisecond
	f := &fakeProcs{stats: procStats{waits: make([]uint64, len(schedBuckets)-1)}}
	g := &governor{period: governPeriod, wait: wait, ceiling: 2, read: f.read, set: f.set, log: zerolog.New(io.Discard), trials: true}
	go g.run(t.Context())
	time.Sleep(governPeriod / 2) // each step then spans exactly one tick

	want := []int{1}
	return func(n int, busy, late float64, work uint64, what string, change ...int) {
		t.Helper()
		for range n {
			f.load(busy, 1000, late, wait)
			f.serve(work)
			time.Sleep(governPeriod)
			synctest.Wait()
		}
		want = append(want, change...)
		if got := f.setsSoFar(); !slices.Equal(got, want) {
			t.Fatalf("%s: GOMAXPROCS set to %v, want %v", what, got, want)
		}
	}
}

// TestGovernorTrial: where work is counted, an increase for CPU alone comes after trialAfter
// busy periods in a row, a count that a failed trial does not restart, and stays only if the
// requests served per period grow with it; after a failed trial busy alone adds no processor
// for growHold periods, which double after each failure and fall back once a trial succeeds. A
// trial that serves less than before ends after minCounted periods. An increase for late waits
// is at once and no trial.
func TestGovernorTrial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		periods := runTrialGovernor(t)
		periods(trialLen, 0.5, 0, 100, "half busy")
		periods(trialAfter, 0.95, 0, 1000, "busy, but not yet for trialAfter periods after a quieter time")
		periods(1, 0.95, 0, 1000, "busy for trialAfter periods: a second processor, on trial", 2)
		periods(trialLen-1, 1.3, 0, 1140, "on trial, serving 14% more")
		periods(1, 1.3, 0, 1140, "not 15% more: back to one", 1)
		periods(baseHold, 0.95, 0, 1000, "busy, within growHold of the failure; the spell goes on")
		periods(1, 0.95, 0, 1000, "busy after growHold: on trial again", 2)
		periods(1+minCounted, 1.3, 0, 900, "serving less than before: back to one early", 1)
		periods(2*baseHold, 0.95, 0, 1000, "busy, within the doubled growHold")
		periods(1, 0.95, 0, 1000, "on trial a third time", 2)
		periods(trialLen, 1.6, 0, 1500, "serving half again as many: kept")
		periods(baseHold, 0.3, 0, 500, "light: one again after hold", 1)
		periods(trialAfter+1, 0.95, 0, 500, "busy: on trial, growHold back at its base after the success", 2)
		periods(trialLen, 1.2, 0, 500, "no gain", 1)
		periods(1, 0.5, 0.5, 500, "late waits: a second processor at once, no trial", 2)
		periods(trialLen+1, 0.8, 0, 500, "no gain, but kept: the increase was for latency")
	})
}

// TestGovernorRecheck: an increase for CPU that its trial kept is checked again after
// recheckHold periods by going back to the processors before it. The fewer stay if the work per
// period stays within trialGain of what it was, and busy alone then adds none for growHold
// periods; otherwise, or at once on late waits, the processors come back and the next check waits
// twice as long. The load keeps both processors busy, so its busy spell goes on through the
// checks.
func TestGovernorRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		periods := runTrialGovernor(t)
		periods(trialAfter+1, 0.95, 0, 1000, "busy for trialAfter periods: a second processor, on trial", 2)
		periods(trialLen, 1.9, 0, 1200, "serving 20% more: kept")
		periods(baseHold, 1.9, 0, 1200, "busy on two, until the check")
		periods(1, 1.9, 0, 1200, "the check: back to one", 1)
		periods(trialLen, 0.95, 0, 1000, "one serves a sixth less: the second back", 2)
		periods(2*baseHold, 1.9, 0, 1200, "busy on two, until the check twice as far off")
		periods(1, 1.9, 0, 1200, "the second check", 1)
		periods(1, 0.95, 0.5, 1000, "late waits on one: the second back at once", 2)
		periods(4*baseHold, 1.9, 0, 1200, "the next check twice as far off again")
		periods(1, 1.9, 0, 1200, "the third check", 1)
		periods(trialLen, 0.95, 0, 1100, "one serves 92% as much: it stays")
		periods(baseHold, 0.95, 0, 1100, "busy, but growHold after the check")
		periods(1, 0.95, 0, 1100, "on trial again after growHold", 2)
		periods(trialLen, 1.9, 0, 1400, "serving 27% more: kept")
		periods(baseHold, 1.9, 0, 1400, "checked after recheckHold again, back at its base")
		periods(1, 1.9, 0, 1400, "the check", 1)
	})
}

// TestGovernorRecheckBackoff: a check that undoes an increase puts back the backoff of the failed
// trials before it, which the increase's keeping had reset: an increase kept by chance does not
// buy the load a trial a second.
func TestGovernorRecheckBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		periods := runTrialGovernor(t)
		periods(trialAfter+1, 0.95, 0, 1000, "busy for trialAfter periods: on trial", 2)
		periods(trialLen, 1.9, 0, 1000, "no gain: back to one, growHold doubled", 1)
		periods(baseHold, 0.95, 0, 1000, "within growHold")
		periods(1, 0.95, 0, 1000, "on trial again", 2)
		periods(trialLen, 1.9, 0, 1200, "20% more: kept")
		periods(baseHold, 1.9, 0, 1200, "until the check")
		periods(1, 1.9, 0, 1200, "the check", 1)
		periods(trialLen, 0.95, 0, 1150, "one serves 96% as much: it stays")
		periods(2*baseHold, 0.95, 0, 1150, "busy, within the growHold of the trial that failed before")
		periods(1, 0.95, 0, 1150, "on trial after it", 2)
	})
}

// TestGovernorScales: with many processors, a saturated process doubles them each period, and
// a lighter load brings them down at once to what its busiest calm period needed.
func TestGovernorScales(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeProcs{stats: procStats{waits: make([]uint64, len(schedBuckets)-1)}}
		g := &governor{period: governPeriod, wait: time.Millisecond, ceiling: 8, read: f.read, set: f.set, log: zerolog.New(io.Discard)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go g.run(ctx)
		time.Sleep(governPeriod / 2)
		for _, busy := range []float64{1, 2, 4, 8, 8, 8} { // saturated each time
			f.load(busy, 1000, 0, g.wait)
			time.Sleep(governPeriod)
			synctest.Wait()
		}
		for i := range baseHold {
			busy := 1.4 // needs 2 at shrinkBusy
			if i == 3 {
				busy = 2.2 // needs 3
			}
			f.load(busy, 1000, 0, g.wait)
			time.Sleep(governPeriod)
			synctest.Wait()
		}
		if got, want := f.setsSoFar(), []int{1, 2, 4, 8, 3}; !slices.Equal(got, want) {
			t.Fatalf("GOMAXPROCS set to %v, want %v", got, want)
		}
	})
}

// TestGovernorGivesBack: a governor that stops below its ceiling sets GOMAXPROCS back to it.
func TestGovernorGivesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeProcs{stats: procStats{waits: make([]uint64, len(schedBuckets)-1)}}
		g := &governor{period: governPeriod, wait: time.Millisecond, ceiling: 2, read: f.read, set: f.set, log: zerolog.New(io.Discard)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			g.run(ctx)
			close(done)
		}()
		time.Sleep(governPeriod + governPeriod/2)
		cancel()
		<-done
		if got := f.setsSoFar(); !slices.Equal(got, []int{1, 2}) {
			t.Fatalf("GOMAXPROCS set to %v, want [1 2]", got)
		}
	})
}

// TestGovernorOneProcessor: with one processor there is nothing to govern, and run returns.
func TestGovernorOneProcessor(t *testing.T) {
	f := &fakeProcs{}
	g := &governor{period: governPeriod, wait: time.Millisecond, ceiling: 1, read: f.read, set: f.set, log: zerolog.New(io.Discard)}
	g.run(context.Background())
	if len(f.sets) != 0 {
		t.Fatalf("GOMAXPROCS set to %v", f.sets)
	}
}

// TestLateFraction: the share of the waits between two readings in buckets from the limit up.
func TestLateFraction(t *testing.T) {
	before := make([]uint64, len(schedBuckets)-1)
	after := slices.Clone(before)
	if got := lateFraction(before, after, time.Millisecond); got != 0 {
		t.Fatalf("no waits: %v, want 0", got)
	}
	before[bucketBelow(time.Millisecond)] = 100 // before the period: not counted
	after[bucketBelow(time.Millisecond)] = 130
	after[bucketAbove(time.Millisecond)] = 10
	if got := lateFraction(before, after, time.Millisecond); got != 0 {
		t.Fatalf("10 late of 40, fewer than minWaits: %v, want 0", got)
	}
	after[bucketBelow(time.Millisecond)] = 250
	after[bucketAbove(time.Millisecond)] = 50
	if got := lateFraction(before, after, time.Millisecond); got != 0.25 {
		t.Fatalf("50 late of 200: %v, want 0.25", got)
	}
	if got := lateFraction(before, after, time.Hour); got != 0 {
		t.Fatalf("none over an hour: %v, want 0", got)
	}
}

// TestReadProcStats: the runtime's scheduling-latency histogram and the process's CPU time are
// there to read, and CPU time grows with work.
func TestReadProcStats(t *testing.T) {
	if len(schedBuckets) < 10 || !slices.IsSorted(schedBuckets) {
		t.Fatalf("scheduling-latency buckets: %v", schedBuckets)
	}
	if !cpuTimeReadable {
		t.Skip("no getrusage here: the governor is off")
	}
	a := readProcStats()
	if len(a.waits) != len(schedBuckets)-1 {
		t.Fatalf("%d wait counts for %d bucket boundaries", len(a.waits), len(schedBuckets))
	}
	start, x := time.Now(), uint64(1)
	for time.Since(start) < 50*time.Millisecond {
		for range 1 << 12 {
			x = x*6364136223846793005 + 1
		}
	}
	if b := readProcStats(); b.cpu < a.cpu+5*time.Millisecond {
		t.Fatalf("CPU time %v, then %v after 50ms of work (x %d)", a.cpu, b.cpu, x)
	}
}
