//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCoresBound: the bound is the cores over the three CPU columns together, and none is given
// for a row without CPU figures or an idle block.
func TestCoresBound(t *testing.T) {
	m := runResult{ReqPerSec: 40000, CPUPerReqUs: 15, UpstreamCPUUs: 5, H2loadCPUUs: 5}
	if got := coresBound(m, 2); got != 80000 {
		t.Errorf("coresBound = %v, want 80000 (2 cores / 25 us)", got)
	}
	if got := coresBound(runResult{ReqPerSec: 1}, 2); got != 0 {
		t.Errorf("coresBound without CPU figures = %v, want 0", got)
	}
	b := blockReport{Name: "small", Rows: []rowReport{
		summarize("muxgate", []runResult{m}),
		summarize("direct", []runResult{{ReqPerSec: 50000, CPUPerReqUs: 30, H2loadCPUUs: 10}}),
		summarize("haproxy", []runResult{{Error: "haproxy: not ready"}}),
	}}
	line := boundLine(b, 2)
	for _, want := range []string{"all 2 cores", "muxgate 80000 (reached 0.50)", "direct 50000 (reached 1.00)"} {
		if !strings.Contains(line, want) {
			t.Errorf("bound line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "haproxy") {
		t.Errorf("bound line names a row without a measurement: %s", line)
	}
	b.Idle = 5000
	if line := boundLine(b, 2); line != "" {
		t.Errorf("idle block has a bound line: %s", line)
	}
}

// TestGoalLines: a goal gives its requests/s, muxgate's ratio, the rounds that met it (a round
// exactly at the goal meets it; one where muxgate failed counts in neither) and the cores it
// needs at muxgate's CPU; a goal whose peer has no measurement gives no line.
func TestGoalLines(t *testing.T) {
	b := blockReport{Name: "pipelined", Goals: []goal{{"nghttpx", 1.5}, {"haproxy", 1}}, Rows: []rowReport{
		summarize("muxgate", []runResult{
			{Round: 1, ReqPerSec: 60000, CPUPerReqUs: 15, UpstreamCPUUs: 5, H2loadCPUUs: 6},
			{Round: 2, ReqPerSec: 75000, CPUPerReqUs: 15, UpstreamCPUUs: 5, H2loadCPUUs: 6},
			{Round: 3, Error: "muxgate: not ready"},
		}),
		summarize("nghttpx", []runResult{
			{Round: 1, ReqPerSec: 50000, CPUPerReqUs: 20},
			{Round: 2, ReqPerSec: 50000, CPUPerReqUs: 20},
			{Round: 3, ReqPerSec: 10000, CPUPerReqUs: 20},
		}),
		summarize("haproxy", []runResult{{Round: 1, Error: "haproxy: not ready"}}),
	}}
	lines := goalLines(b, 2)
	if len(lines) != 1 {
		t.Fatalf("goal lines %q, want one (haproxy has no measurement)", lines)
	}
	for _, want := range []string{"goal 1.50x nghttpx's req/s (75000)", "reached 1.35x, the goal in 1 of 2 rounds", "(26.0 us)", "needs 1.95 of the 2 cores"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("goal line lacks %q: %s", want, lines[0])
		}
	}
	var out bytes.Buffer
	writeBlock(&out, b)
	if !strings.Contains(out.String(), "goal 1.50x nghttpx's") || !strings.Contains(out.String(), "cores' bound") {
		t.Errorf("block lacks its goal or bound line:\n%s", out.String())
	}
}
