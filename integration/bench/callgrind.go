//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The -callgrind mode counts the instructions muxgate's process executes per request, under
// valgrind's callgrind, instead of timing it beside the peers; and those of nghttpx and HAProxy
// on one worker thread (rows nghttpx-1 and haproxy-1), doing the same job under the same load.
// The count is repeatable where this machine's time is not: the same build measures within
// about 1% of itself run after run, where its CPU per request drifts by a tenth and more. It
// leaves out what the kernel does for the process (its system calls) and what the scheduler's
// timing changes (callgrind runs one thread at a time), so it measures the code a proxy runs,
// not its waits: a change to the system calls or to the hand-offs between goroutines needs the
// timed run.

const (
	// callgrindRequests is -n's default under -callgrind: about fifteen seconds a run under
	// callgrind, which runs muxgate some fifty times slower.
	callgrindRequests = 20_000
	// callgrindClients is h2load's connection count under -callgrind (-c). Fewer than the
	// timed runs' 64: the slower muxgate runs, the more requests wait in it at once, and the
	// more its batches vary from run to run with the timing of valgrind's thread switches.
	callgrindClients = 16
	// callgrindTimeout bounds each h2load run under callgrind.
	callgrindTimeout = 10 * time.Minute
	// callgrindStart bounds the start of muxgate under valgrind.
	callgrindStart = 2 * time.Minute
)

// callgrindScenarios are -scenarios' default under -callgrind.
var callgrindScenarios = []string{"small", "pipelined"}

// callgrindTargets are -targets' default under -callgrind, and (with muxgate-b) all it counts:
// muxgate on one processor beside the peers on one worker thread.
var callgrindTargets = []string{"muxgate", "nghttpx-1", "haproxy-1"}

// callgrindTools are valgrind and the tool that asks a running callgrind to zero its counts and
// to dump them (Debian: valgrind, both), and whether callgrind simulates the caches (-cache-sim).
type callgrindTools struct {
	valgrind, control string
	cacheSim          bool
}

func findCallgrind() (callgrindTools, error) {
	var t callgrindTools
	var err error
	if t.valgrind, err = findTool("valgrind"); err == nil {
		t.control, err = findTool("callgrind_control")
	}
	if err != nil {
		return t, fmt.Errorf("-callgrind: %w: install the Debian package valgrind", err)
	}
	return t, nil
}

// counted is one target running under callgrind, for one scenario's front end.
type counted struct {
	name  string // the target's row: muxgate, muxgate-b, nghttpx-1 or haproxy-1
	p     *proc
	addr  string
	out   string // callgrind's output file: each dump is out.1, out.2, ...
	dumps int
}

// callgrindGodebug is muxgate's GODEBUG under callgrind. Go's asynchronous preemption is off:
// callgrind fails on the signal it uses. So is the runtime's use of RDTSCP, which it prefers
// for its cycle counter where the processor has it (AMD's, among others): valgrind 3.19, Debian
// 12's, does not know the instruction and kills the process with SIGILL at its first lock
// contention; Go then reads the counter with LFENCE and RDTSC instead.
const callgrindGodebug = "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off"

// startCounted starts target t as the bench starts it for block b, under callgrind, in one
// process: muxgate on one processor with callgrindGodebug, a peer on its one worker thread. The
// timer slack is left as it is: muxgate would execute itself again to set it, and that process
// would run outside valgrind.
func startCounted(tools callgrindTools, t target, b block, up *upstream, dir string) (*counted, error) {
	name := t.name
	f := front{tls: b.sc.tls, cert: up.files, upstream: up.h2cAddr(), maxConns: loadConns, goThreads: 1,
		threads: t.peer.workers(), oneProcess: true, extra: t.extra}
	var err error
	if f.dir, err = os.MkdirTemp(dir, "callgrind-"+name+"-"+b.name()+"-"); err != nil {
		return nil, err
	}
	if f.port, err = freePort(); err != nil {
		return nil, err
	}
	cmd, err := t.peer.command(t.bin, f)
	if err != nil {
		return nil, err
	}
	c := &counted{name: name, addr: f.addr(), out: filepath.Join(f.dir, "callgrind.out")}
	args := []string{"--tool=callgrind", "--callgrind-out-file=" + c.out}
	if tools.cacheSim {
		// The host's cache sizes, which valgrind reads from the processor; the last level
		// is left out of the report: it is shared, and its simulation is not the machine's.
		args = append(args, "--cache-sim=yes")
	}
	args = append(args, cmd.Args...)
	vg := exec.Command(tools.valgrind, args...)
	vg.Env = cmd.Env // nil: valgrind's own environment
	if t.peer.tool == "muxgate" {
		vg.Args = append(vg.Args, "-timer-slack", "0")
		vg.Env = append(cmd.Env, callgrindGodebug)
	}
	if c.p, err = startProc(name+" (callgrind)", vg); err != nil {
		return nil, err
	}
	if err := c.p.ready(c.addr, f.tls, callgrindStart); err != nil {
		c.p.stop(5 * time.Second)
		return nil, err
	}
	return c, nil
}

// perRequest is what one count found, per request: the instructions of the whole process, and
// those of them in Go's runtime (0 in a peer's); with -cache-sim, its first-level cache misses.
type perRequest struct {
	total, runtime float64
	misses         *l1Misses // nil without -cache-sim
}

// l1Misses are a process's misses in the simulated first-level caches, per request: instruction
// fetches (callgrind's I1mr), data reads (D1mr) and data writes (D1mw).
type l1Misses struct {
	Instr     float64 `json:"instruction_fetches"`
	DataRead  float64 `json:"data_reads"`
	DataWrite float64 `json:"data_writes"`
}

// measure runs block b's load against c once to warm it up, then again with the counts zeroed
// before and dumped after, and returns the instructions per request of the second run, all and
// those in Go's runtime, and the cache misses where callgrind simulated the caches.
func (c *counted) measure(ctx context.Context, tools callgrindTools, b block, logFile string) (perRequest, error) {
	l := load{url: "http://" + c.addr + b.sc.path, clients: callgrindClients, pipeline: b.sc.pipeline, h2: b.sc.h2,
		close: b.sc.close, requests: max(callgrindClients, b.requests/5), logFile: logFile, timeout: callgrindTimeout}
	if b.sc.tls {
		l.url = "https://" + c.addr + b.sc.path
	}
	if err := runClean(ctx, l); err != nil {
		return perRequest{}, fmt.Errorf("%s: warm-up: %w", c.name, err)
	}
	pid := strconv.Itoa(c.p.pid())
	if out, err := command(time.Minute, "", tools.control, "-z", pid); err != nil {
		return perRequest{}, fmt.Errorf("callgrind_control -z: %w: %s", err, tail(out, 300))
	}
	l.requests = b.requests
	if err := runClean(ctx, l); err != nil {
		return perRequest{}, fmt.Errorf("%s: %w", c.name, err)
	}
	if out, err := command(time.Minute, "", tools.control, "-d", pid); err != nil {
		return perRequest{}, fmt.Errorf("callgrind_control -d: %w: %s", err, tail(out, 300))
	}
	c.dumps++
	text, counts, err := awaitDump(fmt.Sprintf("%s.%d", c.out, c.dumps), time.Minute)
	if err != nil {
		return perRequest{}, err
	}
	n := float64(b.requests)
	r := perRequest{total: float64(counts.ir) / n, runtime: float64(runtimeCost(text)) / n}
	if counts.cache {
		r.misses = &l1Misses{float64(counts.i1mr) / n, float64(counts.d1mr) / n, float64(counts.d1mw) / n}
	}
	return r, nil
}

// runClean runs l and fails unless every request got a 2xx answer.
func runClean(ctx context.Context, l load) error {
	res, err := l.run(ctx)
	if err == nil && (res.bad() > 0 || res.done < l.requests) {
		err = fmt.Errorf("h2load: %d of %d requests done, %d failed: %s", res.done, l.requests, res.bad(), tail(res.output, 300))
	}
	return err
}

// awaitDump waits until callgrind has written the dump at path whole, and returns its text and
// what it counted.
func awaitDump(path string, timeout time.Duration) (string, dumpCounts, error) {
	deadline := time.Now().Add(timeout)
	for {
		text, err := os.ReadFile(path)
		if err == nil {
			n, err := parseCallgrindDump(string(text))
			if err == nil || !errors.Is(err, errPartialDump) {
				return string(text), n, err
			}
		}
		if time.Now().After(deadline) {
			return "", dumpCounts{}, fmt.Errorf("callgrind: no whole dump at %s after %v", path, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errPartialDump: the dump has no totals line yet, which callgrind writes last.
var errPartialDump = errors.New("callgrind: dump not yet whole")

// dumpCounts are a dump's totals: the instructions (Ir) and, where callgrind simulated the
// caches (cache true), the first-level misses of instruction fetches, data reads and writes.
type dumpCounts struct {
	ir, i1mr, d1mr, d1mw uint64
	cache                bool
}

// parseCallgrindDump reads what a callgrind dump counted, from its header's "events:" and
// "summary:" lines (a count for each event, in order), once its "totals:" line shows that it is
// whole. Ir must be among the events (callgrind's default, and all it counts without cache
// simulation); I1mr, D1mr and D1mw, if all there, are the cache simulation's.
func parseCallgrindDump(text string) (dumpCounts, error) {
	var summary, events []string
	whole := false
	for line := range strings.Lines(text) {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\n"), ":")
		switch {
		case !ok:
		case key == "events":
			events = strings.Fields(value)
		case key == "summary":
			summary = strings.Fields(value)
		case key == "totals":
			whole = true
		}
	}
	if !whole {
		return dumpCounts{}, errPartialDump
	}
	if len(summary) == 0 || len(summary) != len(events) {
		return dumpCounts{}, fmt.Errorf("callgrind: summary %q for events %q", summary, events)
	}
	count := map[string]uint64{}
	for i, ev := range events {
		n, err := strconv.ParseUint(summary[i], 10, 64)
		if err != nil {
			return dumpCounts{}, fmt.Errorf("callgrind: summary of %s: %w", ev, err)
		}
		count[ev] = n
	}
	if _, ok := count["Ir"]; !ok {
		return dumpCounts{}, fmt.Errorf("callgrind: dump counts %q, want Ir", events)
	}
	_, i1 := count["I1mr"]
	_, d1r := count["D1mr"]
	_, d1w := count["D1mw"]
	return dumpCounts{ir: count["Ir"], i1mr: count["I1mr"], d1mr: count["D1mr"], d1mw: count["D1mw"], cache: i1 && d1r && d1w}, nil
}

// countedRow is one target's counts in one scenario: instructions per request, a round each,
// and those of them in Go's runtime (muxgate's rows only).
type countedRow struct {
	Name          string     `json:"name"`
	Counts        []float64  `json:"instructions_per_request"`
	Median        float64    `json:"median"`
	Runtime       []float64  `json:"runtime_instructions_per_request,omitempty"`
	RuntimeMedian float64    `json:"runtime_median,omitempty"`
	Misses        []l1Misses `json:"l1_misses_per_request,omitempty"` // -cache-sim's, a round each
	MissesMedian  *l1Misses  `json:"l1_misses_median,omitempty"`      // each kind's median
	Error         string     `json:"error,omitempty"`
}

// countedBlock is one scenario's rows.
type countedBlock struct {
	Name     string       `json:"name"`
	Desc     string       `json:"desc"`
	Requests int          `json:"requests"`
	Rows     []countedRow `json:"rows"`
}

// countedDesc says what load block b puts on muxgate under -callgrind.
func countedDesc(b block) string {
	scheme, opts, h1 := "http", "", " --h1"
	if b.sc.tls {
		scheme = "https"
	}
	if b.sc.h2 {
		h1 = ""
	}
	if b.sc.pipeline > 1 {
		opts = fmt.Sprintf(" -m %d", b.sc.pipeline)
	}
	if b.sc.close {
		opts += " -H 'Connection: close'"
	}
	return fmt.Sprintf("h2load%s -c %d%s %s://.../%s, %d requests a run", h1, callgrindClients, opts, scheme, strings.TrimPrefix(b.sc.path, "/"), b.requests)
}

// countTargets measures each of targets in each block, the targets interleaved within each
// round, each round with every target started afresh.
func countTargets(ctx context.Context, tools callgrindTools, targets []target, bl []block, rounds int, up *upstream, dir string, progress io.Writer) []countedBlock {
	out := make([]countedBlock, len(bl))
	for i, b := range bl {
		out[i] = countedBlock{Name: b.name(), Desc: countedDesc(b), Requests: b.requests}
		for _, t := range targets {
			out[i].Rows = append(out[i].Rows, countedRow{Name: t.name})
		}
	}
	for round := 1; round <= rounds && ctx.Err() == nil; round++ {
		for i, b := range bl {
			for j, t := range targets {
				n, err := countOnce(ctx, tools, t, b, up, dir)
				row := &out[i].Rows[j]
				if err != nil {
					row.Error = err.Error()
					fmt.Fprintf(progress, "round %d %s %s: %v\n", round, b.name(), t.name, err)
					continue
				}
				row.Counts = append(row.Counts, n.total)
				if n.runtime > 0 {
					row.Runtime = append(row.Runtime, n.runtime)
				}
				if n.misses != nil {
					row.Misses = append(row.Misses, *n.misses)
				}
				fmt.Fprintf(progress, "round %d %s %s: %.0f instructions per request\n", round, b.name(), t.name, n.total)
			}
		}
	}
	for i := range out {
		for j := range out[i].Rows {
			row := &out[i].Rows[j]
			row.Median, row.RuntimeMedian = median(row.Counts), median(row.Runtime)
			row.MissesMedian = medianMisses(row.Misses)
		}
	}
	return out
}

// medianMisses returns the median of each kind of miss over the rounds; nil for none.
func medianMisses(m []l1Misses) *l1Misses {
	if len(m) == 0 {
		return nil
	}
	kind := func(f func(l1Misses) float64) float64 {
		v := make([]float64, len(m))
		for i := range m {
			v[i] = f(m[i])
		}
		return median(v)
	}
	return &l1Misses{
		Instr:     kind(func(x l1Misses) float64 { return x.Instr }),
		DataRead:  kind(func(x l1Misses) float64 { return x.DataRead }),
		DataWrite: kind(func(x l1Misses) float64 { return x.DataWrite }),
	}
}

// countOnce starts target t under callgrind for block b, measures it once and stops it.
func countOnce(ctx context.Context, tools callgrindTools, t target, b block, up *upstream, dir string) (perRequest, error) {
	c, err := startCounted(tools, t, b, up, dir)
	if err != nil {
		return perRequest{}, err
	}
	n, err := c.measure(ctx, tools, b, filepath.Join(dir, "callgrind-h2load.log"))
	if err != nil {
		// valgrind's own complaints, and a Go crash's first lines, are on the target's output.
		err = fmt.Errorf("%w; %s's output: %s", err, t.name, c.p.out.head(tailBufferHead))
	}
	// A process that died during the count (valgrind's own failures included) fails it.
	if serr := c.p.stop(30 * time.Second); err == nil {
		err = serr
	}
	return n, err
}

// writeCounts writes the -callgrind report: per scenario, each target's median instructions per
// request with its range over the rounds (and with -cache-sim its median misses), and the first
// target's ratios to the others.
func writeCounts(w io.Writer, blocks []countedBlock, rounds int) {
	simulated := false
	for _, b := range blocks {
		fmt.Fprintf(w, "\n== %s: %s\n", b.Name, b.Desc)
		table := [][]string{{"target", "instructions/req", "rounds' range", "in Go's runtime"}}
		withMisses := slices.ContainsFunc(b.Rows, func(r countedRow) bool { return r.MissesMedian != nil })
		if withMisses {
			simulated = true
			table[0] = append(table[0], "L1 misses/req: I, D read, D write")
		}
		for _, r := range b.Rows {
			if len(r.Counts) == 0 {
				table = append(table, []string{r.Name, "failed", r.Error})
				continue
			}
			inRuntime := "-"
			if r.RuntimeMedian > 0 {
				inRuntime = fmt.Sprintf("%.0f (%.0f%%)", r.RuntimeMedian, 100*r.RuntimeMedian/r.Median)
			}
			row := []string{r.Name, fmt.Sprintf("%.0f", r.Median),
				fmt.Sprintf("%.0f-%.0f", slices.Min(r.Counts), slices.Max(r.Counts)), inRuntime}
			if m := r.MissesMedian; withMisses && m != nil {
				row = append(row, fmt.Sprintf("%.0f, %.0f, %.0f", m.Instr, m.DataRead, m.DataWrite))
			}
			table = append(table, row)
		}
		writeTable(w, table)
		if line := countRatioLine(b.Rows); line != "" {
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintf(w, "\ninstructions in each target's process per request under valgrind's callgrind (user space only): muxgate on one processor (GOMAXPROCS=1), nghttpx and HAProxy on one worker thread in one process; medians of %d rounds\n", rounds)
	if simulated {
		fmt.Fprintln(w, "L1 misses: in callgrind's simulation of the host's first-level caches (--cache-sim=yes), per request: instruction fetches (I1mr), data reads (D1mr) and data writes (D1mw)")
	}
}

// countRatioLine compares the first row (muxgate) with each other measured row by the ratio of
// their medians, with the range of the rounds' ratios; empty without two measured rows.
func countRatioLine(rows []countedRow) string {
	if len(rows) < 2 || len(rows[0].Counts) == 0 {
		return ""
	}
	a := rows[0]
	var parts []string
	for _, b := range rows[1:] {
		if len(b.Counts) == 0 {
			continue
		}
		var ratios []float64
		for i := range min(len(a.Counts), len(b.Counts)) {
			ratios = append(ratios, a.Counts[i]/b.Counts[i])
		}
		part := fmt.Sprintf("vs %s: instructions/req %.3fx (rounds %.3f-%.3f)", b.Name,
			a.Median/b.Median, slices.Min(ratios), slices.Max(ratios))
		if x, y := a.MissesMedian, b.MissesMedian; x != nil && y != nil {
			part += fmt.Sprintf(", L1 misses/req I %.2fx, D read %.2fx, D write %.2fx",
				x.Instr/y.Instr, x.DataRead/y.DataRead, x.DataWrite/y.DataWrite)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return a.Name + " " + strings.Join(parts, "; ")
}

// benchCallgrind is bench for -callgrind: muxgate, -muxgate-b if given, and the one-thread peers
// of -targets on this machine, counted in each scenario, against the upstream -upstream-server
// names.
func benchCallgrind(ctx context.Context, o *options, stdout, progress io.Writer) error {
	start := time.Now()
	bl, _ := blocks(o.scenarios, nil, o.requests)
	tools, err := findCallgrind()
	if err != nil {
		return err
	}
	tools.cacheSim = o.cacheSim
	if _, err := findTool("h2load"); err != nil {
		return fmt.Errorf("%w: install the Debian package nghttp2-client", err)
	}
	dir, cleanup, err := workDir("muxgate-callgrind-", o.keep, progress, "callgrind's dumps and muxgate's command lines")
	if err != nil {
		return err
	}
	defer cleanup()
	rep := &report{Date: formatDate(start), Host: hostInfo(), Tools: map[string]string{}, Rounds: o.rounds}
	targets, err := findTargets(o, dir, rep, progress)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return errors.New("-callgrind: none of -targets can run here")
	}
	up, err := setupUpstream(o, dir, nil, rep)
	if err != nil {
		return err
	}
	defer up.close()
	counts := countTargets(ctx, tools, targets, bl, o.rounds, up, dir, progress)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	fmt.Fprintf(stdout, "muxgate callgrind count  %s  (run took %v)\nmuxgate   %s\n", rep.Date, time.Since(start).Round(time.Second), rep.Muxgate)
	if rep.MuxgateB != "" {
		fmt.Fprintf(stdout, "muxgate-b %s\n", rep.MuxgateB)
	}
	for _, tool := range slices.Sorted(maps.Keys(rep.Tools)) {
		fmt.Fprintf(stdout, "%-9s %s\n", tool, rep.Tools[tool])
	}
	fmt.Fprintf(stdout, "upstream  %s; valgrind %s\n", o.server, toolVersion(tools.valgrind, "--version"))
	writeCounts(stdout, counts, o.rounds)
	if o.jsonPath != "" {
		return writeCountsJSON(o.jsonPath, rep, counts)
	}
	return nil
}

// writeCountsJSON writes the -callgrind results as JSON to path.
func writeCountsJSON(path string, rep *report, counts []countedBlock) error {
	b, err := json.MarshalIndent(struct {
		Date     string            `json:"date"`
		Host     host              `json:"host"`
		Muxgate  string            `json:"muxgate"`
		MuxgateB string            `json:"muxgate_b,omitempty"`
		Tools    map[string]string `json:"tools,omitempty"`
		Blocks   []countedBlock    `json:"callgrind"`
	}{rep.Date, rep.Host, rep.Muxgate, rep.MuxgateB, rep.Tools, counts}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
