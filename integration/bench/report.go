//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is the whole result, printed as a table and written as JSON for comparing commits.
type report struct {
	Date     string            `json:"date"`
	Elapsed  string            `json:"elapsed"`
	Host     host              `json:"host"`
	Tools    map[string]string `json:"tools"`
	Muxgate  string            `json:"muxgate"`             // revision and how the binary was had
	MuxgateB string            `json:"muxgate_b,omitempty"` // the muxgate-b row's binary, if any
	Setup    []string          `json:"setup"`
	Rounds   int               `json:"rounds"`
	Missing  []string          `json:"missing,omitempty"` // targets left out, and why
	Blocks   []blockReport     `json:"blocks"`
}

type host struct {
	Nproc  int    `json:"nproc"`
	Kernel string `json:"kernel"`
	CPU    string `json:"cpu"`
	Go     string `json:"go"`
}

type blockReport struct {
	Name     string      `json:"name"`
	Desc     string      `json:"desc"`
	Requests int         `json:"requests,omitempty"` // per run
	Idle     int         `json:"idle_conns,omitempty"`
	Rows     []rowReport `json:"rows"`
	Goals    []goal      `json:"goals,omitempty"` // muxgate's requests/s goals in this scenario
	// Ratios is muxgate's medians over each peer's, keyed by the peer's name.
	Ratios map[string]ratios `json:"ratios,omitempty"`
}

// ratios is one target's medians over another's, measure by measure; 0 (left out of the JSON)
// where either has none.
type ratios struct {
	ReqPerSec     float64 `json:"req_per_s,omitempty"`
	P50           float64 `json:"p50,omitempty"`
	P99           float64 `json:"p99,omitempty"`
	CPUPerReq     float64 `json:"cpu_per_req,omitempty"`
	PeakRSS       float64 `json:"peak_rss,omitempty"`
	BytesPerIdle  float64 `json:"bytes_per_idle_conn,omitempty"`
	UpstreamConns float64 `json:"upstream_conns,omitempty"`
}

// ratiosOf divides a's medians by b's.
func ratiosOf(a, b runResult) ratios {
	q := func(x, y float64) float64 {
		if x == 0 || y == 0 {
			return 0
		}
		return x / y
	}
	return ratios{
		ReqPerSec:     q(a.ReqPerSec, b.ReqPerSec),
		P50:           q(a.P50us, b.P50us),
		P99:           q(a.P99us, b.P99us),
		CPUPerReq:     q(a.CPUPerReqUs, b.CPUPerReqUs),
		PeakRSS:       q(float64(a.PeakRSS), float64(b.PeakRSS)),
		BytesPerIdle:  q(a.BytesPerIdle, b.BytesPerIdle),
		UpstreamConns: q(float64(a.UpstreamConns), float64(b.UpstreamConns)),
	}
}

// ratioPeers are the targets muxgate's ratios are given to.
var ratioPeers = []string{"nghttpx", "haproxy", "nghttpx-1", "haproxy-1", "muxgate-b"}

// muxgateRatios gives muxgate's ratios to each peer measured in the block, from the rows' medians;
// none for a row whose every run errored.
func muxgateRatios(rows []rowReport) map[string]ratios {
	medians := measuredMedians(rows)
	mg, ok := medians["muxgate"]
	if !ok {
		return nil
	}
	out := map[string]ratios{}
	for _, peer := range ratioPeers {
		if p, ok := medians[peer]; ok {
			out[peer] = ratiosOf(mg, p)
		}
	}
	return out
}

// measuredMedians gives the medians of the rows with a measurement (a run without an error), by
// target.
func measuredMedians(rows []rowReport) map[string]runResult {
	medians := map[string]runResult{}
	for _, r := range rows {
		if r.Errors < len(r.Runs) {
			medians[r.Target] = r.Median
		}
	}
	return medians
}

// rowReport is one target in one block: medians over the rounds that ran, failures summed.
type rowReport struct {
	Target string      `json:"target"`
	Median runResult   `json:"median"`
	Errors int         `json:"errors"` // rounds that produced no measurement
	Runs   []runResult `json:"runs"`
}

// rowOrder is the order of the rows in every block, whatever order they ran in.
var rowOrder = []string{"muxgate", "muxgate-b", "muxgate-h3", "nghttpx", "haproxy", "nghttpx-1", "haproxy-1", "direct"}

// defaultTargets are the rows of a default run: muxgate-h3 is opt-in (-targets), since another
// row in every load scenario would take the default run past its time budget.
var defaultTargets = []string{"muxgate", "nghttpx", "haproxy", "direct"}

func (r *runner) blockReports() []blockReport {
	var out []blockReport
	for _, b := range r.blocks {
		br := blockReport{Name: b.name(), Desc: b.desc(), Requests: b.requests, Idle: b.idle, Goals: b.sc.goals}
		for _, name := range rowOrder {
			runs, ok := r.results[b.name()][name]
			if !ok {
				continue
			}
			br.Rows = append(br.Rows, summarize(name, runs))
		}
		br.Ratios = muxgateRatios(br.Rows)
		out = append(out, br)
	}
	return out
}

// summarize takes the median of each measure over the runs without an error.
func summarize(name string, runs []runResult) rowReport {
	row := rowReport{Target: name, Runs: runs}
	var good []runResult
	for _, r := range runs {
		if r.Error != "" {
			row.Errors++
			continue
		}
		good = append(good, r)
		row.Median.Requests += r.Requests
		row.Median.Failed += r.Failed
	}
	if len(good) == 0 {
		return row
	}
	pick := func(f func(runResult) float64) float64 {
		v := make([]float64, len(good))
		for i, r := range good {
			v[i] = f(r)
		}
		return median(v)
	}
	m := &row.Median
	m.ReqPerSec = pick(func(r runResult) float64 { return r.ReqPerSec })
	m.P50us = pick(func(r runResult) float64 { return r.P50us })
	m.P99us = pick(func(r runResult) float64 { return r.P99us })
	m.CPUPerReqUs = pick(func(r runResult) float64 { return r.CPUPerReqUs })
	m.UserCPUPerReqUs = pick(func(r runResult) float64 { return r.UserCPUPerReqUs })
	m.UpstreamCPUUs = pick(func(r runResult) float64 { return r.UpstreamCPUUs })
	m.H2loadCPUUs = pick(func(r runResult) float64 { return r.H2loadCPUUs })
	m.PeakRSS = int64(pick(func(r runResult) float64 { return float64(r.PeakRSS) }))
	m.BytesPerIdle = pick(func(r runResult) float64 { return r.BytesPerIdle })
	m.UpstreamConns = int64(pick(func(r runResult) float64 { return float64(r.UpstreamConns) }))
	m.IdleCores = pick(func(r runResult) float64 { return r.IdleCores })
	return row
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeText prints the report as plain text: a header, then one table per block.
func (rep *report) writeText(w io.Writer) {
	fmt.Fprintf(w, "muxgate benchmark  %s  (run took %s)\n", rep.Date, rep.Elapsed)
	fmt.Fprintf(w, "host      nproc %d, kernel %s, %s, %s\n", rep.Host.Nproc, rep.Host.Kernel, rep.Host.CPU, rep.Host.Go)
	var tools []string
	for _, k := range []string{"h2load", "nghttpx", "haproxy"} {
		if v, ok := rep.Tools[k]; ok {
			tools = append(tools, v)
		}
	}
	fmt.Fprintf(w, "tools     %s\n", strings.Join(tools, "; "))
	fmt.Fprintf(w, "muxgate   %s\n", rep.Muxgate)
	if rep.MuxgateB != "" {
		fmt.Fprintf(w, "muxgate-b %s\n", rep.MuxgateB)
	}
	for i, s := range rep.Setup {
		label := ""
		if i == 0 {
			label = "setup"
		}
		fmt.Fprintf(w, "%-9s %s\n", label, s)
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(w, "MISSING   %s\n", m)
	}
	for _, b := range rep.Blocks {
		fmt.Fprintf(w, "\n== %s: %s\n", b.Name, b.Desc)
		if b.Idle > 0 {
			fmt.Fprintf(w, "   (req/s: connections opened per second, one request each; p50/p99: connect to end of that response;\n"+
				"    CPU us/req: per connection and its request; bytes/idle conn: RSS growth / connections held)\n")
		}
		writeBlock(w, b)
	}
}

// writeBlock prints block b: its table, the other processes' CPU, the idle cores, the cores'
// bound, and the lines about muxgate.
func writeBlock(w io.Writer, b blockReport) {
	writeTable(w, blockTable(b))
	if worst := maxOther(b.Rows); worst >= 0.1 {
		fmt.Fprintf(w, "(other processes used up to %.1f of the %d cores during these runs)\n", worst, runtime.NumCPU())
	}
	for _, line := range []string{userLine(b), idleLine(b), boundLine(b, runtime.NumCPU())} {
		if line != "" {
			fmt.Fprintln(w, line)
		}
	}
	writeMuxgateLines(w, b)
	for _, line := range goalLines(b, runtime.NumCPU()) {
		fmt.Fprintln(w, line)
	}
}

// blockTable lays out block b's table: a header, then a row of cells for each target.
func blockTable(b blockReport) [][]string {
	table := [][]string{{"target", "req/s", "p50", "p99", "CPU us/req", "upstream's", "h2load's", "peak RSS", "bytes/idle conn", "upstream conns", "failed"}}
	for _, r := range b.Rows {
		table = append(table, tableRow(r, b.Idle > 0))
	}
	return table
}

// tableRow gives r's cells: its medians, bytes per idle connection only in an idle block (idle),
// and its failures, marked " !" if a request failed or a run errored. A row whose every run
// errored has "-" for every measure.
func tableRow(r rowReport, idle bool) []string {
	m := r.Median
	mark := ""
	if m.Failed > 0 || r.Errors > 0 {
		mark = " !"
	}
	if r.Errors == len(r.Runs) {
		return []string{r.Target, "-", "-", "-", "-", "-", "-", "-", "-", "-", fmt.Sprintf("%d runs errored%s", r.Errors, mark)}
	}
	perIdle := "-"
	if idle {
		perIdle = fmtBytes(m.BytesPerIdle)
	}
	failed := fmt.Sprint(m.Failed)
	if r.Errors > 0 {
		failed += fmt.Sprintf(", %d runs errored", r.Errors)
	}
	return []string{r.Target, fmt.Sprintf("%.0f", m.ReqPerSec), fmtUs(m.P50us), fmtUs(m.P99us),
		fmt.Sprintf("%.1f", m.CPUPerReqUs), fmtCPU(m.UpstreamCPUUs), fmtCPU(m.H2loadCPUUs),
		fmtBytes(float64(m.PeakRSS)), perIdle, fmt.Sprint(m.UpstreamConns), failed + mark}
}

// writeMuxgateLines prints, below block b's table, muxgate's ratios to the peers, the processor
// counts per round of muxgate and muxgate-b, and muxgate-h3's ratios to muxgate in a load block.
// It prints nothing when muxgate has no measurement in b.
func writeMuxgateLines(w io.Writer, b blockReport) {
	medians := measuredMedians(b.Rows)
	runs := map[string][]runResult{}
	for _, r := range b.Rows {
		runs[r.Target] = r.Runs
	}
	mg, ok := medians["muxgate"]
	if !ok {
		return
	}
	if parts := ratioParts(b, runs); len(parts) > 0 {
		fmt.Fprintf(w, "muxgate %s\n", strings.Join(parts, "; "))
	}
	if procs := processorsPerRound(runs["muxgate"]); procs != "" {
		fmt.Fprintf(w, "muxgate processors per round (its governor; GOMAXPROCS the ceiling): %s\n", procs)
	}
	if procs := processorsPerRound(runs["muxgate-b"]); procs != "" {
		fmt.Fprintf(w, "muxgate-b processors per round: %s\n", procs)
	}
	if h3, ok := medians["muxgate-h3"]; ok && b.Idle == 0 {
		fmt.Fprintf(w, "muxgate-h3 vs muxgate (HTTP/3 vs h2c upstream): req/s %s, CPU/req %s\n",
			ratio(h3.ReqPerSec, mg.ReqPerSec), ratio(h3.CPUPerReqUs, mg.CPUPerReqUs))
	}
}

// ratioParts gives "vs PEER: ..." for each of ratioPeers measured in block b: in an idle block
// muxgate's ratios of bytes per idle connection and peak RSS, in a load block all of them, req/s
// and CPU/req with their spread over the rounds of runs (each target's runs).
func ratioParts(b blockReport, runs map[string][]runResult) []string {
	var parts []string
	all := muxgateRatios(b.Rows)
	for _, peer := range ratioPeers {
		q, ok := all[peer]
		if !ok {
			continue
		}
		if b.Idle > 0 {
			parts = append(parts, fmt.Sprintf("vs %s: bytes/idle conn %s, peak RSS %s", peer, fmtRatio(q.BytesPerIdle), fmtRatio(q.PeakRSS)))
		} else {
			parts = append(parts, fmt.Sprintf("vs %s: req/s %s%s, CPU/req %s%s, p50 %s, p99 %s, peak RSS %s, upstream conns %s", peer,
				fmtRatio(q.ReqPerSec), roundRange(runs["muxgate"], runs[peer], func(r runResult) float64 { return r.ReqPerSec }),
				fmtRatio(q.CPUPerReq), roundRange(runs["muxgate"], runs[peer], func(r runResult) float64 { return r.CPUPerReqUs }),
				fmtRatio(q.P50), fmtRatio(q.P99), fmtRatio(q.PeakRSS), fmtRatio(q.UpstreamConns)))
		}
	}
	return parts
}

// userLine gives each target's median CPU per request (per connection in an idle block) spent in
// user space, beside its whole CPU per request: the rest is the kernel's work for it, which the
// proxies' different process models (goroutines against event loops) divide differently.
func userLine(b blockReport) string {
	var parts []string
	for _, r := range b.Rows {
		if r.Errors < len(r.Runs) && r.Median.CPUPerReqUs > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f of %.1f", r.Target, r.Median.UserCPUPerReqUs, r.Median.CPUPerReqUs))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "CPU us/req in user space, of the whole (medians; the rest in the kernel): " + strings.Join(parts, ", ")
}

// idleLine gives, for a load block, each target's median of the cores that nothing used during
// its runs: the waits that cost it req/s beyond its CPU per request. Empty for an idle block.
func idleLine(b blockReport) string {
	if b.Idle > 0 {
		return ""
	}
	var parts []string
	for _, r := range b.Rows {
		if r.Errors < len(r.Runs) {
			parts = append(parts, fmt.Sprintf("%s %.2f", r.Target, r.Median.IdleCores))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "cores idle during the runs (medians): " + strings.Join(parts, ", ")
}

// processorsPerRound lists the processor counts of each run, "|" between rounds; empty if no
// run logged any.
func processorsPerRound(runs []runResult) string {
	var parts []string
	seen := false
	for _, r := range runs {
		parts = append(parts, r.Processors)
		seen = seen || r.Processors != ""
	}
	if !seen {
		return ""
	}
	return strings.Join(parts, " | ")
}

// writeTable prints rows of cells in columns: the first and last left-aligned, numbers right.
func writeTable(w io.Writer, table [][]string) {
	width := make([]int, len(table[0]))
	for _, row := range table {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range table {
		var b strings.Builder
		for i, c := range row {
			switch i {
			case 0:
				fmt.Fprintf(&b, "%-*s", width[i], c)
			case len(row) - 1:
				fmt.Fprintf(&b, "  %s", c)
			default:
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// roundRange gives the spread of muxgate's ratio to a peer, f(ours)/f(theirs), over the rounds
// in which both were measured, and how many of them put it above 1, as " (rounds LO-HI; above 1
// in K of N, sign test p P)": the two ran minutes apart at most, so the spread says how far the
// machine's drift moves a ratio, and the count whether a median's side of 1 is more than that
// drift. Empty with fewer than two such rounds.
func roundRange(ours, theirs []runResult, f func(runResult) float64) string {
	v := roundRatios(ours, theirs, f)
	if len(v) < 2 {
		return ""
	}
	above, ties := 0, 0
	for _, q := range v {
		switch {
		case q > 1:
			above++
		case q == 1:
			ties++
		}
	}
	return fmt.Sprintf(" (rounds %.2f-%.2f; above 1 in %d of %d, sign test p %.2g)",
		slices.Min(v), slices.Max(v), above, len(v), signTest(above, len(v)-ties))
}

// roundRatios gives f(ours)/f(theirs) for each round in which both were measured.
func roundRatios(ours, theirs []runResult, f func(runResult) float64) []float64 {
	var v []float64
	for _, a := range ours {
		for _, b := range theirs {
			if a.Round == b.Round && a.Error == "" && b.Error == "" && f(b) > 0 {
				v = append(v, f(a)/f(b))
			}
		}
	}
	return v
}

// signTest is the two-sided exact sign test: the probability that n fair coin flips come out
// at least as unevenly as k heads. Rounds with a ratio of exactly 1 are left out of n.
func signTest(k, n int) float64 {
	if n == 0 {
		return 1
	}
	tail := min(k, n-k)
	// The binomial coefficients C(n, i) for i up to tail, summed as float64: exact enough for
	// the few dozen rounds a run has.
	sum, c := 0.0, 1.0
	for i := 0; i <= tail; i++ {
		sum += c
		c = c * float64(n-i) / float64(i+1)
	}
	return min(1, 2*sum/math.Pow(2, float64(n)))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmtRatio(a / b)
}

// fmtRatio prints a ratio as "1.23x", "-" for none.
func fmtRatio(q float64) string {
	if q == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", q)
}

// fmtCPU prints CPU microseconds per request, "-" for none measured.
func fmtCPU(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// fmtUs prints microseconds as us below a millisecond, else as ms.
func fmtUs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1000:
		return fmt.Sprintf("%.0fus", v)
	case v < 100_000:
		return fmt.Sprintf("%.2fms", v/1000)
	default:
		return fmt.Sprintf("%.0fms", v/1000)
	}
}

// fmtBytes prints a byte count in binary units.
func fmtBytes(v float64) string {
	switch a := max(v, -v); {
	case v == 0:
		return "-"
	case a < 1<<10:
		return fmt.Sprintf("%.0fB", v)
	case a < 1<<20:
		return fmt.Sprintf("%.1fKiB", v/(1<<10))
	case a < 1<<30:
		return fmt.Sprintf("%.1fMiB", v/(1<<20))
	default:
		return fmt.Sprintf("%.2fGiB", v/(1<<30))
	}
}

func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

func formatDate(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// maxOther is the most CPU, in cores, that other processes used during any run of the block.
func maxOther(rows []rowReport) float64 {
	var worst float64
	for _, r := range rows {
		for _, run := range r.Runs {
			worst = max(worst, run.OtherCores)
		}
	}
	return worst
}
