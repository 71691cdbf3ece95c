//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// findTool looks for an executable on PATH, then in the sbin directories Debian installs
// daemons into (not on a normal user's PATH).
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// toolVersion runs bin with args and returns the first line of its output, shortened.
func toolVersion(bin string, args ...string) string {
	out, err := command(5*time.Second, "", bin, args...)
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if err != nil && line == "" {
		return "unknown (" + err.Error() + ")"
	}
	// "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
	line, _, _ = strings.Cut(line, " - ")
	return strings.TrimSpace(line)
}

// command runs a short command in dir and returns its combined output.
func command(timeout time.Duration, dir, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// moduleRoot is the directory of the go.mod of the module the bench belongs to.
func moduleRoot() (string, error) {
	out, err := command(30*time.Second, "", "go", "env", "GOMOD")
	gomod := strings.TrimSpace(out)
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("muxgate: no module here (go env GOMOD: %q, %v); run from the muxgate tree or give -muxgate", gomod, err)
	}
	return filepath.Dir(gomod), nil
}

// buildMuxgate compiles ./cmd/muxgate into dir. VCS stamping is off: the revision is read
// separately and a tree without commits must still build.
func buildMuxgate(root, dir string) (string, error) {
	bin := filepath.Join(dir, "muxgate")
	out, err := command(5*time.Minute, root, "go", "build", "-buildvcs=false", "-o", bin, "./cmd/muxgate")
	if err != nil {
		return "", fmt.Errorf("muxgate: go build ./cmd/muxgate: %w\n%s", err, strings.TrimSpace(out))
	}
	return bin, nil
}

// revision describes the checked-out commit of root, read-only: the short hash, "+dirty" when
// tracked files differ from it.
func revision(root string) string {
	out, err := command(10*time.Second, root, "git", "rev-parse", "--short", "HEAD")
	if err != nil {
		return "no commit"
	}
	rev := strings.TrimSpace(out)
	status, err := command(10*time.Second, root, "git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
	if err == nil && strings.TrimSpace(status) != "" {
		rev += "+dirty"
	}
	return rev
}

// hostInfo describes the machine for the report header.
func hostInfo() host {
	h := host{Nproc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		h.CPU = cpuModel(string(b))
	}
	return h
}

// cpuModel returns the first "model name" in the text of /proc/cpuinfo, its runs of whitespace
// made single spaces; "" if there is none.
func cpuModel(text string) string {
	// Not a bufio.Scanner, which stops without a word at a line past 64 KiB.
	for line := range strings.Lines(text) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}
