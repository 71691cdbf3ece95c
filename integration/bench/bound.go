//go:build linux

package main

import (
	"fmt"
	"strings"
)

// The cores' bound. h2load, the upstream and the proxy share the machine's cores, so a row's
// requests/s can be at most the cores over the CPU that the three spend on a request together.
// A row well below its bound spent the difference waiting (the closed loop's idle cores); a row
// near it was short of CPU, and only a lower CPU per request, its own or what it makes the
// others spend, can raise it. The goal lines apply the same sum to muxgate's goals, so that a
// run says whether a goal is within this machine's reach at the CPU muxgate spends now.

// goal is muxgate's requests/s goal in a scenario: Times the requests/s of Peer, in the same run.
type goal struct {
	Peer  string  `json:"peer"`
	Times float64 `json:"times"`
}

// sharedCPU is the CPU per request, in microseconds, of the proxy, the upstream and h2load
// together, from m's medians (the direct row has no proxy: its own column is the upstream's).
func sharedCPU(m runResult) float64 { return m.CPUPerReqUs + m.UpstreamCPUUs + m.H2loadCPUUs }

// coresBound is the requests/s that ncpu busy cores allow at m's shared CPU per request; 0 when
// none was measured.
func coresBound(m runResult, ncpu int) float64 {
	if cpu := sharedCPU(m); cpu > 0 {
		return float64(ncpu) * 1e6 / cpu
	}
	return 0
}

// boundLine gives, for a load block, each measured row's cores' bound and the share of it that
// the row reached. Empty for an idle block.
func boundLine(b blockReport, ncpu int) string {
	if b.Idle > 0 {
		return ""
	}
	var parts []string
	for _, r := range b.Rows {
		if bound := coresBound(r.Median, ncpu); r.Errors < len(r.Runs) && bound > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f (reached %.2f)", r.Target, bound, r.Median.ReqPerSec/bound))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("cores' bound, req/s with all %d cores busy at the row's CPU per request with the upstream's and h2load's: %s",
		ncpu, strings.Join(parts, ", "))
}

// goalLines gives, for each of block b's goals whose peer and muxgate were measured, the goal's
// requests/s, what muxgate reached, in how many rounds it met the goal, and the cores the goal
// would take at muxgate's shared CPU per request.
func goalLines(b blockReport, ncpu int) []string {
	medians := measuredMedians(b.Rows)
	mg, ok := medians["muxgate"]
	if !ok || sharedCPU(mg) == 0 {
		return nil
	}
	runs := map[string][]runResult{}
	for _, r := range b.Rows {
		runs[r.Target] = r.Runs
	}
	var lines []string
	for _, g := range b.Goals {
		peer, ok := medians[g.Peer]
		if !ok || peer.ReqPerSec == 0 {
			continue
		}
		want := g.Times * peer.ReqPerSec
		ratios := roundRatios(runs["muxgate"], runs[g.Peer], func(r runResult) float64 { return r.ReqPerSec })
		met := 0
		for _, q := range ratios {
			if q >= g.Times {
				met++
			}
		}
		lines = append(lines, fmt.Sprintf("goal %.2fx %s's req/s (%.0f): muxgate reached %.2fx, the goal in %d of %d rounds; at its CPU per request with the upstream's and h2load's (%.1f us) the goal needs %.2f of the %d cores",
			g.Times, g.Peer, want, mg.ReqPerSec/peer.ReqPerSec, met, len(ratios), sharedCPU(mg), want*sharedCPU(mg)/1e6, ncpu))
	}
	return lines
}
