//go:build linux

package main

import (
	"encoding/json"
	"strconv"
	"strings"
)

// processorsUsed reads, from a muxgate's debug log, how many processors its governor had it use
// (-procs-wait): the count after each change, in order, space-separated ("1" for a run that
// stayed on the one it starts on). Empty if the log names none.
func processorsUsed(log string) string {
	var counts []string
	// Not a bufio.Scanner, which stops at the first line past 64 KiB (a long error, say) and
	// would drop the counts after it.
	for line := range strings.Lines(log) {
		var l struct {
			Message string `json:"message"`
			To      int    `json:"to"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "processors" {
			counts = append(counts, strconv.Itoa(l.To))
		}
	}
	return strings.Join(counts, " ")
}
