package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// writePIDFile writes this process's ID to path (-pid-file), for `kill -USR2 $(cat path)`: a
// reader finds the old content or the new, never part of one (a file in the same directory,
// renamed over it).
func writePIDFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".muxgate-pid-*")
	if err != nil {
		return fmt.Errorf("-pid-file %s: %w", path, err)
	}
	_, err = fmt.Fprintf(tmp, "%d\n", os.Getpid())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("-pid-file %s: %w", path, err)
	}
	return nil
}

// removePIDFile removes path if it holds this process's ID; after an upgrade it holds the new
// process's, and stays.
func removePIDFile(path string) {
	b, err := os.ReadFile(path)
	if err == nil && string(bytes.TrimSpace(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}
