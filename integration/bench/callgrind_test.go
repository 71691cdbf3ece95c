//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/bits"
	"os"
	"slices"
	"strings"
	"testing"
)

// dumpText is the shape of a callgrind dump: a header with the event and its summary, the
// profile, and the totals line callgrind writes last.
const dumpText = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 27289
cmd:  /tmp/muxgate -upstream h2c://127.0.0.1:19000 -listen 127.0.0.1:19076
part: 1

desc: I1 cache: 
desc: Trigger: dump pipe

positions: line
events: Ir
summary: 667207754


ob=(1) /tmp/muxgate
fl=(1) /usr/local/go/src/runtime/proc.go
fn=(1) runtime.main
+1 120000

totals: 667207783
`

// cacheDumpText is dumpText as callgrind writes it with --cache-sim=yes: nine events, and a
// cost line that leaves out its trailing zero counts.
var cacheDumpText = strings.NewReplacer(
	"events: Ir", "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw",
	"summary: 667207754", "summary: 667207754 137671524 106049294 31673315 3352821 3453513 225 6764 129342",
	"+1 120000", "+1 120000 300 0 2",
).Replace(dumpText)

func TestParseCallgrindDump(t *testing.T) {
	n, err := parseCallgrindDump(dumpText)
	if err != nil || n != (dumpCounts{ir: 667207754}) {
		t.Fatalf("got %+v, %v; want 667207754 instructions and no cache counts", n, err)
	}
	n, err = parseCallgrindDump(cacheDumpText)
	if want := (dumpCounts{ir: 667207754, i1mr: 31673315, d1mr: 3352821, d1mw: 3453513, cache: true}); err != nil || n != want {
		t.Fatalf("with the cache simulation: got %+v, %v; want %+v", n, err, want)
	}
	if n := runtimeCost(cacheDumpText); n != 120000 {
		t.Errorf("runtime cost with the cache simulation: %d, want the Ir column's 120000", n)
	}
	partial, _, _ := strings.Cut(dumpText, "totals:")
	if _, err := parseCallgrindDump(partial); !errors.Is(err, errPartialDump) {
		t.Errorf("dump without totals: %v, want errPartialDump", err)
	}
	for _, bad := range []string{
		strings.Replace(dumpText, "events: Ir", "events: Ir Dr", 1),
		strings.Replace(dumpText, "events: Ir", "events: Dr", 1),
		strings.Replace(cacheDumpText, " 129342", "", 1),
		strings.Replace(dumpText, "summary: 667207754", "summary: many", 1),
		strings.Replace(dumpText, "summary: 667207754\n", "", 1),
	} {
		if _, err := parseCallgrindDump(bad); err == nil || errors.Is(err, errPartialDump) {
			t.Errorf("accepted or called partial: %v\n%s", err, bad)
		}
	}
}

// TestRuntimeCost: the self cost of runtime functions, their names given once and then by
// number (in fn= and cfn= lines), without the inclusive cost of their calls.
func TestRuntimeCost(t *testing.T) {
	const dump = `events: Ir
fl=(1) /usr/local/go/src/runtime/proc.go
fn=(1) runtime.schedule
10 100
+2 20
cfn=(2) muxgate/h1.(*conn).serve
calls=1 5
+1 5000
fn=(3) main.main
3 7
cfn=(4) runtime.mallocgc
calls=2 9
* 900
fn=(4)
9 300
fn=(1)
-4 1
fn=(5) internal/runtime/atomic.Load
1 4
fn=(2)
7 50000
totals: 56332
`
	if got, want := runtimeCost(dump), uint64(100+20+300+1+4); got != want {
		t.Errorf("got %d, want %d", got, want)
	}
	if got := runtimeCost(strings.ReplaceAll(dump, "runtime", "nghttpx")); got != 0 {
		t.Errorf("a dump without Go's runtime: got %d, want 0", got)
	}
}

// FuzzRuntimeCost: any text gives a count, never more than the sum of all its cost lines.
//
// Run with: go test ./integration/bench -run XXX -fuzz '^FuzzRuntimeCost$' -fuzztime 30s
func FuzzRuntimeCost(f *testing.F) {
	f.Add(dumpText)
	f.Add("fn=(1) runtime.x\n1 5\ncalls=1 1\n2 9\nfn=(1)\n+1 3\n")
	f.Add("cfn=(7) runtime.y\nfn=(7\nfn=(7)\n* 18446744073709551615\n")
	f.Fuzz(func(t *testing.T, text string) {
		var all, carry uint64
		for line := range strings.Lines(text) {
			if line != "" && strings.ContainsRune("0123456789+-*", rune(line[0])) {
				var c uint64
				all, c = bits.Add64(all, costOf(strings.TrimRight(line, "\n")), 0)
				carry |= c
			}
		}
		if n := runtimeCost(text); carry == 0 && n > all {
			t.Errorf("runtime cost %d above all the dump's %d: %q", n, all, text)
		}
	})
}

// FuzzParseCallgrindDump: any text gives a count or an error, and a count only from a dump that
// has its totals line and counts Ir; cache counts only from one that counts all three misses.
//
// Run with: go test ./integration/bench -run XXX -fuzz '^FuzzParseCallgrindDump$' -fuzztime 30s
func FuzzParseCallgrindDump(f *testing.F) {
	f.Add(dumpText)
	f.Add("events: Ir\nsummary: 1\ntotals: 1\n")
	f.Add("events:Ir\nsummary:18446744073709551615\ntotals:\n")
	f.Add("summary: 12\ntotals: 12")
	f.Add(cacheDumpText)
	f.Fuzz(func(t *testing.T, text string) {
		n, err := parseCallgrindDump(text)
		if err != nil {
			return
		}
		if !strings.Contains(text, "totals:") || !strings.Contains(text, "events:") || !strings.Contains(text, "Ir") {
			t.Errorf("count %+v from a dump without totals, events or Ir: %q", n, text)
		}
		if n.cache && !(strings.Contains(text, "I1mr") && strings.Contains(text, "D1mr") && strings.Contains(text, "D1mw")) {
			t.Errorf("cache counts %+v from a dump without all three events: %q", n, text)
		}
	})
}

func TestCallgrindFlag(t *testing.T) {
	o, err := parseFlags([]string{"-callgrind"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.scenarios, callgrindScenarios) || o.requests != callgrindRequests || !slices.Equal(o.targets, callgrindTargets) {
		t.Errorf("defaults: scenarios %q, -n %d, targets %q; want %q, %d, %q", o.scenarios, o.requests, o.targets, callgrindScenarios, callgrindRequests, callgrindTargets)
	}
	if o, err = parseFlags([]string{"-callgrind", "-muxgate-b-flags", "-min-sessions 2", "-targets", "muxgate,haproxy-1"}, io.Discard); err != nil || !slices.Equal(o.targets, []string{"muxgate", "haproxy-1", "muxgate-b"}) {
		t.Errorf("-targets muxgate,haproxy-1 with -muxgate-b-flags: %v, %q", err, o.targets)
	}
	for _, row := range []string{"nghttpx", "haproxy", "direct", "muxgate-h3"} {
		if _, err := parseFlags([]string{"-callgrind", "-targets", "muxgate," + row}, io.Discard); err == nil {
			t.Errorf("-targets muxgate,%s accepted", row)
		}
	}
	if o, err = parseFlags([]string{"-callgrind", "-scenarios", "large", "-n", "500"}, io.Discard); err != nil || !slices.Equal(o.scenarios, []string{"large"}) || o.requests != 500 {
		t.Errorf("-scenarios large -n 500: %v, %q, %d", err, o.scenarios, o.requests)
	}
	for _, sc := range []string{"idle", "small,tls-upstream"} {
		if _, err := parseFlags([]string{"-callgrind", "-scenarios", sc}, io.Discard); err == nil {
			t.Errorf("-scenarios %s accepted", sc)
		}
	}
	if _, err := parseFlags([]string{"-callgrind", "-cpu-profile", "cpu.pprof"}, io.Discard); err == nil {
		t.Error("-cpu-profile accepted with -callgrind")
	}
	if o, err := parseFlags([]string{"-callgrind", "-cache-sim"}, io.Discard); err != nil || !o.cacheSim {
		t.Errorf("-callgrind -cache-sim: %v, cacheSim %v", err, o.cacheSim)
	}
	if _, err := parseFlags([]string{"-cache-sim"}, io.Discard); err == nil {
		t.Error("-cache-sim accepted without -callgrind")
	}
}

func TestWriteCounts(t *testing.T) {
	blocks := []countedBlock{{Name: "small", Desc: "h2load --h1 -c 16 http://.../bytes/100, 20000 requests a run", Rows: []countedRow{
		{Name: "muxgate", Counts: []float64{32400, 32712, 32614}, Median: 32614, Runtime: []float64{9700}, RuntimeMedian: 9700},
		{Name: "muxgate-b", Counts: []float64{33363, 33482, 33436}, Median: 33436},
		{Name: "nghttpx-1", Counts: []float64{24000, 24100}, Median: 24050},
		{Name: "haproxy-1", Error: "haproxy-1 (callgrind): exited"},
	}}, {Name: "large", Rows: []countedRow{{Name: "muxgate", Error: "h2load: 3 of 12 requests done"}, {Name: "muxgate-b"}}}}
	var b bytes.Buffer
	writeCounts(&b, blocks, 3)
	reportHas(t, b.String(),
		"32614                    32400-32712  9700 (30%)\n",
		"24050                    24000-24100  -\n",
		"muxgate vs muxgate-b: instructions/req 0.975x (rounds 0.971-0.977); vs nghttpx-1: instructions/req 1.356x (rounds 1.350-1.357)\n",
		"failed  h2load: 3 of 12 requests done",
		"medians of 3 rounds",
	)
	if strings.Count(b.String(), "muxgate vs ") != 1 || strings.Contains(b.String(), "vs haproxy-1") {
		t.Errorf("a ratio line for a block without two measured rows, or a ratio to a failed row:\n%s", b.String())
	}
}

// reportHas fails t for each of wants that report lacks.
func reportHas(t *testing.T, report string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestWriteCountsMisses: with -cache-sim's counts, each row gets its median misses, the ratio
// line their ratios, and the report says what they are; without, none of it.
func TestWriteCountsMisses(t *testing.T) {
	mux := countedRow{Name: "muxgate", Counts: []float64{27931}, Median: 27931,
		Misses: []l1Misses{{1500, 170, 160}, {1584, 168, 173}, {1600, 160, 180}}}
	mux.MissesMedian = medianMisses(mux.Misses)
	peer := countedRow{Name: "nghttpx-1", Counts: []float64{23377}, Median: 23377, MissesMedian: &l1Misses{600, 136, 52}}
	var b bytes.Buffer
	writeCounts(&b, []countedBlock{{Name: "small", Rows: []countedRow{mux, peer}}}, 1)
	reportHas(t, b.String(),
		"L1 misses/req: I, D read, D write",
		"1584, 168, 173\n",
		"600, 136, 52\n",
		"L1 misses/req I 2.64x, D read 1.24x, D write 3.33x",
		"--cache-sim=yes",
	)
	b.Reset()
	mux.MissesMedian, peer.MissesMedian = nil, nil
	writeCounts(&b, []countedBlock{{Name: "small", Rows: []countedRow{mux, peer}}}, 1)
	if strings.Contains(b.String(), "misses") {
		t.Errorf("misses reported without -cache-sim's counts:\n%s", b.String())
	}
}

// TestCallgrindCounts counts one small run of a freshly built muxgate under callgrind: a count
// per request of the size a proxied request takes, not the run's total nor nothing.
func TestCallgrindCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds muxgate and runs it under valgrind")
	}
	tools, err := findCallgrind()
	if err == nil {
		_, err = findTool("h2load")
	}
	dir := t.TempDir()
	bin := muxgateForTest(t, err, "valgrind and h2load", dir)
	up, err := startUpstream(dir, false, "")
	if err != nil {
		t.Fatal(err)
	}
	defer up.close()
	bl, err := blocks([]string{"small"}, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n, err := countOnce(context.Background(), tools, target{name: "muxgate", peer: peerNamed("muxgate"), bin: bin}, bl[0], up, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("muxgate: %.0f instructions per request, %.0f in Go's runtime", n.total, n.runtime)
	if n.total < 5_000 || n.total > 500_000 {
		t.Errorf("%.0f instructions per request, want between 5,000 and 500,000", n.total)
	}
	if n.runtime <= 0 || n.runtime >= n.total {
		t.Errorf("%.0f of %.0f instructions per request in Go's runtime, want some, not all", n.runtime, n.total)
	}
	// A peer counts the same way: HAProxy on one thread (CI installs it; nghttpx it need not).
	haproxy, err := findTool("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("haproxy: required with CI=true: %v", err)
		}
		t.Skipf("skipping the peer's count: %v; with CI=true this is a failure", err)
	}
	n, err = countOnce(context.Background(), tools, target{name: "haproxy-1", peer: peerNamed("haproxy-1"), bin: haproxy}, bl[0], up, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("haproxy-1: %.0f instructions per request", n.total)
	if n.total < 1_000 || n.total > 500_000 || n.runtime != 0 || n.misses != nil {
		t.Errorf("haproxy-1: %.0f instructions per request, %.0f in Go's runtime, misses %v; want between 1,000 and 500,000, none, none",
			n.total, n.runtime, n.misses)
	}
	// With the cache simulation (-cache-sim), the misses of each kind: some, fewer than the
	// instructions.
	tools.cacheSim = true
	if n, err = countOnce(context.Background(), tools, target{name: "haproxy-1", peer: peerNamed("haproxy-1"), bin: haproxy}, bl[0], up, dir); err != nil {
		t.Fatal(err)
	}
	m := n.misses
	if m == nil {
		t.Fatal("haproxy-1 under -cache-sim: no misses counted")
	}
	t.Logf("haproxy-1 under -cache-sim: %.0f instructions, L1 misses %+v per request", n.total, *m)
	for kind, v := range map[string]float64{"instruction fetch": m.Instr, "data read": m.DataRead, "data write": m.DataWrite} {
		if v <= 0 || v >= n.total {
			t.Errorf("%.0f %s misses per request, want some, fewer than the %.0f instructions", v, kind, n.total)
		}
	}
}

// muxgateForTest builds muxgate into dir, once missing, the error of looking for the tools the
// test needs (named by tools), is nil; with it, the test fails under CI=true and is skipped
// elsewhere.
func muxgateForTest(t *testing.T, missing error, tools, dir string) string {
	t.Helper()
	if missing != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: required with CI=true: %v", tools, missing)
		}
		t.Skipf("skipping: %v; with CI=true this is a failure", missing)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := buildMuxgate(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCountedDesc: the load line of a -callgrind block names what h2load was given.
func TestCountedDesc(t *testing.T) {
	for name, want := range map[string]string{
		"small":     "h2load --h1 -c 16 http://.../bytes/100, 10 requests a run",
		"pipelined": "h2load --h1 -c 16 -m 8 http://.../bytes/100, 10 requests a run",
		"close":     "h2load --h1 -c 16 -H 'Connection: close' http://.../bytes/100, 10 requests a run",
	} {
		bl, err := blocks([]string{name}, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := countedDesc(bl[0]); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
