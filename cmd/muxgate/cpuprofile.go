package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
)

// startCPUProfile starts writing the process's CPU profile to path (-cpu-profile), and returns
// the function that ends it and closes the file, to be called at exit: the profile is written
// whole only then. A process that an upgrade started writes to path.PID, its process ID, as the
// old process is still writing to path. With path empty it does nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	if startedByUpgrade() {
		path += "." + strconv.Itoa(os.Getpid())
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return errors.Join(f.Sync(), f.Close())
	}, nil
}
