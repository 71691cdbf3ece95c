//go:build unix

package main

import "syscall"

// fileLimit is the process's limit on open file descriptors (RLIMIT_NOFILE's soft limit, which
// the Go runtime raises to the hard one at start), or 0 where it cannot be read.
func fileLimit() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 0
	}
	return uint64(r.Cur) // int64 on FreeBSD, where RLIM_INFINITY is its largest value
}
