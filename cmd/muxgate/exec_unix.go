//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// execAgain executes the program again, with its arguments and its environment as they are now.
// It returns only with the reason it could not.
func execAgain() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the program to execute again: %w", err)
	}
	return fmt.Errorf("executing again: %w", syscall.Exec(exe, os.Args, os.Environ()))
}
