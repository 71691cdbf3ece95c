//go:build !linux

package main

import "time"

// applyTimerSlack does nothing where prctl(2) is not: -timer-slack is Linux's.
func applyTimerSlack(time.Duration) error { return nil }
