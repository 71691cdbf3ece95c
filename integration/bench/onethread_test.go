//go:build linux

package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOneThreadRows: -targets takes nghttpx-1 and haproxy-1, which are not in the default run,
// and their configs run the peer on one worker thread where the peers' rows run it on the shared
// number, threads.
func TestOneThreadRows(t *testing.T) {
	o, err := parseFlags([]string{"-targets", "muxgate,nghttpx,nghttpx-1,haproxy-1"}, io.Discard)
	if err != nil || !slices.Equal(o.targets, []string{"muxgate", "nghttpx", "nghttpx-1", "haproxy-1"}) {
		t.Fatalf("-targets: %v, %q", err, o.targets)
	}
	for _, row := range []string{"nghttpx-1", "haproxy-1"} {
		if slices.Contains(defaultTargets, row) {
			t.Errorf("%s in the default run", row)
		}
		if !slices.Contains(ratioPeers, row) {
			t.Errorf("no ratios of muxgate to %s", row)
		}
	}
	tests := []struct {
		row, file, want string
	}{
		{"nghttpx", "nghttpx.conf", "workers=2\n"},
		{"nghttpx-1", "nghttpx.conf", "workers=1\n"},
		{"haproxy", "haproxy.cfg", "nbthread 2\n"},
		{"haproxy-1", "haproxy.cfg", "nbthread 1\n"},
	}
	for _, tt := range tests {
		if conf := peerConfig(t, tt.row, tt.file, false); !strings.Contains(conf, tt.want) {
			t.Errorf("%s: config %q, want it to hold %q", tt.row, conf, tt.want)
		}
	}
}

// TestOneProcess: under -callgrind nghttpx runs its worker in the process callgrind counts
// (single-process=yes); timed, it runs as it always does, with a worker process of its own.
func TestOneProcess(t *testing.T) {
	const want = "single-process=yes\n"
	if conf := peerConfig(t, "nghttpx-1", "nghttpx.conf", true); !strings.Contains(conf, want) {
		t.Errorf("one process: config %q, want it to hold %q", conf, want)
	}
	if conf := peerConfig(t, "nghttpx-1", "nghttpx.conf", false); strings.Contains(conf, want) {
		t.Errorf("timed: config %q holds %q", conf, want)
	}
}

// peerConfig writes the config of the peer of row into a temp dir, as the bench starts it, and
// returns the text of its file.
func peerConfig(t *testing.T, row, file string, oneProcess bool) string {
	t.Helper()
	p := peerNamed(row)
	f := front{dir: t.TempDir(), port: 8080, upstream: "127.0.0.1:9", maxConns: 64, threads: p.workers(), oneProcess: oneProcess}
	if _, err := p.command("/bin/"+p.tool, f); err != nil {
		t.Fatalf("%s: %v", row, err)
	}
	conf, err := os.ReadFile(filepath.Join(f.dir, file))
	if err != nil {
		t.Fatalf("%s: %v", row, err)
	}
	return string(conf)
}
