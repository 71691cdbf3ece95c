package main

import (
	"bytes"
	"io"
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
