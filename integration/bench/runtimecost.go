//go:build linux

package main

import (
	"strconv"
	"strings"
)

// runtimeCost returns the instructions that a callgrind dump counts in the code of Go's
// runtime: the self cost of the functions named runtime.* or internal/runtime/*, in a Go
// program's dump (0 in any other's). It follows the format's name compression ("fn=(12) name"
// names function 12, which later lines give as "fn=(12)"; a cfn= line names one too) and leaves
// out the cost line after each calls= line: that is the call's inclusive cost, which the
// callee's own lines count already.
func runtimeCost(text string) uint64 {
	names := map[string]string{}
	var n uint64
	inRuntime, afterCall := false, false
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "fn="):
			name := compressedName(names, line[len("fn="):])
			inRuntime = strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/")
		case strings.HasPrefix(line, "cfn="):
			compressedName(names, line[len("cfn="):])
		case strings.HasPrefix(line, "calls="):
			afterCall = true
		case line != "" && strings.ContainsRune("0123456789+-*", rune(line[0])):
			if !afterCall && inRuntime {
				n += costOf(line)
			}
			afterCall = false
		}
	}
	return n
}

// compressedName reads a name as a fn= or cfn= line gives it: "(id) name" names id, "(id)"
// stands for the name given before (empty if none was), and anything else is the name itself.
func compressedName(names map[string]string, s string) string {
	if !strings.HasPrefix(s, "(") {
		return s
	}
	id, name, ok := strings.Cut(s, ")")
	if !ok {
		return s
	}
	if name = strings.TrimSpace(name); name == "" {
		return names[id]
	}
	names[id] = name
	return name
}

// costOf returns the first event count of a cost line, "position count...": Ir, the dumps'
// first event (with -cache-sim the cache events follow it); a line with no count costs nothing.
func costOf(line string) uint64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
