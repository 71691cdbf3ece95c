//go:build linux

package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	runs := []runResult{
		{Round: 1, ReqPerSec: 100, CPUPerReqUs: 20, UpstreamConns: 2, Requests: 10, Failed: 1},
		{Round: 2, Error: "nghttpx: exited during start-up"},
		{Round: 3, ReqPerSec: 300, CPUPerReqUs: 10, UpstreamConns: 4, Requests: 10},
	}
	row := summarize("nghttpx", runs)
	if row.Errors != 1 {
		t.Errorf("errors = %d, want 1", row.Errors)
	}
	m := row.Median
	if m.ReqPerSec != 200 || m.CPUPerReqUs != 15 || m.UpstreamConns != 3 {
		t.Errorf("median req/s %v, CPU %v, upstream %v; want 200, 15, 3", m.ReqPerSec, m.CPUPerReqUs, m.UpstreamConns)
	}
	if m.Requests != 20 || m.Failed != 1 {
		t.Errorf("requests %d, failed %d; want the sums 20, 1", m.Requests, m.Failed)
	}
}

func TestWriteBlock(t *testing.T) {
	b := blockReport{Name: "small", Rows: []rowReport{
		summarize("muxgate", []runResult{{ReqPerSec: 30000, CPUPerReqUs: 15, P50us: 1500, P99us: 4200}}),
		summarize("nghttpx", []runResult{{ReqPerSec: 20000, CPUPerReqUs: 20, Failed: 3}}),
		summarize("haproxy", []runResult{{Error: "haproxy: not ready"}}),
	}}
	var out bytes.Buffer
	writeBlock(&out, b)
	text := out.String()
	for _, want := range []string{
		"muxgate  30000  1.50ms  4.20ms", "15.0",
		"3 !",                                    // failures marked
		"1 runs errored !",                       // a row with no measurement
		"vs nghttpx: req/s 1.50x, CPU/req 0.75x", // ratios, and none to the errored peer
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "vs haproxy") {
		t.Errorf("table has a ratio to a peer without a measurement:\n%s", text)
	}
}

func TestWriteBlockRoundRange(t *testing.T) {
	b := blockReport{Name: "small", Rows: []rowReport{
		summarize("muxgate", []runResult{
			{Round: 1, ReqPerSec: 900, CPUPerReqUs: 30},
			{Round: 2, ReqPerSec: 1100, CPUPerReqUs: 36},
			{Round: 3, Error: "muxgate: not ready"},
		}),
		summarize("nghttpx", []runResult{
			{Round: 1, ReqPerSec: 1000, CPUPerReqUs: 20},
			{Round: 2, ReqPerSec: 1000, CPUPerReqUs: 24},
			{Round: 3, ReqPerSec: 5000, CPUPerReqUs: 1},
		}),
	}}
	var out bytes.Buffer
	writeBlock(&out, b)
	// Rounds 1 and 2 pair up; round 3, where muxgate errored, does not.
	if want := "vs nghttpx: req/s 1.00x (rounds 0.90-1.10; above 1 in 1 of 2, sign test p 1), CPU/req 1.65x (rounds 1.50-1.50; above 1 in 2 of 2, sign test p 0.5)"; !strings.Contains(out.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, out.String())
	}
}

// TestSignTest checks the two-sided sign test against sums worked out by hand, and that a round
// with a ratio of exactly 1 counts on neither side.
func TestSignTest(t *testing.T) {
	for _, c := range []struct {
		k, n int
		want float64
	}{
		{0, 0, 1},
		{0, 5, 2.0 / 32},                    // 0 or 5 heads of 5
		{5, 5, 2.0 / 32},                    // the same, from the other side
		{1, 10, 2 * 11.0 / 1024},            // C(10,0)+C(10,1), both tails
		{3, 15, 2 * 576.0 / 32768},          // 1+15+105+455
		{7, 15, 1},                          // as even as 15 flips get
		{20, 40, 1},                         // capped at 1
		{0, 40, 2 / math.Pow(2, 40)},        // far beyond the drift
		{2, 12, 2 * (1 + 12 + 66) / 4096.0}, // 0.0386
	} {
		if got := signTest(c.k, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("signTest(%d, %d) = %v, want %v", c.k, c.n, got, c.want)
		}
	}
	ours := []runResult{{Round: 1, ReqPerSec: 10}, {Round: 2, ReqPerSec: 12}, {Round: 3, ReqPerSec: 9}}
	theirs := []runResult{{Round: 1, ReqPerSec: 10}, {Round: 2, ReqPerSec: 10}, {Round: 3, ReqPerSec: 10}}
	got := roundRange(ours, theirs, func(r runResult) float64 { return r.ReqPerSec })
	if want := " (rounds 0.90-1.20; above 1 in 1 of 3, sign test p 1)"; got != want {
		t.Errorf("roundRange with a tie: %q, want %q", got, want)
	}
}

// TestMuxgateRatios: every measure is given as muxgate's ratio to each peer that was measured,
// in the table and in the JSON, and none where a peer's or muxgate's measure is missing.
func TestMuxgateRatios(t *testing.T) {
	rows := []rowReport{
		summarize("muxgate", []runResult{{ReqPerSec: 30000, CPUPerReqUs: 15, P50us: 1500, P99us: 4200, PeakRSS: 30 << 20, UpstreamConns: 1}}),
		summarize("nghttpx", []runResult{{ReqPerSec: 20000, CPUPerReqUs: 20, P50us: 1000, P99us: 6000, PeakRSS: 20 << 20, UpstreamConns: 2}}),
		summarize("haproxy", []runResult{{Error: "haproxy: not ready"}}),
	}
	got := muxgateRatios(rows)
	want := ratios{ReqPerSec: 1.5, P50: 1.5, P99: 0.7, CPUPerReq: 0.75, PeakRSS: 1.5, UpstreamConns: 0.5}
	if len(got) != 1 || got["nghttpx"] != want {
		t.Fatalf("ratios = %+v, want only nghttpx's %+v", got, want)
	}
	var out bytes.Buffer
	writeBlock(&out, blockReport{Name: "small", Rows: rows})
	line := "vs nghttpx: req/s 1.50x, CPU/req 0.75x, p50 1.50x, p99 0.70x, peak RSS 1.50x, upstream conns 0.50x"
	if !strings.Contains(out.String(), line) {
		t.Errorf("table lacks %q:\n%s", line, out.String())
	}

	idle := []rowReport{
		summarize("muxgate", []runResult{{BytesPerIdle: 2600, PeakRSS: 36 << 20}}),
		summarize("haproxy", []runResult{{BytesPerIdle: 1300, PeakRSS: 24 << 20}}),
	}
	out.Reset()
	writeBlock(&out, blockReport{Name: "idle-5000", Idle: 5000, Rows: idle})
	if line := "vs haproxy: bytes/idle conn 2.00x, peak RSS 1.50x"; !strings.Contains(out.String(), line) {
		t.Errorf("idle table lacks %q:\n%s", line, out.String())
	}
}

// TestIdleCores: the cores that nothing used are the machine's less the busy time over the
// wall time, never below zero, and nothing for a run without wall time.
func TestIdleCores(t *testing.T) {
	for _, tc := range []struct {
		ncpu       int
		busy, wall time.Duration
		want       float64
	}{
		{2, 3 * time.Second, 2 * time.Second, 0.5},
		{2, 4 * time.Second, 2 * time.Second, 0},
		{2, 5 * time.Second, 2 * time.Second, 0}, // busy read after the wall clock: not negative
		{4, 0, time.Second, 4},
		{2, time.Second, 0, 0},
	} {
		if got := idleCores(tc.ncpu, tc.busy, tc.wall); got != tc.want {
			t.Errorf("idleCores(%d, %v, %v) = %v, want %v", tc.ncpu, tc.busy, tc.wall, got, tc.want)
		}
	}
}

// TestIdleLine: a load block's table is followed by each target's median idle cores, in the
// rows' order, leaving out a target whose every run errored; an idle block has no such line.
func TestIdleLine(t *testing.T) {
	rows := []rowReport{
		summarize("muxgate", []runResult{{IdleCores: 0.4}, {IdleCores: 0.5}, {IdleCores: 0.3}}),
		summarize("nghttpx", []runResult{{IdleCores: 0.2}}),
		summarize("haproxy", []runResult{{Error: "haproxy: not ready"}}),
	}
	want := "cores idle during the runs (medians): muxgate 0.40, nghttpx 0.20"
	if got := idleLine(blockReport{Name: "small", Rows: rows}); got != want {
		t.Errorf("idleLine = %q, want %q", got, want)
	}
	var out bytes.Buffer
	writeBlock(&out, blockReport{Name: "small", Rows: rows})
	if !strings.Contains(out.String(), want+"\n") {
		t.Errorf("table lacks %q:\n%s", want, out.String())
	}
	if got := idleLine(blockReport{Name: "idle-5000", Idle: 5000, Rows: rows}); got != "" {
		t.Errorf("idle block: idleLine = %q, want none", got)
	}
}

// TestUserLine: each table is followed by each target's median user-space CPU per request beside
// its whole, in the rows' order, leaving out a target whose every run errored and one that
// measured no CPU.
func TestUserLine(t *testing.T) {
	rows := []rowReport{
		summarize("muxgate", []runResult{{CPUPerReqUs: 14, UserCPUPerReqUs: 8}, {CPUPerReqUs: 15, UserCPUPerReqUs: 7.5}, {CPUPerReqUs: 13, UserCPUPerReqUs: 7}}),
		summarize("nghttpx-1", []runResult{{CPUPerReqUs: 11.2, UserCPUPerReqUs: 3.8}}),
		summarize("haproxy", []runResult{{Error: "haproxy: not ready"}}),
		summarize("direct", []runResult{{ReqPerSec: 50000}}),
	}
	want := "CPU us/req in user space, of the whole (medians; the rest in the kernel): muxgate 7.5 of 14.0, nghttpx-1 3.8 of 11.2"
	for _, b := range []blockReport{{Name: "small", Rows: rows}, {Name: "idle-5000", Idle: 5000, Rows: rows}} {
		if got := userLine(b); got != want {
			t.Errorf("%s: userLine = %q, want %q", b.Name, got, want)
		}
		var out bytes.Buffer
		writeBlock(&out, b)
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("%s: table lacks %q:\n%s", b.Name, want, out.String())
		}
	}
	if got := userLine(blockReport{Name: "small", Rows: rows[2:]}); got != "" {
		t.Errorf("no CPU measured: userLine = %q, want none", got)
	}
}
