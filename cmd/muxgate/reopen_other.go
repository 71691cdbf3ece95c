//go:build !unix

package main

import "github.com/rs/zerolog"

// reopenOnUSR1 does nothing where there is no SIGUSR1.
func reopenOnUSR1(*logFile, zerolog.Logger) {}
