//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

// Captured from h2load 1.52 (--h1, one thread), a clean run.
const h2loadClean = `starting benchmark...
spawning thread #0: 4 total client(s). 400 total requests
Application protocol: http/1.1
progress: 10% done
progress: 100% done

finished in 215.23ms, 1858.50 req/s, 318.92KB/s
requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 400 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 68.64KB (70288) total, 56.64KB (58000) headers (space savings 0.00%), 1.17KB (1200) data
                     min         max         mean         sd        +/- sd
time for request:      416us     16.58ms      2.06ms      1.47ms    96.50%
time for connect:       22us        75us        39us        24us    75.00%
time to 1st byte:      445us      1.35ms       823us       380us    75.00%
req/s           :     465.41      496.27      476.27       13.79    75.00%
`

// Captured: pipelining (-m 2) against an HTTP/1.0 server, which closes after each response.
const h2loadFailed = `starting benchmark...
spawning thread #0: 2 total client(s). 20 total requests
Application protocol: http/1.1
progress: 50% done

finished in 14.14ms, 707.36 req/s, 114.39KB/s
requests: 20 total, 20 started, 10 done, 10 succeeded, 10 failed, 10 errored, 0 timeout
status codes: 10 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.62KB (1656) total, 1.42KB (1450) headers (space savings 0.00%), 30B (30) data
`

// Captured: nothing listening on the port. h2load still exits 0.
const h2loadRefused = `starting benchmark...
spawning thread #0: 2 total client(s). 4 total requests

finished in 337us, 0.00 req/s, 0B/s
requests: 4 total, 0 started, 0 done, 0 succeeded, 4 failed, 4 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
`

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name string
		text string
		want summary
		bad  int
	}{
		{"clean", h2loadClean, summary{elapsed: 215230 * time.Microsecond, reqPerSec: 1858.50,
			total: 400, done: 400, succeeded: 400, status2xx: 400}, 0},
		{"failed", h2loadFailed, summary{elapsed: 14140 * time.Microsecond, reqPerSec: 707.36,
			total: 20, done: 10, succeeded: 10, failed: 10, errored: 10, status2xx: 10}, 10},
		{"refused", h2loadRefused, summary{elapsed: 337 * time.Microsecond,
			total: 4, failed: 4, errored: 4}, 4},
		{"seconds", strings.Replace(h2loadClean, "215.23ms", "6.81s", 1), summary{elapsed: 6810 * time.Millisecond,
			reqPerSec: 1858.50, total: 400, done: 400, succeeded: 400, status2xx: 400}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSummary(tt.text)
			if err != nil {
				t.Fatalf("parseSummary: %v", err)
			}
			if got != tt.want {
				t.Errorf("parseSummary:\n got %+v\nwant %+v", got, tt.want)
			}
			if b := got.bad(); b != tt.bad {
				t.Errorf("bad() = %d, want %d", b, tt.bad)
			}
		})
	}
}

func TestParseSummaryErrors(t *testing.T) {
	for _, text := range []string{
		"",
		"starting benchmark...\nspawning thread #0: 2 total client(s). 4 total requests\n",
		"finished in 1.5s, 100.00 req/s, 1KB/s\n", // no requests line
		"finished in soon, 100.00 req/s, 1KB/s\nrequests: 4 total\n",
		"finished in 1s, many req/s, 1KB/s\nrequests: 4 total\n",
		"finished in 1s, 1.00 req/s, 1KB/s\nrequests: four total\n",
	} {
		if got, err := parseSummary(text); err == nil {
			t.Errorf("parseSummary(%q) = %+v, want an error", text, got)
		}
	}
}

// Captured --log-file rows, with a failed stream added (status -1).
const h2loadLog = "1795916055608928\t200\t8912\n" +
	"1795916055608935\t200\t9573\n" +
	"1795916055617984\t200\t1056\n" +
	"1795916055618001\t-1\t12000\n" +
	"1795916055618101\t200\t743\n"

func TestParseLog(t *testing.T) {
	l, err := parseLog(strings.NewReader(h2loadLog))
	if err != nil {
		t.Fatalf("parseLog: %v", err)
	}
	if l.rows != 5 || l.failed != 1 || len(l.sorted) != 4 {
		t.Fatalf("rows %d, failed %d, samples %d; want 5, 1, 4", l.rows, l.failed, len(l.sorted))
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 1056 * time.Microsecond},
		{75, 8912 * time.Microsecond},
		{99, 9573 * time.Microsecond},
		{100, 9573 * time.Microsecond},
		{1, 743 * time.Microsecond},
	} {
		if got := l.percentile(tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestParseLogErrors(t *testing.T) {
	for _, text := range []string{"1795916055608928\t200\n", "x\ty\tz\n", "1\t200\t1.5\n"} {
		if _, err := parseLog(strings.NewReader(text)); err == nil {
			t.Errorf("parseLog(%q): no error", text)
		}
	}
}

func TestPercentileEmpty(t *testing.T) {
	if got := percentileOf(nil, 99); got != 0 {
		t.Errorf("percentileOf(nil, 99) = %v, want 0", got)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		text string
		want procStat
	}{
		// Captured from /proc/PID/stat of a shell: utime 3, stime 4 ticks.
		{"bash", "4598 (bash) S 4597 4598 4598 0 -1 4194560 7806 504071 0 17 3 4 9755 3392 20 0 1 0 34878 5259264 958 18446744073709551615 94077505716224 94077506505629 140724711265440 0 0 0 65536 4 1132560123 1 0 0 17 1 0 0 0 0 0 94077506738928 94077506787172 94077724295168 140724711267166 140724711267181 140724711267181 140724711268330 0\n",
			procStat{comm: "bash", ppid: 4597, cpu: 70 * time.Millisecond, user: 30 * time.Millisecond}},
		// A name with a space and a parenthesis, as a process may set for itself.
		{"odd name", "77 (nghttpx: work) er) S 76 76 1 0 -1 4194560 1 0 0 0 1234 567 0 0 20 0 3 0 100 1000 10 18446744073709551615\n",
			procStat{comm: "nghttpx: work) er", ppid: 76, cpu: 18010 * time.Millisecond, user: 12340 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.text)
			if err != nil {
				t.Fatalf("parseStat: %v", err)
			}
			if got != tt.want {
				t.Errorf("parseStat = %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "12 bash S 1", "12 (bash) S 1 2 3", "12 (bash) S x 1 1 0 -1 0 0 0 0 0 1 1 0\n"} {
		if got, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) = %+v, want an error", bad, got)
		}
	}
}

// Captured from /proc/PID/status (the lines around the ones read).
const statusText = `Name:	cat
Umask:	0022
State:	R (running)
Tgid:	14506
Pid:	14506
PPid:	14397
VmPeak:	    3892 kB
VmSize:	    3892 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	    2196 kB
VmRSS:	    2180 kB
RssAnon:	      96 kB
VmData:	     424 kB
VmStk:	     132 kB
Threads:	1
`

func TestParseStatus(t *testing.T) {
	got, err := parseStatus(statusText)
	if err != nil {
		t.Fatalf("parseStatus: %v", err)
	}
	if want := (memStat{rss: 2180 << 10, peak: 2196 << 10}); got != want {
		t.Errorf("parseStatus = %+v, want %+v", got, want)
	}
	// A zombie or kernel thread has no Vm lines.
	for _, bad := range []string{"Name:\tkthreadd\nState:\tS (sleeping)\n", "VmHWM:\t12 MB\nVmRSS:\t1 kB\n", "VmHWM:\tx kB\nVmRSS:\t1 kB\n"} {
		if got, err := parseStatus(bad); err == nil {
			t.Errorf("parseStatus(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseCPUBusy(t *testing.T) {
	// Captured first lines of /proc/stat: user nice system idle iowait irq softirq steal ...
	got, err := parseCPUBusy("cpu  77264 0 14881 121655 253 0 2348 98 0 0\ncpu0 38000 0 7000 60000 100 0 1000 40 0 0\n")
	if err != nil {
		t.Fatalf("parseCPUBusy: %v", err)
	}
	if want := (77264 + 14881 + 98) * clockTick; got != want {
		t.Errorf("parseCPUBusy = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu  1 2 3\n", "cpu  1 2 3 4 5 6 x 8 9 10\n"} {
		if _, err := parseCPUBusy(bad); err == nil {
			t.Errorf("parseCPUBusy(%q): no error", bad)
		}
	}
}

// TestLoadArgs: HTTP/1.1 clients get --h1, HTTP/2 clients none; -m only where more than one
// request is in flight per connection; a Connection: close field only for a connection a request.
func TestLoadArgs(t *testing.T) {
	for _, tc := range []struct {
		l    load
		want string
	}{
		{load{url: "http://a/", clients: 64, requests: 10, logFile: "l"}, "--h1 -t 1 -c 64 -n 10 -N 30s --log-file l http://a/"},
		{load{url: "https://a/", clients: 64, requests: 10, logFile: "l", pipeline: 10, h2: true}, "-t 1 -c 64 -n 10 -N 30s --log-file l -m 10 https://a/"},
		{load{url: "http://a/", clients: 64, requests: 10, logFile: "l", close: true}, "--h1 -t 1 -c 64 -n 10 -N 30s --log-file l -H Connection: close http://a/"},
	} {
		if got := strings.Join(tc.l.args(), " "); got != tc.want {
			t.Errorf("args %q, want %q", got, tc.want)
		}
	}
}
