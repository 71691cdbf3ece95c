//go:build linux

package main

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The benchmark's numbers are only as good as its readings of h2load's text, of /proc and of
// muxgate's log; these fuzz the parsers of that text. Each is seeded with the captured samples of
// the table tests and with the shapes that break parsers: truncated lines, empty input, numbers
// past int64 or negative, missing fields, NUL bytes, non-UTF-8. Each checks what an accepted
// reading promises, not only that nothing panics, and, where a helper below writes the text the
// way the real producer does, that the numbers written are the numbers read.
//
// Run one with: go test ./integration/bench -run XXX -fuzz '^FuzzParseStat$' -fuzztime 45s

// longLine is one line past bufio.Scanner's 64 KiB default, as a muxgate log line carrying a
// large error can be.
var longLine = strings.Repeat("x", 70_000)

// h2loadSummaryText writes s the way h2load 1.52 prints its final report (see h2loadClean).
func h2loadSummaryText(s summary) string {
	return fmt.Sprintf("finished in %v, %s req/s, 0B/s\n"+
		"requests: %d total, %d started, %d done, %d succeeded, %d failed, %d errored, %d timeout\n"+
		"status codes: %d 2xx, 0 3xx, 0 4xx, 0 5xx\n",
		s.elapsed, strconv.FormatFloat(s.reqPerSec, 'f', -1, 64),
		s.total, s.done, s.done, s.succeeded, s.failed, s.errored, s.timedOut, s.status2xx)
}

// FuzzParseSummary: an accepted summary holds only what h2load can print, a non-negative
// elapsed time, finite non-negative req/s and non-negative counts, so that bad() and the
// per-request ratios derived from it are meaningful; and it survives being written back in
// h2load's format and read again unchanged, so that no field is read from another's place.
func FuzzParseSummary(f *testing.F) {
	for _, s := range []string{
		h2loadClean, h2loadFailed, h2loadRefused,
		strings.ReplaceAll(h2loadClean, "\n", "\r\n"),
		h2loadClean[:strings.Index(h2loadClean, "requests:")+30], // truncated mid-line
		"",
		"finished in 1.5s, 100.00 req/s, 1KB/s\n",
		"finished in soon, 100.00 req/s, 1KB/s\nrequests: 4 total\n",
		"finished in 1s, many req/s, 1KB/s\nrequests: 4 total\n",
		"finished in 1s, 1.00 req/s, 1KB/s\nrequests: four total\n",
		"finished in 1s\nrequests: 4 total\n",
		"finished in 1s, 1.00 req/s\nrequests: total\n",
		"finished in 1s, 1.00 req/s\nrequests: 4 total,\n",
		"finished in 1s, 1.00 req/s\nrequests: 4 total, -4 done, -1 failed\nstatus codes: -3 2xx\n",
		"finished in -1s, 1.00 req/s\nrequests: 4 total\n",
		"finished in 1s, -1858.50 req/s\nrequests: 4 total\n",
		"finished in 1s, NaN req/s\nrequests: 4 total\n",
		"finished in 1s, Inf req/s\nrequests: 4 total\n",
		"finished in 1s, 1e400 req/s\nrequests: 4 total\n",
		"finished in 9999999999h, 1.00 req/s\nrequests: 4 total\n",
		"finished in 1s, 1.00 req/s\nrequests: 99999999999999999999 total\n",
		"finished in 1s, 1.00 req/s\x00\nrequests: 4 total, 4 d\x00one\n",
		"finished in 1\xffs, 1.00 req/s\nrequests: 4 total, 4 d\xffone\n",
		strings.ReplaceAll(h2loadClean, " ", "\x00"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseSummary(text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "h2load: ") {
				t.Errorf("error %q does not name h2load", err)
			}
			return
		}
		if s.elapsed < 0 || !(s.reqPerSec >= 0 && s.reqPerSec <= math.MaxFloat64) {
			t.Errorf("accepted elapsed %v, %v req/s; want both non-negative and finite", s.elapsed, s.reqPerSec)
		}
		for _, n := range []int{s.total, s.done, s.succeeded, s.failed, s.errored, s.timedOut, s.status2xx} {
			if n < 0 {
				t.Errorf("accepted a negative count: %+v", s)
				break
			}
		}
		if s.bad() < 0 {
			t.Errorf("bad() = %d, want >= 0", s.bad())
		}
		again, err := parseSummary(h2loadSummaryText(s))
		if err != nil || again != s {
			t.Errorf("written back and read again:\n got %+v, %v\nwant %+v", again, err, s)
		}
	})
}

// h2loadLogLine writes one row of h2load's --log-file: start (us since the epoch), status and
// duration (us), tab-separated.
func h2loadLogLine(status int, us int64) string {
	return fmt.Sprintf("1795916055618101\t%d\t%d\n", status, us)
}

// FuzzParseLog: an accepted log has one row per line, each either a failed stream or a
// latency, and the latencies are sorted, whole microseconds and non-negative, since percentile
// reads them by rank and a wrapped-around duration would be reported as the run's p99. A row
// that h2loadLogLine writes is read back as the status and microseconds written; a duration
// that no time.Duration holds is refused, not wrapped.
func FuzzParseLog(f *testing.F) {
	for _, seed := range []struct {
		text   string
		status int
		us     int64
	}{
		{h2loadLog, 200, 8912},
		{h2loadLog, -1, 12000},
		{"", 200, 0},
		{"1795916055608928\t200\n", 200, -1},            // a column missing
		{"1795916055608928\t200\t89", 200, 1},           // truncated, no newline
		{"x\ty\tz\n", 200, math.MaxInt64},               // not numbers
		{"1\t200\t1.5\n", 200, math.MaxInt64 / 1000},    // the largest duration
		{"1\t200\t-5\n", 200, math.MaxInt64/1000 + 1},   // negative; one past the largest
		{"1\t200\t9223372036854775807\n", 500, 1 << 62}, // wraps when made microseconds
		{"1\t200\t99999999999999999999\n", 200, 1},
		{"1\t-1\t-5\n1\t204\t0\n", -7, -1},
		{strings.ReplaceAll(h2loadLog, "\n", "\r\n"), 200, 1},
		{"1\t200\t8\x00912\n", 200, 1},
		{"1\t2\xff00\t8912\n", 200, 1},
		{"\n\n", 200, 1},
	} {
		f.Add(seed.text, seed.status, seed.us)
	}
	f.Fuzz(func(t *testing.T, text string, status int, us int64) {
		if l, err := parseLog(strings.NewReader(text)); err == nil {
			lines := strings.Count(text, "\n")
			if text != "" && !strings.HasSuffix(text, "\n") {
				lines++
			}
			if l.rows != lines || l.failed+len(l.sorted) != l.rows {
				t.Errorf("%d lines: %d rows, %d failed, %d latencies", lines, l.rows, l.failed, len(l.sorted))
			}
			checkLatencies(t, l.sorted)
		} else if !strings.HasPrefix(err.Error(), "h2load: ") {
			t.Errorf("error %q does not name h2load", err)
		}

		want, err := parseLog(strings.NewReader(h2loadLog))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseLog(strings.NewReader(h2loadLog + h2loadLogLine(status, us)))
		fits := us >= 0 && us <= math.MaxInt64/int64(time.Microsecond)
		switch {
		case status >= 0 && !fits:
			if err == nil {
				t.Errorf("a %d us row was accepted as %v", us, got.sorted)
			}
			return
		case err != nil:
			t.Fatalf("status %d, %d us: %v", status, us, err)
		case status < 0:
			want.failed++
		default:
			want.sorted = append(want.sorted, time.Duration(us)*time.Microsecond)
			slices.Sort(want.sorted)
		}
		want.rows++
		if got.rows != want.rows || got.failed != want.failed || !slices.Equal(got.sorted, want.sorted) {
			t.Errorf("status %d, %d us:\n got %+v\nwant %+v", status, us, got, want)
		}
	})
}

func checkLatencies(t *testing.T, sorted []time.Duration) {
	t.Helper()
	if !slices.IsSorted(sorted) {
		t.Errorf("latencies not sorted: %v", sorted)
	}
	for _, d := range sorted {
		if d < 0 || d%time.Microsecond != 0 {
			t.Errorf("latency %v; want a non-negative count of microseconds", d)
		}
	}
}

// FuzzPercentile: percentileOf returns one of the samples (0 for none), never panics whatever p
// is, and does not decrease as p grows. For the whole percentiles callers ask for it is exactly
// the nearest rank, ceil(p*n/100), computed here in integers: a rank one off moves a run's p99.
func FuzzPercentile(f *testing.F) {
	log := []byte{89, 95, 10, 7} // the captured log's latencies, in units of 100us
	for _, seed := range []struct {
		data []byte
		p    float64
	}{
		{log, 50}, {log, 99}, {log, 100}, {log, 1},
		{nil, 99}, {[]byte{}, math.NaN()}, {[]byte{5}, 0},
		{log, -1}, {log, 0.001}, {log, 100.5}, {log, 1e300}, {log, -1e300},
		{log, math.Inf(1)}, {log, math.Inf(-1)}, {log, math.NaN()},
		{[]byte("abcdefghijklmnopqrstuvwxy"), 28}, // 25 samples: 28/100*25 is not 7 in floating point
	} {
		f.Add(seed.data, seed.p)
	}
	f.Fuzz(func(t *testing.T, data []byte, p float64) {
		sorted := make([]time.Duration, len(data))
		for i, b := range data {
			sorted[i] = time.Duration(b) * 100 * time.Microsecond
		}
		slices.Sort(sorted)
		got := percentileOf(sorted, p)
		if len(sorted) == 0 {
			if got != 0 {
				t.Errorf("percentileOf(none, %v) = %v, want 0", p, got)
			}
			return
		}
		if _, ok := slices.BinarySearch(sorted, got); !ok {
			t.Errorf("percentileOf(%v) = %v, not a sample of %v", p, got, sorted)
		}
		n := len(sorted)
		for q := 1; q <= 100; q++ {
			at := percentileOf(sorted, float64(q))
			if want := sorted[(q*n+99)/100-1]; at != want {
				t.Fatalf("%d samples: percentile %d = %v, want the nearest rank's %v", n, q, at, want)
			}
			if (p <= float64(q) && got > at) || (p >= float64(q) && got < at) {
				t.Fatalf("percentile %v = %v and percentile %d = %v: not monotonic", p, got, q, at)
			}
		}
	})
}

// statLine writes a /proc/PID/stat line as the kernel does (proc(5); fs/proc/array.c,
// do_task_stat): pid, (comm) unescaped, state, then the numbers, utime and stime 14th and 15th.
// The other fields are those of the captured shell.
func statLine(comm string, ppid int, utime, stime int64) string {
	return fmt.Sprintf("4598 (%s) S %d 4598 4598 0 -1 4194560 7806 504071 0 17 %d %d 9755 3392 20 0 1 0 "+
		"34878 5259264 958 18446744073709551615 94077505716224 94077506505629 140724711265440 0 0 0 "+
		"65536 4 1132560123 1 0 0 17 1 0 0 0 0 0 94077506738928 94077506787172 94077724295168 "+
		"140724711267166 140724711267181 140724711267181 140724711268330 0\n", comm, ppid, utime, stime)
}

// tickTotal is the sum of counts of clock ticks, and whether it is one the kernel can print
// (each count unsigned) that a time.Duration holds.
func tickTotal(ticks ...int64) (int64, bool) {
	sum := new(big.Int)
	for _, n := range ticks {
		if n < 0 {
			return 0, false
		}
		sum.Add(sum, big.NewInt(n))
	}
	ok := sum.Cmp(big.NewInt(math.MaxInt64/int64(clockTick))) <= 0
	return sum.Int64(), ok
}

// FuzzParseStat: the command name is what lies between the first '(' and the last ')', whatever
// it holds (a process names itself: "a) b" is a name, so "1234 (a) b) S ..." must not shift
// the fields), and the CPU time is non-negative, whole ticks. A line that statLine writes gives
// back the name, parent and CPU time written; ticks that are negative (the kernel prints them
// unsigned) or that overflow a time.Duration are refused, not wrapped around.
func FuzzParseStat(f *testing.F) {
	bash := "4598 (bash) S 4597 4598 4598 0 -1 4194560 7806 504071 0 17 3 4 9755 3392 20 0 1 0 34878 5259264 958 18446744073709551615 94077505716224 94077506505629 140724711265440 0 0 0 65536 4 1132560123 1 0 0 17 1 0 0 0 0 0 94077506738928 94077506787172 94077724295168 140724711267166 140724711267181 140724711267181 140724711268330 0\n"
	odd := "77 (nghttpx: work) er) S 76 76 1 0 -1 4194560 1 0 0 0 1234 567 0 0 20 0 3 0 100 1000 10 18446744073709551615\n"
	for _, seed := range []struct {
		text, comm   string
		ppid         int
		utime, stime int64
	}{
		{bash, "bash", 4597, 3, 4},
		{odd, "nghttpx: work) er", 76, 1234, 567},
		{"1234 (a) b) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\n", "a) b", 1, 5, 6},
		{"1234 (a (b) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\n", "a (b", 0, 0, 0},
		{"1234 ()) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\n", ")", -1, 1, 1},
		{"1234 (\n) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\n", "x\ny", 1, 1, 1},
		{"12 ) (x", "", 1, 1, 1},
		{"", "", 1, 1, 1},
		{"12 bash S 1", "bash", 1, 1, 1},
		{"12 (bash) S 1 2 3", "bash", 1, 1, 1},
		{bash[:len(bash)/3], "bash", 1, 1, 1},
		{"12 (bash) S x 1 1 0 -1 0 0 0 0 0 1 1 0\n", "bash", 1, -3, 4},
		{"12 (bash) S 1 1 1 0 -1 0 0 0 0 0 -3 4 0\n", "bash", 1, 4, -3},
		{"12 (bash) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 4 0\n", "bash", 1, math.MaxInt64, 1},
		{"12 (bash) S 1 1 1 0 -1 0 0 0 0 0 9223372036854775807 4 0\n", "bash", 1, math.MaxInt64 / int64(clockTick), 1},
		{"12 (b\x00sh) S 1 1 1 0 -1 0 0 0 0 0 3 4 0\n", "b\x00sh", 1, 3, 4},
		{"12 (\xff\xfe) S 1 1 1 0 -1 0 0 0 0 0 3 4 0\n", "\xff\xfe", 1, 3, 4},
	} {
		f.Add(seed.text, seed.comm, seed.ppid, seed.utime, seed.stime)
	}
	f.Fuzz(func(t *testing.T, text, comm string, ppid int, utime, stime int64) {
		if st, err := parseStat(text); err == nil {
			open, end := strings.IndexByte(text, '('), strings.LastIndexByte(text, ')')
			if st.comm != text[open+1:end] {
				t.Errorf("comm %q, want %q", st.comm, text[open+1:end])
			}
			if st.cpu < 0 || st.cpu%clockTick != 0 {
				t.Errorf("cpu %v; want a non-negative count of ticks", st.cpu)
			}
			if st.user < 0 || st.user > st.cpu || st.user%clockTick != 0 {
				t.Errorf("user %v of cpu %v; want a non-negative count of ticks within cpu", st.user, st.cpu)
			}
		} else if !strings.HasPrefix(err.Error(), "procstat: ") {
			t.Errorf("error %q does not name procstat", err)
		}

		got, err := parseStat(statLine(comm, ppid, utime, stime))
		ticks, ok := tickTotal(utime, stime)
		if !ok {
			if err == nil {
				t.Errorf("utime %d, stime %d accepted as %v", utime, stime, got.cpu)
			}
			return
		}
		want := procStat{comm: comm, ppid: ppid, cpu: time.Duration(ticks) * clockTick, user: time.Duration(utime) * clockTick}
		if err != nil || got != want {
			t.Errorf("parseStat(statLine(%q, %d, %d, %d)):\n got %+v, %v\nwant %+v", comm, ppid, utime, stime, got, err, want)
		}
	})
}

// statusTextOf writes /proc/PID/status as the kernel does (fs/proc/task_mmu.c: "%8lu kB"), around
// the captured lines, with a process in groups supplementary groups on one "Groups:" line.
func statusTextOf(rssKB, peakKB int64, groups int) string {
	var b strings.Builder
	b.WriteString("Name:\tcat\nUmask:\t0022\nState:\tR (running)\nPid:\t14506\nPPid:\t14397\nGroups:\t")
	for g := range groups {
		fmt.Fprintf(&b, "%d ", 100000+g)
	}
	fmt.Fprintf(&b, "\nVmPeak:\t    3892 kB\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\nRssAnon:\t      96 kB\nThreads:\t1\n", peakKB, rssKB)
	return b.String()
}

// FuzzParseStatus: an accepted status had both a VmRSS and a VmHWM line (a zombie or a kernel
// thread has neither, and one of them must not stand for both), with sizes that are
// non-negative whole KiB. Text that statusTextOf writes gives back the sizes written, however
// long the lines before them; a size that no int64 holds in bytes is refused, not wrapped.
// parseKB takes exactly "<decimal> kB": whatever it accepts, written back that way, reads the
// same, and nothing that does not end in " kB" is accepted.
func FuzzParseStatus(f *testing.F) {
	for _, seed := range []struct {
		text          string
		rssKB, peakKB int64
		groups        uint16
	}{
		{statusText, 2180, 2196, 0},
		{statusText[:strings.Index(statusText, "VmRSS:")+10], 0, 0, 4},
		{"", 1, 1, 10_000}, // 70 KB of groups, past bufio.Scanner's default line
		{"Name:\tkthreadd\nState:\tS (sleeping)\n", -1, 1, 0},
		{"VmHWM:\t12 MB\nVmRSS:\t1 kB\n", 1, -1, 0},
		{"VmHWM:\tx kB\nVmRSS:\t1 kB\n", math.MaxInt64 >> 10, 1, 0},
		{"VmRSS:\t1 kB\nVmRSS:\t2 kB\n", math.MaxInt64>>10 + 1, 1, 0}, // no VmHWM
		{"VmHWM:\t-5 kB\nVmRSS:\t1 kB\n", 1, math.MaxInt64, 0},
		{"VmHWM:\t9007199254740992 kB\nVmRSS:\t1 kB\n", 1, 9007199254740992, 0},
		{"VmHWM:\t99999999999999999999 kB\nVmRSS:\t1 kB\n", 1, 1, 0},
		{"VmHWM:\t1 KB\nVmRSS:\t1 kB\n", 1, 1, 0},
		{"VmHWM:\t1\nVmRSS:\t kB\n", 1, 1, 0},
		{"VmHWM 1 kB\nVmRSS 1 kB\n", 1, 1, 0},
		{"VmHWM:\t1 kB\r\nVmRSS:\t1 kB\r\n", 1, 1, 0},
		{"VmHWM:\t1\x00 kB\nVmRSS:\t1 kB\n", 1, 1, 0},
		{"VmHWM:\t1 k\xff\nVmRSS:\t1 kB\n", 1, 1, 0},
		{"    2180 kB", 1, 1, 0},
		{"2180  kB", 1, 1, 0},
		{"+2180 kB extra", 1, 1, 0},
	} {
		f.Add(seed.text, seed.rssKB, seed.peakKB, seed.groups)
	}
	f.Fuzz(func(t *testing.T, text string, rssKB, peakKB int64, groups uint16) {
		if m, err := parseStatus(text); err == nil {
			var rss, hwm bool
			for line := range strings.Lines(text) {
				key, _, _ := strings.Cut(line, ":")
				rss, hwm = rss || key == "VmRSS", hwm || key == "VmHWM"
			}
			if !rss || !hwm {
				t.Errorf("accepted %+v from text with VmRSS %v, VmHWM %v", m, rss, hwm)
			}
			if m.rss < 0 || m.peak < 0 || m.rss%1024 != 0 || m.peak%1024 != 0 {
				t.Errorf("accepted %+v; want non-negative whole KiB", m)
			}
		} else if !strings.HasPrefix(err.Error(), "procstat: ") {
			t.Errorf("error %q does not name procstat", err)
		}

		if n, err := parseKB(text); err == nil {
			if n < 0 || n%1024 != 0 || !strings.HasSuffix(strings.TrimSpace(text), " kB") {
				t.Errorf("parseKB(%q) = %d", text, n)
			}
			if again, err := parseKB(fmt.Sprintf("%d kB", n>>10)); again != n || err != nil {
				t.Errorf("parseKB(%q) = %d, but %d kB reads as %d, %v", text, n, n>>10, again, err)
			}
		}

		got, err := parseStatus(statusTextOf(rssKB, peakKB, int(groups)))
		inRange := func(kb int64) bool { return kb >= 0 && kb <= math.MaxInt64>>10 }
		if !inRange(rssKB) || !inRange(peakKB) {
			if err == nil {
				t.Errorf("VmRSS %d kB, VmHWM %d kB accepted as %+v", rssKB, peakKB, got)
			}
			return
		}
		if want := (memStat{rss: rssKB << 10, peak: peakKB << 10}); err != nil || got != want {
			t.Errorf("VmRSS %d kB, VmHWM %d kB, %d groups:\n got %+v, %v\nwant %+v", rssKB, peakKB, groups, got, err, want)
		}
	})
}

// FuzzParseCPUBusy: an accepted first line of /proc/stat is the "cpu" totals, and the busy time
// is non-negative whole ticks. A line with the captured idle, iowait, irq and softirq and the
// fuzzed user, nice, system and steal gives back their sum; counts that are negative, or whose
// sum overflows a time.Duration, are refused, not wrapped around.
func FuzzParseCPUBusy(f *testing.F) {
	captured := "cpu  77264 0 14881 121655 253 0 2348 98 0 0\ncpu0 38000 0 7000 60000 100 0 1000 40 0 0\n"
	for _, seed := range []struct {
		text                      string
		user, nice, system, steal int64
	}{
		{captured, 77264, 0, 14881, 98},
		{"", 0, 0, 0, 0},
		{"intr 1 2 3\n", -1, 0, 0, 0},
		{"cpu  1 2 3\n", 1, 2, 3, -4},
		{"cpu  1 2 3 4 5 6 x 8 9 10\n", math.MaxInt64, 0, 0, 0},
		{"cpu  -1 0 0 4 5 6 7 8 9 10\n", math.MaxInt64 / int64(clockTick), 0, 0, 0},
		{"cpu  9223372036854775807 9223372036854775807 0 4 5 6 7 0\n", math.MaxInt64 / int64(clockTick), 0, 0, 1},
		{"cpu  18446744073709551615 0 0 4 5 6 7 8 9 10\n", math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{"\ncpu  1 2 3 4 5 6 7 8 9 10\n", 1, 1, 1, 1},
		{"cpu0 1 2 3 4 5 6 7 8 9 10\n", 1, 1, 1, 1},
		{captured[:20], 1, 1, 1, 1},
		{"cpu\t1\t2\t3\t4\t5\t6\t7\t8\r\n", 1, 1, 1, 1},
		{"cpu  1 2 3 4 5 6 7 8\x00 9 10\n", 1, 1, 1, 1},
		{"cpu  1 2 3 4 5 6 7 \xff8 9 10\n", 1, 1, 1, 1},
	} {
		f.Add(seed.text, seed.user, seed.nice, seed.system, seed.steal)
	}
	f.Fuzz(func(t *testing.T, text string, user, nice, system, steal int64) {
		if busy, err := parseCPUBusy(text); err == nil {
			line, _, _ := strings.Cut(text, "\n")
			if f := strings.Fields(line); len(f) == 0 || f[0] != "cpu" {
				t.Errorf("accepted %q, not the cpu totals", line)
			}
			if busy < 0 || busy%clockTick != 0 {
				t.Errorf("busy %v; want a non-negative count of ticks", busy)
			}
		} else if !strings.HasPrefix(err.Error(), "procstat: ") {
			t.Errorf("error %q does not name procstat", err)
		}

		text = fmt.Sprintf("cpu  %d %d %d 121655 253 0 2348 %d 0 0\ncpu0 38000 0 7000 60000 100 0 1000 40 0 0\n",
			user, nice, system, steal)
		got, err := parseCPUBusy(text)
		ticks, ok := tickTotal(user, nice, system, steal)
		if !ok {
			if err == nil {
				t.Errorf("%q accepted as %v", text, got)
			}
			return
		}
		if want := time.Duration(ticks) * clockTick; err != nil || got != want {
			t.Errorf("parseCPUBusy(%q) = %v, %v; want %v", text, got, err, want)
		}
	})
}

// governorLines writes the debug lines muxgate's governor logs as it changes the number of
// processors (see TestProcessorsUsed), one for each count, from the one it starts on.
func governorLines(counts []byte) string {
	var b strings.Builder
	from := 1
	for _, to := range counts {
		fmt.Fprintf(&b, `{"level":"debug","from":%d,"to":%d,"cpus_used":0.98,"late_share":0.003,"hold_periods":10,"message":"processors"}`+"\n", from, to)
		from = int(to)
	}
	return b.String()
}

// FuzzProcessorsUsed: the reading is line by line, so the log's lines between whatever comes
// before and after the governor's add exactly their counts, in order, and neither a line that
// is not JSON nor a long one (past bufio.Scanner's 64 KiB) hides what follows. Whatever the log
// holds, the reading is integers, one space apart.
func FuzzProcessorsUsed(f *testing.F) {
	captured := `{"level":"info","listen":"127.0.0.1:1","message":"serving"}
{"level":"debug","from":2,"to":1,"cpus_used":0,"late_share":0,"hold_periods":10,"message":"processors"}
not json
{"level":"debug","session":1,"sessions":1,"message":"session up"}
`
	for _, seed := range []struct {
		before, after string
		counts        []byte
	}{
		{captured, captured, []byte{2, 1}},
		{"", "", nil},
		{"not json", `{"message":"serving"}`, []byte{1}},
		{`{"message":"processors"}`, `{"message":"processors","to":1e3}`, []byte{4}},
		{`{"message":"processors","to":99999999999999999999}`, `{"message":"processors","to":-1}`, []byte{0}},
		{`{"message":"processors","to":1,"to":2}`, `{"MESSAGE":"processors","TO":3}`, []byte{255}},
		{`{"level":"debug","from":2,"to":1,"cpus_u`, `{"message":"processors\xff","to":2}`, []byte{3}},
		{"{\"message\":\"processors\",\"to\":2}\x00", "{\"message\":\"processors\",\"to\":2}\r\n", []byte{2, 3}},
		{longLine, longLine, []byte{2, 1}},
	} {
		f.Add(seed.before, seed.after, seed.counts)
	}
	f.Fuzz(func(t *testing.T, before, after string, counts []byte) {
		var want []string
		for _, part := range []string{processorsUsed(before), processorsUsed(after)} {
			for _, n := range strings.Split(part, " ") {
				if _, err := strconv.Atoi(n); part != "" && err != nil {
					t.Fatalf("processorsUsed gave %q, not integers one space apart", part)
				}
			}
		}
		if p := processorsUsed(before); p != "" {
			want = append(want, p)
		}
		for _, n := range counts {
			want = append(want, strconv.Itoa(int(n)))
		}
		if p := processorsUsed(after); p != "" {
			want = append(want, p)
		}
		log := before + "\n" + governorLines(counts) + after
		if got := processorsUsed(log); got != strings.Join(want, " ") {
			t.Errorf("processorsUsed(%.200q) = %q, want %q", log, got, strings.Join(want, " "))
		}
	})
}
