//go:build !unix

package main

// fileLimit is 0 where the limit on open files cannot be read.
func fileLimit() uint64 { return 0 }
