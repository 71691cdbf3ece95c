package main

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/rs/zerolog"
)

// The processor governor runs the process on as few of its GOMAXPROCS processors as its load
// needs.
//
// Go's scheduler is work-conserving: a goroutine made ready while a processor is idle wakes a
// thread to run it there, and that thread, finding little to do, goes back to sleep. A gateway
// hands every request from goroutine to goroutine (client, session writer, session reader,
// client again), so below full load it pays for these wake-ups on every request, and for the
// request's data moving between CPUs. Measured on 2 cores (integration/bench, Go upstream), the
// same build on 1 processor against 2 used 21% less CPU per request for 100-byte responses,
// 25% less pipelined, 23% less for 64 KiB and 19% less over TLS, at higher requests/s and a lower
// p99. (The Go runtime's own account of the cost: golang/go#54622, #18237.)
//
// It starts on one processor. Every period it reads how much CPU the process used and how long
// goroutines waited to run:
//   - it doubles the processors at once, up to the ceiling, when those in use were busier than
//     growBusy, or more than lateShare of the waits were longer than wait (a burst within the
//     period that the average hides);
//   - when, for hold periods in a row, fewer processors would have been at most shrinkBusy busy
//     and the waits were not late, it goes down to the most that any of those periods needed.
//
// Waits are a guard, not the measure: on a machine whose CPUs are all busy, goroutines wait for
// their thread to get a CPU whatever GOMAXPROCS is. Measured under the benchmark's loads with
// the process at about 60% of a CPU: up to 10% of waits over 1ms with 2 processors, up to 12%
// with 1, at the same requests/s.
//
// Processors added back soon after some were taken away double hold, up to maxHold, so a load
// that needs them all is not probed with fewer more than once a minute or so.
//
// An increase for CPU alone is a trial: more processors cost more CPU per request (the
// wake-ups above), and on a machine whose other processes need the rest of its CPUs they may
// serve fewer requests, not more. Against nghttpd on 2 cores (h2load at 64 clients, 100-byte
// bodies), the governor's second processor took muxgate from 19.0 to 25.2 us of CPU per
// request and from 48,439 down to 41,223 req/s. So after such an increase the governor counts
// the requests served (work) for trialLen periods, and goes back if they did not grow by
// trialGain (15%), or as soon as they fell below what they were over minCounted periods; it then
// tries again after growHold periods, which double after each failed trial, up to maxHold. Such
// an increase waits until trialAfter periods (2 s) in a row were busy, so that the work before
// it is a busy time's, and because a trial costs what it tests: in one-second runs of 50,000
// small requests against nghttpd on 2 cores, those with a trial spent a fifth more CPU per
// request and served an eighth fewer requests/s than those without, and on such a machine,
// shared with the upstream and the clients, few trials pass (4 of 57 in one series of runs). A
// burst shorter than trialAfter pays for none. An increase for late waits is kept, at once: it
// is for latency, which requests/s do not show. That is why the default wait is 5ms, not 1ms:
// with 1ms, pipelined and 64 KiB loads against nghttpd made the governor add the second
// processor in most rounds, for 10% and 16% more CPU per request, at the same requests/s and a
// p99 no better.
//
// A kept increase for CPU is checked again, since half a second's count can pass the bar by
// chance, and a load that grows by itself (clients still connecting) passes it too: after
// recheckHold periods the governor goes back to the processors it had before the increase, on
// trial the other way. If the work per period stays within trialGain of what it was, the
// processors stay off, as after a failed trial (with the backoff of the trials before it);
// otherwise they come back at once, and the next check waits twice as long, up to maxHold. Late
// waits during the check bring them back at once.
type governor struct {
	period  time.Duration
	wait    time.Duration    // the scheduling delay most goroutines may see (-procs-wait)
	ceiling int              // GOMAXPROCS at start: the most processors it uses
	read    func() procStats // readProcStats in production
	set     func(int)        // runtime.GOMAXPROCS in production
	log     zerolog.Logger
	trials  bool // read counts the work done, so increases for CPU are trials

	procs    int       // processors in use
	last     procStats // the previous period's reading
	calm     int       // periods in a row that would have needed fewer processors
	calmNeed int       // the most processors one of those periods needed
	hold     int       // calm periods needed before a decrease
	shrunk   int       // periods since the last decrease; -1: none yet

	recent   [trialLen]uint64 // the work of the last periods, a ring indexed by ticks
	ticks    int              // periods read so far
	trial    trial            // the change on trial; left is 0 when none is
	growHold int              // periods after a failed trial before busy alone adds processors
	noGrow   int              // ticks before which busy alone adds none
	busyRun  int              // periods in a row busier than growBusy, this one included; a trial's not counted

	recheckAt   int // the tick at which the kept increase for CPU is checked again; 0: none is kept
	recheckTo   int // the processors before that increase, which the check goes back to
	recheckHold int // periods from a kept increase, or a check it passed, to the next check
	growBefore  int // growHold before that increase's trial, for a check that undoes it
}

// trial is an increase of processors for CPU, kept only if the work done grows with it by
// trialGain, or the check of a kept one (down), which goes back unless the work falls by as
// much. A kept increase stays until its check, so the bar is above the noise: at a constant
// processor count (1, against nghttpd, h2load at 64 clients), the requests of the four periods
// after one period, per period, came to 5% or more above those of the five periods before it in
// 23% of such windows, 10% in 16% and 15% in 9%. A load that truly needs more processors gains
// far more than that when it gets them.
type trial struct {
	from int     // processors before it
	down bool    // a check of a kept increase: fewer processors, kept unless the work falls
	base float64 // work per period in the trialLen periods before it
	left int     // periods left; the first after the increase is a transition, not counted
	work uint64  // work done in the counted periods
	n    int     // counted periods
}

const (
	governPeriod = 100 * time.Millisecond // how often the governor reads and decides

	lateShare  = 0.2  // share of the scheduling waits that may be longer than wait
	minWaits   = 100  // scheduling waits in a period below which none counts as late
	growBusy   = 0.90 // CPU use per processor in use above which they are doubled
	shrinkBusy = 0.75 // CPU use per processor that fewer processors may reach after a decrease
	baseHold   = 10   // calm periods before processors are taken away
	maxHold    = 640  // hold's ceiling after processors taken away had to be added back
	probation  = 10   // periods after a decrease in which an increase doubles hold
	settled    = 100  // periods after a decrease that reset hold to baseHold
	trialAfter = 20   // busy periods in a row before an increase for CPU (a trial)
	trialLen   = 5    // periods an increase for CPU is on trial, and of work it is compared with
	trialGain  = 1.15 // the growth of work per period that keeps an increase for CPU; see trial
	minCounted = 2    // counted periods after which a losing increase ends its trial early
)

// procStats is what the governor reads each period. All are cumulative since the process
// started.
type procStats struct {
	cpu   time.Duration // CPU time used by the process, user and system
	waits []uint64      // goroutine scheduling waits: counts per bucket of schedBuckets
	work  uint64        // requests served; 0 where nothing counts them, which keeps every increase
}

// newGovernor returns a governor of this process's processors; work, if not nil, counts the
// requests served (gateway.Gateway.Requests).
func newGovernor(period, wait time.Duration, work func() uint64, log zerolog.Logger) *governor {
	read := readProcStats
	if work != nil {
		read = func() procStats {
			st := readProcStats()
			st.work = work()
			return st
		}
	}
	return &governor{
		period: period, wait: wait, ceiling: runtime.GOMAXPROCS(0),
		read: read, set: func(n int) { runtime.GOMAXPROCS(n) }, log: log, trials: work != nil,
	}
}

// run sets one processor and adjusts the number every period until ctx ends, then gives back
// all of them. It does nothing on one processor, or where the process's CPU time cannot be read.
func (g *governor) run(ctx context.Context) {
	if g.ceiling < 2 || !cpuTimeReadable {
		return
	}
	g.procs, g.hold, g.shrunk, g.growHold, g.recheckHold = g.ceiling, baseHold, -1, baseHold, baseHold
	g.change(1, 0, 0)
	g.last = g.read()
	tick := time.NewTicker(g.period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if g.procs != g.ceiling {
				g.set(g.ceiling)
			}
			return
		case <-tick.C:
			g.tick()
		}
	}
}

// tick reads the period that ended and changes the processors as it says.
func (g *governor) tick() {
	now := g.read()
	busy := float64(now.cpu-g.last.cpu) / float64(g.period)
	late := lateFraction(g.last.waits, now.waits, g.wait)
	work := now.work - g.last.work
	g.last = now
	defer g.remember(work)
	if g.trialPeriod(work, busy, late) {
		return
	}
	if g.shrunk >= 0 {
		g.shrunk++
		if g.shrunk == settled {
			g.hold = baseHold
		}
	}
	// need: the processors on which the period's work would have been at most shrinkBusy busy.
	need := max(1, int(math.Ceil(busy/shrinkBusy)))
	forCPU := g.busyForCPU(busy, late)
	switch {
	case g.procs < g.ceiling && (late > lateShare || forCPU):
		g.grow(forCPU, busy, late)
	case need < g.procs && late <= lateShare:
		g.calmPeriod(need, busy, late)
	case g.recheckAt > 0 && g.ticks >= g.recheckAt && late <= lateShare:
		g.recheck(busy, late)
	default:
		g.calm, g.calmNeed = 0, 0
	}
}

// trialPeriod gives the period to the change on trial, if any, and reports whether that is all
// tick does with it: a period without late waits counts for the trial (try), and late waits
// end a check of a kept increase by giving its processors back. Otherwise the trial, if any,
// ends, and tick goes on as without one.
func (g *governor) trialPeriod(work uint64, busy, late float64) bool {
	if g.trial.left > 0 && late <= lateShare {
		g.try(work)
		return true
	}
	if g.trial.left > 0 && g.trial.down {
		g.trial.left = 0
		g.restore(busy, late) // late waits on fewer processors: they were needed
		return true
	}
	g.trial.left = 0 // late waits end a trial: the increase is kept for them
	return false
}

// busyForCPU counts the period in busyRun and reports whether it calls for an increase for
// CPU: the processors in use were busier than growBusy, the waits were not late, busy alone
// may add processors (noGrow) and, where increases for CPU are trials, busyRun passed
// trialAfter. It is called once per period that tick does not leave to a trial.
func (g *governor) busyForCPU(busy, late float64) bool {
	// An increase for CPU waits until the load has kept the processors busy for trialAfter
	// periods in a row: the work it is weighed against is a busy time's, not a quieter one's,
	// and a burst shorter than that pays for no trial.
	g.busyRun++
	if busy <= growBusy*float64(g.procs) {
		g.busyRun = 0
	}
	forCPU := late <= lateShare && g.busyRun > 0 && g.ticks >= g.noGrow
	if g.trials && g.busyRun <= trialAfter {
		forCPU = false
	}
	return forCPU
}

// grow doubles the processors, up to the ceiling: for CPU if forCPU, else for late waits. An
// increase for CPU goes on trial where trials are on; any other is kept. An increase within
// probation periods of a decrease doubles hold, and any drops the pending decrease and check.
func (g *governor) grow(forCPU bool, busy, late float64) {
	if g.shrunk >= 0 && g.shrunk <= probation {
		g.hold = min(2*g.hold, maxHold)
	}
	g.calm, g.calmNeed, g.recheckAt = 0, 0, 0
	from := g.procs
	g.change(min(2*g.procs, g.ceiling), busy, late)
	if forCPU && g.trials {
		g.trial = trial{from: from, base: g.recentWork(), left: trialLen}
	} else {
		g.busyRun = 0 // a trial's periods are not counted; should it fail, the spell goes on
	}
}

// calmPeriod counts a period whose work need processors, fewer than those in use, would have
// served; after hold such periods in a row it goes down to the most that any of them needed,
// and drops the pending check of a kept increase.
func (g *governor) calmPeriod(need int, busy, late float64) {
	g.calmNeed = max(g.calmNeed, need)
	if g.calm++; g.calm >= g.hold {
		g.shrunk = 0
		g.change(g.calmNeed, busy, late)
		g.calm, g.calmNeed, g.recheckAt = 0, 0, 0
	}
}

// recheck starts the check of a kept increase for CPU, which is due: it goes back to
// recheckTo processors on trial the other way (down), weighed against the work of the last
// trialLen periods.
func (g *governor) recheck(busy, late float64) {
	g.calm, g.calmNeed = 0, 0
	g.trial = trial{from: g.procs, down: true, base: g.recentWork(), left: trialLen}
	g.change(g.recheckTo, busy, late)
}

// try counts a period of the change on trial and, after the last, keeps it or goes back.
func (g *governor) try(work uint64) {
	t := &g.trial
	if t.left--; t.left < trialLen-1 {
		t.work += work
		t.n++
	}
	if t.left > 0 && (t.down || !t.losing()) {
		return
	}
	t.left = 0
	gain := float64(t.work) / float64(t.n) / t.base
	if t.down {
		g.judgeCheck(gain)
		return
	}
	keep := t.base == 0 || gain >= trialGain // no work before (CPU spent on something else): keep
	g.log.Debug().Bool("kept", keep).Float64("work_gain", gain).Int("grow_hold_periods", g.growHold).Msg("processors trial")
	if keep {
		if t.base > 0 {
			g.recheckAt, g.recheckTo, g.growBefore = g.ticks+1+g.recheckHold, t.from, g.growHold
		}
		g.growHold = baseHold
		return
	}
	g.change(t.from, 0, 0)
	g.refuseGrowth()
}

// losing reports whether an increase on trial has already served less per period, over
// minCounted periods, than before it: it ends there rather than spend the rest of the trial on
// processors that cost more than they serve.
func (t *trial) losing() bool {
	return t.n >= minCounted && float64(t.work) < t.base*float64(t.n)
}

// judgeCheck ends the check of a kept increase, in which the fewer processors served gain times
// the work per period of the more: they stay unless it fell by the trial's bar.
func (g *governor) judgeCheck(gain float64) {
	enough := g.trial.base == 0 || gain*trialGain >= 1
	g.log.Debug().Bool("fewer_kept", enough).Float64("work_gain", gain).Int("recheck_hold_periods", g.recheckHold).Msg("processors recheck")
	if !enough {
		g.restore(0, 0)
		return
	}
	// The increase had not paid: as after a failed trial, whose backoff its keeping had reset.
	g.recheckAt, g.recheckHold, g.growHold = 0, baseHold, g.growBefore
	g.refuseGrowth()
}

// restore gives back the processors a check of a kept increase took away, and puts the next
// check twice as far off.
func (g *governor) restore(busy, late float64) {
	g.change(g.trial.from, busy, late)
	g.recheckHold = min(2*g.recheckHold, maxHold)
	g.recheckAt = g.ticks + 1 + g.recheckHold
}

// refuseGrowth keeps busy alone from adding processors for growHold periods after this one,
// and doubles growHold for the next time.
func (g *governor) refuseGrowth() {
	g.noGrow = g.ticks + 1 + g.growHold
	g.growHold = min(2*g.growHold, maxHold)
}

// remember records the work of the period that ended.
func (g *governor) remember(work uint64) {
	g.recent[g.ticks%trialLen] = work
	g.ticks++
}

// recentWork is the work per period over the last trialLen periods.
func (g *governor) recentWork() float64 {
	var sum uint64
	for _, w := range g.recent {
		sum += w
	}
	return float64(sum) / trialLen
}

func (g *governor) change(procs int, busy, late float64) {
	g.log.Debug().Int("from", g.procs).Int("to", procs).Float64("cpus_used", busy).
		Float64("late_share", late).Int("hold_periods", g.hold).Msg("processors")
	g.procs = procs
	g.set(procs)
}

// lateFraction is the share of the scheduling waits between two readings that lasted longer
// than wait; 0 for fewer than minWaits waits, too few to say anything of the load.
func lateFraction(before, after []uint64, wait time.Duration) float64 {
	var all, late uint64
	limit := wait.Seconds()
	for i := range after {
		n := after[i]
		if i < len(before) {
			n -= before[i]
		}
		all += n
		if schedBuckets[i] >= limit {
			late += n
		}
	}
	if all < minWaits {
		return 0
	}
	return float64(late) / float64(all)
}

const schedLatencies = "/sched/latencies:seconds"

// schedBuckets holds the boundaries, in seconds, of the runtime's scheduling-latency histogram:
// count i of a reading is of the waits from schedBuckets[i] up to schedBuckets[i+1].
var schedBuckets = func() []float64 {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram().Buckets
}()

func readProcStats() procStats {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	st := procStats{cpu: cpuTime()}
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		st.waits = s[0].Value.Float64Histogram().Counts
	}
	return st
}
