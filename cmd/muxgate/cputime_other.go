//go:build !unix

package main

import "time"

// cpuTimeReadable says that cpuTime does not work here: the governor leaves GOMAXPROCS alone.
const cpuTimeReadable = false

func cpuTime() time.Duration { return 0 }
