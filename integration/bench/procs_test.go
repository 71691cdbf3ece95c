//go:build linux

package main

import "testing"

// TestProcessorsUsed pins the reading of muxgate's "processors" log lines.
func TestProcessorsUsed(t *testing.T) {
	log := `{"level":"info","listen":"127.0.0.1:1","message":"serving"}
{"level":"debug","from":2,"to":1,"cpus_used":0,"late_share":0,"hold_periods":10,"message":"processors"}
not json
{"level":"debug","session":1,"sessions":1,"message":"session up"}
{"level":"debug","from":1,"to":2,"cpus_used":0.98,"late_share":0.003,"hold_periods":10,"message":"processors"}
{"level":"debug","from":2,"to":1,"cpus_used":0.4,"late_share":0,"hold_periods":10,"message":"processors"}
`
	if got, want := processorsUsed(log), "1 2 1"; got != want {
		t.Errorf("processorsUsed = %q, want %q", got, want)
	}
	if got := processorsUsed("{\"message\":\"serving\"}\n"); got != "" {
		t.Errorf("no processors lines: %q, want empty", got)
	}
}

// TestProcessorsPerRound: one entry per run, in round order; nothing when no run logged any.
func TestProcessorsPerRound(t *testing.T) {
	runs := []runResult{{Processors: "1"}, {Processors: "1 2 1"}, {}}
	if got, want := processorsPerRound(runs), "1 | 1 2 1 | "; got != want {
		t.Errorf("processorsPerRound = %q, want %q", got, want)
	}
	if got := processorsPerRound([]runResult{{}, {}}); got != "" {
		t.Errorf("no processors logged: %q, want empty", got)
	}
}
