package gateway

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// writeProcess writes the process's CPU time, resident memory and open files, under the names
// Prometheus's own clients give them.
func writeProcess(e *expo) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		e.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.")
		e.sample("process_cpu_seconds_total", cpu.Seconds())
	}
	// statm: size resident shared ..., in pages (proc(5)).
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := bytes.Fields(b); len(f) > 1 {
			if pages, err := strconv.ParseUint(string(f[1]), 10, 64); err == nil {
				e.family("process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.")
				e.sample("process_resident_memory_bytes", float64(pages*uint64(os.Getpagesize())))
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		e.family("process_open_fds", "gauge", "Open file descriptors, client and upstream sockets included.")
		e.sample("process_open_fds", float64(len(fds)))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		e.family("process_max_fds", "gauge", "The limit on open file descriptors.")
		e.sample("process_max_fds", float64(lim.Cur))
	}
}
