//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestCPUProfileAfterUpgrade: the process an upgrade started writes its CPU profile to path.PID,
// leaving path to the old process, which is still writing it.
func TestCPUProfileAfterUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	t.Setenv(upgradeEnv, "")
	stop, err := startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "." + strconv.Itoa(os.Getpid())); err != nil {
		t.Errorf("no profile at path.PID: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("the new process wrote to %s, the old one's", path)
	}
}
