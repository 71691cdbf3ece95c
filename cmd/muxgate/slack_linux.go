//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// A thread's timer slack (prctl(2), PR_SET_TIMERSLACK) is how late the kernel may end its timed
// sleeps, to serve several with one wake-up. It matters here for one thread: the Go runtime's
// monitor (sysmon) sleeps 20 us at a time while the process is busy, and starts over at 20 us
// each time the process leaves an idle moment with a system call, which a gateway on one
// processor does hundreds of times a second. Under load it then woke about 3,300 times a second,
// each wake-up two context switches. With 1 ms of slack it woke about 1,250 times a second.
//
// The monitor is started before any Go code runs, with the slack of the process's first thread,
// and a thread cannot set another's. But a new thread takes its creator's slack, and execve(2)
// keeps it: so muxgate sets its own and executes itself again, once.

// Linux's prctl(2) options.
const (
	prSetTimerSlack = 29
	prGetTimerSlack = 30
)

// reexecEnv marks the second execution, so that a kernel which did not keep the slack cannot make
// muxgate execute itself for ever.
const reexecEnv = "MUXGATE_TIMER_SLACK_SET"

// applyTimerSlack gives every thread of the process a timer slack of d, executing the program
// again if it must; 0 keeps the slack the process was started with. It returns only if nothing
// was to be done, or with the reason it could not be done (the process then goes on as it is).
func applyTimerSlack(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	// The slack is the calling thread's, and execve's thread is the one that passes it on.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prGetTimerSlack, 0, 0)
	if errno != 0 {
		return fmt.Errorf("reading the timer slack: %w", errno)
	}
	again := os.Getenv(reexecEnv) != ""
	os.Unsetenv(reexecEnv)
	switch {
	case time.Duration(cur) == d:
		return nil
	case again:
		return fmt.Errorf("the timer slack is %v after executing again, not %v", time.Duration(cur), d)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, uintptr(d), 0); errno != 0 {
		return fmt.Errorf("setting the timer slack: %w", errno)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the program to execute again with the timer slack: %w", err)
	}
	err = syscall.Exec(exe, os.Args, append(os.Environ(), reexecEnv+"=1"))
	return fmt.Errorf("executing again with the timer slack: %w", err)
}
