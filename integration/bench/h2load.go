//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// load is one h2load run against one URL.
type load struct {
	url      string
	clients  int           // -c, on one thread (-t 1)
	pipeline int           // -m: requests in flight per connection (pipelined, or HTTP/2 streams); 0 or 1: one
	h2       bool          // HTTP/2 clients (ALPN h2 over TLS) rather than HTTP/1.1 (--h1)
	close    bool          // each request asks for its connection's close; h2load connects again for the next
	requests int           // -n
	logFile  string        // --log-file; removed before the run, since h2load appends to it
	timeout  time.Duration // the whole run is killed after this
}

// loadResult is what one h2load run measured.
type loadResult struct {
	summary
	p50, p99 time.Duration // from the per-request log
	logged   int           // rows in the log
	cpu      time.Duration // h2load's own user and system time
	output   string        // h2load's text, for diagnostics
}

// summary is what h2load prints at the end of a run.
type summary struct {
	elapsed   time.Duration
	reqPerSec float64
	total     int // requests: N total
	done      int
	succeeded int
	failed    int
	errored   int
	timedOut  int
	status2xx int
}

// bad counts requests that did not end in a 2xx response. h2load's failed includes errored and
// timed-out requests; requests never done, or answered with another status, are not in it.
func (s summary) bad() int {
	return max(s.failed, s.total-s.status2xx)
}

func (l load) args() []string {
	a := []string{"-t", "1",
		"-c", strconv.Itoa(l.clients),
		"-n", strconv.Itoa(l.requests),
		// A stalled connection fails the run instead of hanging it; generous, since a busy
		// shared machine can starve a process for seconds.
		"-N", "30s",
		"--log-file", l.logFile,
	}
	if !l.h2 {
		a = append([]string{"--h1"}, a...)
	}
	if l.pipeline > 1 {
		a = append(a, "-m", strconv.Itoa(l.pipeline))
	}
	if l.close {
		a = append(a, "-H", "Connection: close")
	}
	return append(a, l.url)
}

// run starts h2load, waits for it (at most l.timeout), and parses its summary and log.
func (l load) run(ctx context.Context) (loadResult, error) {
	if err := os.Remove(l.logFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return loadResult{}, fmt.Errorf("h2load: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "h2load", l.args()...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	res := loadResult{output: string(out)}
	if cmd.ProcessState != nil {
		res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("h2load: stopped after %v: %w", l.timeout, ctx.Err())
	}
	if err != nil {
		return res, fmt.Errorf("h2load: %w: %s", err, tail(res.output, 400))
	}
	if res.summary, err = parseSummary(res.output); err != nil {
		return res, err
	}
	f, err := os.Open(l.logFile)
	if err != nil {
		return res, fmt.Errorf("h2load: log: %w", err)
	}
	defer f.Close()
	lat, err := parseLog(f)
	if err != nil {
		return res, err
	}
	res.logged = lat.rows
	res.p50, res.p99 = lat.percentile(50), lat.percentile(99)
	return res, nil
}

// parseSummary reads the lines of h2load's final report that the benchmark uses:
//
//	finished in 3.04s, 32867.13 req/s, 5.99MB/s
//	requests: 100000 total, 100000 started, 100000 done, 99990 succeeded, 10 failed, 10 errored, 0 timeout
//	status codes: 99990 2xx, 0 3xx, 0 4xx, 0 5xx
func parseSummary(text string) (summary, error) {
	var s summary
	var haveFinished, haveRequests bool
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "finished in "):
			f := strings.Split(strings.TrimPrefix(line, "finished in "), ", ")
			if len(f) < 2 || !strings.HasSuffix(f[1], " req/s") {
				return s, fmt.Errorf("h2load: unexpected %q", line)
			}
			d, err := time.ParseDuration(f[0])
			if err != nil {
				return s, fmt.Errorf("h2load: elapsed in %q: %w", line, err)
			}
			rps, err := strconv.ParseFloat(strings.TrimSuffix(f[1], " req/s"), 64)
			if err != nil {
				return s, fmt.Errorf("h2load: req/s in %q: %w", line, err)
			}
			// h2load prints neither a negative time nor a rate that is negative, NaN or Inf.
			if d < 0 || !(rps >= 0 && rps <= math.MaxFloat64) {
				return s, fmt.Errorf("h2load: elapsed or req/s out of range in %q", line)
			}
			s.elapsed, s.reqPerSec, haveFinished = d, rps, true
		case strings.HasPrefix(line, "requests: "):
			counts, err := namedCounts(strings.TrimPrefix(line, "requests: "))
			if err != nil {
				return s, fmt.Errorf("h2load: %q: %w", line, err)
			}
			s.total, s.done, s.succeeded = counts["total"], counts["done"], counts["succeeded"]
			s.failed, s.errored, s.timedOut = counts["failed"], counts["errored"], counts["timeout"]
			haveRequests = true
		case strings.HasPrefix(line, "status codes: "):
			counts, err := namedCounts(strings.TrimPrefix(line, "status codes: "))
			if err != nil {
				return s, fmt.Errorf("h2load: %q: %w", line, err)
			}
			s.status2xx = counts["2xx"]
		}
	}
	if !haveFinished || !haveRequests {
		return s, fmt.Errorf("h2load: no summary in output: %s", tail(text, 400))
	}
	return s, nil
}

// namedCounts parses "100 total, 99 done, 1 failed" into a map from name to count.
func namedCounts(s string) (map[string]int, error) {
	m := map[string]int{}
	for item := range strings.SplitSeq(s, ",") {
		num, name, ok := strings.Cut(strings.TrimSpace(item), " ")
		if !ok {
			return nil, fmt.Errorf("no count in %q", item)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("negative count in %q", item)
		}
		m[name] = n
	}
	return m, nil
}

// latencies are the per-request times of one run, sorted.
type latencies struct {
	sorted []time.Duration // requests that got a status
	rows   int             // all rows, failed streams included
	failed int             // rows with status -1
}

// parseLog reads h2load's --log-file: tab-separated start time (us since the epoch), status
// (-1 for a failed stream) and microseconds until the end of the response, one request a line.
func parseLog(r io.Reader) (latencies, error) {
	var l latencies
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 {
			return l, fmt.Errorf("h2load: log line %d: %d columns, want 3", n, len(f))
		}
		status, err1 := strconv.Atoi(f[1])
		us, err2 := strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return l, fmt.Errorf("h2load: log line %d: %w", n, err)
		}
		l.rows++
		if status < 0 {
			l.failed++
			continue
		}
		// A negative duration, or one past time.Duration's 292 years, would wrap around and be
		// sorted as the fastest response.
		if us < 0 || us > math.MaxInt64/int64(time.Microsecond) {
			return l, fmt.Errorf("h2load: log line %d: %d us out of range", n, us)
		}
		l.sorted = append(l.sorted, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("h2load: log: %w", err)
	}
	slices.Sort(l.sorted)
	return l, nil
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100); 0 when there are no samples.
func (l latencies) percentile(p float64) time.Duration {
	return percentileOf(l.sorted, p)
}

// percentileOf is the nearest-rank p-th percentile of sorted: the smallest sample that at least
// p percent of the samples are at or below; 0 when there are none. A p at or below 0, or NaN,
// gives the smallest sample, and one above 100 the largest.
func percentileOf(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// p*n/100, not p/100*n: p/100 is inexact, and 28/100*25 is 7.000000000000001, a rank too
	// high. The rank is clamped while a float, since a float past int's range converts to an
	// arbitrary int (on amd64, -1e300 came out as the largest sample).
	rank := math.Ceil(p * float64(len(sorted)) / 100)
	switch {
	case !(rank >= 1):
		return sorted[0]
	case rank >= float64(len(sorted)):
		return sorted[len(sorted)-1]
	}
	return sorted[int(rank)-1]
}

// tail returns the last n bytes of s, for error messages.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// requestLines returns h2load's "requests:" and "status codes:" lines joined, to show what
// failed.
func (r loadResult) requestLines() string {
	var out []string
	for line := range strings.Lines(r.output) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "requests: ") || strings.HasPrefix(line, "status codes: ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "; ")
}
