//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTimeReadable says that cpuTime works here.
const cpuTimeReadable = true

// cpuTime is the CPU time the process has used, in user and system mode (getrusage(2)).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
