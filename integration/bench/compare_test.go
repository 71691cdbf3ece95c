//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMuxgateBFlag: -muxgate-b adds the muxgate-b row; the row asked for without a binary is
// an error.
func TestMuxgateBFlag(t *testing.T) {
	o, err := parseFlags([]string{"-muxgate-b", "/tmp/other-build", "-targets", "muxgate,nghttpx"}, io.Discard)
	if err != nil || o.muxgateB != "/tmp/other-build" || !slices.Equal(o.targets, []string{"muxgate", "nghttpx", "muxgate-b"}) {
		t.Fatalf("-muxgate-b: %v, binary %q, targets %v; want the muxgate-b row added", err, o.muxgateB, o.targets)
	}
	if o, err = parseFlags(nil, io.Discard); err != nil || slices.Contains(o.targets, "muxgate-b") {
		t.Fatalf("default: %v, targets %v; want no muxgate-b row", err, o.targets)
	}
	if _, err := parseFlags([]string{"-targets", "muxgate,muxgate-b"}, io.Discard); err == nil {
		t.Error("-targets muxgate-b without -muxgate-b accepted")
	}
}

// TestMuxgateBFlags: -muxgate-b-flags alone adds the muxgate-b row, which runs the muxgate row's
// binary with those flags after the benchmark's own; with -muxgate-b, that binary.
func TestMuxgateBFlags(t *testing.T) {
	dir := t.TempDir()
	prebuilt := filepath.Join(dir, "muxgate")
	other := filepath.Join(dir, "other")
	for _, f := range []string{prebuilt, other} {
		if err := os.WriteFile(f, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args     []string
		bin      string
		muxDesc  string
		bDesc    string
		wantRows []string
	}{
		{args: []string{"-muxgate", prebuilt, "-muxgate-b-flags", " -min-sessions  2 ", "-targets", "muxgate,nghttpx"},
			bin: prebuilt, muxDesc: "prebuilt " + prebuilt, bDesc: "prebuilt " + prebuilt + " with -min-sessions 2",
			wantRows: []string{"muxgate", "muxgate-b"}},
		{args: []string{"-muxgate", prebuilt, "-muxgate-b", other, "-muxgate-b-flags", "-procs-wait 0", "-targets", "muxgate"},
			bin: other, muxDesc: "prebuilt " + prebuilt, bDesc: "prebuilt " + other + " with -procs-wait 0",
			wantRows: []string{"muxgate", "muxgate-b"}},
		{args: []string{"-muxgate", prebuilt, "-muxgate-b-flags", "-min-sessions 2", "-targets", "muxgate-b"},
			bin: prebuilt, muxDesc: "not run (-targets)", bDesc: "prebuilt " + prebuilt + " with -min-sessions 2",
			wantRows: []string{"muxgate-b"}},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		rep := &report{Tools: map[string]string{}}
		got, err := findTargets(o, dir, rep, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var rows []string
		var b *target
		for i, tg := range got {
			if tg.peer != nil && tg.peer.tool == "muxgate" {
				rows = append(rows, tg.name)
			}
			if tg.name == "muxgate-b" {
				b = &got[i]
			}
		}
		if !slices.Equal(rows, tc.wantRows) || b == nil {
			t.Fatalf("%v: muxgate rows %v, want %v", tc.args, rows, tc.wantRows)
		}
		if b.bin != tc.bin || !slices.Equal(b.extra, o.muxgateBArgs) || rep.Muxgate != tc.muxDesc || rep.MuxgateB != tc.bDesc {
			t.Errorf("%v: muxgate-b runs %q with %q; reported %q and %q; want %q with %q, %q and %q",
				tc.args, b.bin, b.extra, rep.Muxgate, rep.MuxgateB, tc.bin, o.muxgateBArgs, tc.muxDesc, tc.bDesc)
		}
		for _, tg := range got {
			if tg.name != "muxgate-b" && len(tg.extra) > 0 {
				t.Errorf("%v: row %s got the flags %q", tc.args, tg.name, tg.extra)
			}
		}
	}
	if o, err := parseFlags([]string{"-muxgate-b-flags", "-min-sessions 2"}, io.Discard); err != nil || !slices.Equal(o.muxgateBArgs, []string{"-min-sessions", "2"}) {
		t.Errorf("-muxgate-b-flags: %v, %q; want the flags split on spaces", err, o.muxgateBArgs)
	}
}

// TestMuxgateCommandExtra: the flags of -muxgate-b-flags come last on muxgate's command line, so
// that they override the benchmark's own, and are in the command line it writes down.
func TestMuxgateCommandExtra(t *testing.T) {
	f := front{dir: t.TempDir(), port: 8443, upstream: "127.0.0.1:9", maxConns: 64, goThreads: 1,
		extra: []string{"-idle-timeout", "5s", "-min-sessions", "2"}}
	cmd, err := muxgateCommand("/bin/muxgate", f)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cmd.Args); n < 5 || !slices.Equal(cmd.Args[n-4:], f.extra) {
		t.Errorf("command %q, want it to end with %q", cmd.Args, f.extra)
	}
	line, err := os.ReadFile(filepath.Join(f.dir, "muxgate.cmdline"))
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(line)), "-idle-timeout 5s -min-sessions 2") {
		t.Errorf("command line written %q (%v), want it to end with the extra flags", line, err)
	}
}

// TestMuxgateBRatios: the muxgate-b row gets muxgate's ratios, with their spread over the
// rounds, and its own processor counts.
func TestMuxgateBRatios(t *testing.T) {
	b := blockReport{Name: "pipelined", Rows: []rowReport{
		summarize("muxgate", []runResult{
			{Round: 1, ReqPerSec: 900, CPUPerReqUs: 16, Processors: "1"},
			{Round: 2, ReqPerSec: 1100, CPUPerReqUs: 18, Processors: "1"},
		}),
		summarize("muxgate-b", []runResult{
			{Round: 1, ReqPerSec: 1000, CPUPerReqUs: 20, Processors: "1 2"},
			{Round: 2, ReqPerSec: 1000, CPUPerReqUs: 20, Processors: "1"},
		}),
	}}
	b.Ratios = muxgateRatios(b.Rows)
	if got := b.Ratios["muxgate-b"].CPUPerReq; got != 0.85 {
		t.Errorf("CPU/req ratio to muxgate-b %v, want 0.85", got)
	}
	var out bytes.Buffer
	writeBlock(&out, b)
	for _, want := range []string{
		"vs muxgate-b: req/s 1.00x (rounds 0.90-1.10; above 1 in 1 of 2, sign test p 1), CPU/req 0.85x (rounds 0.80-0.90; above 1 in 0 of 2, sign test p 0.5)",
		"muxgate-b processors per round: 1 2 | 1",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
