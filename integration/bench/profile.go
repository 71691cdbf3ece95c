//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// mergeProfiles merges the CPU profiles at paths into one, written to out, with go tool pprof
// (-proto), which adds up their samples. A path without a profile (a run whose muxgate did not
// exit cleanly) is left out; none at all fails.
func mergeProfiles(ctx context.Context, paths []string, out string) error {
	var whole []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			whole = append(whole, p)
		}
	}
	if len(whole) == 0 {
		return errors.New("-cpu-profile: no run of muxgate left a profile")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-proto"}, whole...)...)
	var stderr tailBuffer
	stderr.max = 4 << 10
	cmd.Stderr = &stderr
	merged, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("-cpu-profile: go tool pprof -proto: %w: %s", err, tail(stderr.String(), 600))
	}
	if err := os.WriteFile(out, merged, 0o644); err != nil {
		return fmt.Errorf("-cpu-profile: %w", err)
	}
	return nil
}
