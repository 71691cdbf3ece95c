package main

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
)

// processorsUsed reads, from a muxgate's debug log, how many processors its governor had it use
// (-procs-wait): the count after each change, in order, space-separated ("1" for a run that
// stayed on the one it starts on). Empty if the log names none.
func processorsUsed(log string) string {
	var counts []string
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var l struct {
			Message string `json:"message"`
			To      int    `json:"to"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "processors" {
			counts = append(counts, strconv.Itoa(l.To))
		}
	}
	return strings.Join(counts, " ")
}
