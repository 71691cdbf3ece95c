//go:build linux

package main

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCPUProfileRun: -cpu-profile leaves, after a short run of two rounds, one CPU profile of
// muxgate's process that go tool pprof reads, with muxgate's request path in its samples.
func TestCPUProfileRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds muxgate and runs h2load against it")
	}
	_, err := findTool("h2load")
	dir := t.TempDir()
	bin := muxgateForTest(t, err, "h2load (Debian: nghttp2-client)", dir)
	out := filepath.Join(dir, "merged.pprof")
	o, err := parseFlags([]string{"-muxgate", bin, "-targets", "muxgate", "-scenarios", "small", "-n", "3000",
		"-rounds", "2", "-cpu-profile", out}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := bench(ctx, o, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-raw", out).CombinedOutput()
	if err != nil || !strings.Contains(string(raw), "PeriodType: cpu nanoseconds") || !strings.Contains(string(raw), "muxgate/h1.") {
		t.Errorf("go tool pprof -raw: %v; want a CPU profile with muxgate/h1 in its samples:\n%.800s", err, raw)
	}
}
