//go:build linux

package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ, which Linux fixes at 100
// for user space on every architecture it exports /proc from.
const clockTick = 10 * time.Millisecond

// procStat is what the benchmark reads of one process's /proc/PID/stat.
type procStat struct {
	comm string        // executable name, as the kernel truncates it
	ppid int           // parent process
	cpu  time.Duration // utime + stime, all threads
	user time.Duration // utime alone: the CPU spent outside the kernel
}

// parseStat parses the text of /proc/PID/stat (proc(5)). The command name sits in parentheses
// and may itself hold spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(text string) (procStat, error) {
	open := strings.IndexByte(text, '(')
	end := strings.LastIndexByte(text, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("procstat: stat: no command name")
	}
	// Fields from the third on: state(3) ppid(4) ... utime(14) stime(15).
	f := strings.Fields(text[end+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("procstat: stat: %d fields after the name, want at least 13", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("procstat: stat: ppid: %w", err)
	}
	user, err := addTicks(0, f[11])
	if err != nil {
		return procStat{}, fmt.Errorf("procstat: stat: utime: %w", err)
	}
	ticks, err := addTicks(user, f[12])
	if err != nil {
		return procStat{}, fmt.Errorf("procstat: stat: stime: %w", err)
	}
	return procStat{
		comm: text[open+1 : end],
		ppid: ppid,
		cpu:  time.Duration(ticks) * clockTick,
		user: time.Duration(user) * clockTick,
	}, nil
}

// maxTicks is the most clock ticks a time.Duration holds (292 years).
const maxTicks = math.MaxInt64 / int64(clockTick)

// addTicks adds the count of clock ticks s to sum, at most maxTicks. The kernel prints these
// counts unsigned, so a negative one is not its text; a total past maxTicks would wrap around
// to a wrong, possibly negative, time.
func addTicks(sum int64, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > maxTicks-sum {
		return 0, fmt.Errorf("%s clock ticks out of range", s)
	}
	return sum + n, nil
}

// memStat is the memory of a process from /proc/PID/status, in bytes.
type memStat struct {
	rss  int64 // VmRSS: resident now
	peak int64 // VmHWM: the most resident since start (or since clear_refs 5)
}

// parseStatus reads VmRSS and VmHWM from the text of /proc/PID/status. A kernel thread or a
// zombie has neither; that is an error.
func parseStatus(text string) (memStat, error) {
	var m memStat
	var haveRSS, havePeak bool
	// Not a bufio.Scanner: the "Groups:" line before these grows with the process's
	// supplementary groups (up to 65536) past the Scanner's 64 KiB line.
	for line := range strings.Lines(text) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		n, err := parseKB(val)
		if err != nil {
			return memStat{}, fmt.Errorf("procstat: status: %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.rss, haveRSS = n, true
		} else {
			m.peak, havePeak = n, true
		}
	}
	if !haveRSS || !havePeak {
		return memStat{}, errors.New("procstat: status: no VmRSS and VmHWM")
	}
	return m, nil
}

// parseKB parses "   1234 kB" into bytes. A negative size, or one that no int64 holds in
// bytes, is an error.
func parseKB(s string) (int64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), " ")
	if unit != "kB" {
		return 0, fmt.Errorf("unit %q, want kB", unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxInt64>>10 {
		return 0, fmt.Errorf("%s kB out of range", num)
	}
	return n << 10, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

func readStatus(pid int) (memStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStat{}, err
	}
	return parseStatus(string(b))
}

// tree returns pid and its descendants (nghttpx runs its workers in a child process). It scans
// /proc once; a process that exits meanwhile is left out.
func tree(pid int) []int {
	parent := map[int][]int{}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		st, err := parseStat(string(b))
		if err != nil {
			continue
		}
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		parent[st.ppid] = append(parent[st.ppid], child)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parent[out[i]]...)
	}
	return out
}

// usage is a sample of a process tree: CPU used so far (and the user-space part of it) and memory
// now, summed over its processes.
type usage struct {
	cpu, user time.Duration
	mem       memStat
}

// sampleTree sums CPU time and memory over pid and its descendants. Shared pages of a forked
// child count once per process: compare differences, not levels, across process models.
func sampleTree(pid int) (usage, error) {
	var u usage
	for i, p := range tree(pid) {
		st, err := readStat(p)
		if err == nil {
			var m memStat
			m, err = readStatus(p)
			u.cpu += st.cpu
			u.user += st.user
			u.mem.rss += m.rss
			u.mem.peak += m.peak
		}
		if err != nil && i == 0 {
			return usage{}, err
		}
	}
	return u, nil
}

// resetPeak makes the kernel restart VmHWM from the current RSS (proc(5), clear_refs value 5),
// so that the bench process can measure its own peak during one run.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// parseCPUBusy reads the first line of /proc/stat ("cpu  user nice system idle iowait irq
// softirq steal guest guest_nice", in clock ticks) and returns the time all CPUs were busy in
// processes, or taken by the hypervisor: user, nice, system and steal. Interrupt time is left
// out, since the kernel does not charge it to the process whose packets it handles (loopback
// traffic is ours). Guest time is already part of user time.
func parseCPUBusy(text string) (time.Duration, error) {
	line, _, _ := strings.Cut(text, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("procstat: /proc/stat: first line %q, want the cpu totals", line)
	}
	var busy int64
	for i, v := range f[1:9] {
		var err error
		switch i {
		case 0, 1, 2, 7: // user, nice, system, steal
			busy, err = addTicks(busy, v)
		default:
			_, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return 0, fmt.Errorf("procstat: /proc/stat: %w", err)
		}
	}
	return time.Duration(busy) * clockTick, nil
}

func readCPUBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseCPUBusy(string(b))
}
