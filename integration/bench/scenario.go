//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
)

// clients is h2load's connection count in every load scenario (-c), on one thread (-t 1).
const clients = 64

// scenario is one kind of load. Each becomes a block of the report; idle becomes one block per
// connection count.
type scenario struct {
	name     string
	desc     string
	path     string // request path on the demo upstream
	pipeline int    // requests in flight per connection (h2load -m); 0: no pipelining
	tls      bool   // TLS on the front
	close    bool   // each request on a connection of its own (Connection: close; h2load connects again)
	h2       bool   // the clients speak HTTP/2 (over TLS, ALPN h2), pipeline being their streams per connection
	tlsUp    bool   // h2 over TLS to the upstream instead of h2c; the direct row is left out
	optional bool   // not in the default -scenarios
	requests int    // default requests per run: a few seconds for the fastest target here
	idle     bool   // idle keep-alive connections instead of h2load
	goals    []goal // muxgate's requests/s goals (README, Benchmark)
}

var scenarios = []scenario{
	{name: "small", desc: "64 keep-alive clients, 100-byte body, no pipelining",
		path: "/bytes/100", requests: 50_000, goals: []goal{{"nghttpx", 1}, {"haproxy", 1}}},
	{name: "pipelined", desc: "64 keep-alive clients, 100-byte body, pipelining depth 8",
		path: "/bytes/100", pipeline: 8, requests: 100_000, goals: []goal{{"nghttpx", 1.5}}},
	{name: "large", desc: "64 keep-alive clients, 64 KiB body, no pipelining",
		path: "/bytes/65536", requests: 12_000, goals: []goal{{"nghttpx", 1}}},
	{name: "tls", desc: "64 keep-alive clients over TLS to the front, 100-byte body, no pipelining",
		path: "/bytes/100", tls: true, requests: 40_000},
	{name: "close", desc: "64 clients, one request a connection (Connection: close), 100-byte body",
		path: "/bytes/100", close: true, requests: 20_000},
	{name: "idle", desc: "idle keep-alive connections, one request each, held open",
		path: "/bytes/100", idle: true},
	{name: "tls-upstream", desc: "as small, but h2 over TLS to the upstream (certificate not verified)",
		path: "/bytes/100", tlsUp: true, requests: 50_000, optional: true},
	{name: "h2-front", desc: "64 clients speaking HTTP/2 over TLS to the front (muxgate -tls-h2), 10 streams each, 100-byte body",
		path: "/bytes/100", tls: true, h2: true, pipeline: 10, requests: 100_000, optional: true},
}

// scenarioNames lists the scenarios of a default run.
func scenarioNames() string {
	var names []string
	for _, s := range scenarios {
		if !s.optional {
			names = append(names, s.name)
		}
	}
	return strings.Join(names, ",")
}

// block is one table of the report: a scenario, and for idle one connection count.
type block struct {
	sc       scenario
	idle     int // idle connections; 0 for a load scenario
	requests int // per run, for a load scenario
}

func (b block) name() string {
	if b.sc.idle {
		return b.sc.name + "-" + strconv.Itoa(b.idle)
	}
	return b.sc.name
}

func (b block) desc() string {
	if b.sc.idle {
		return fmt.Sprintf("%d %s", b.idle, b.sc.desc)
	}
	return fmt.Sprintf("%s; %d requests a run", b.sc.desc, b.requests)
}

// blocks expands the chosen scenarios; n, when positive, replaces every default request count.
func blocks(names []string, idle []int, n int) ([]block, error) {
	var out []block
	for _, name := range names {
		i := indexOf(name)
		if i < 0 {
			return nil, fmt.Errorf("-scenarios: unknown %q", name)
		}
		sc := scenarios[i]
		if sc.idle {
			for _, c := range idle {
				out = append(out, block{sc: sc, idle: c})
			}
			continue
		}
		b := block{sc: sc, requests: sc.requests}
		if n > 0 {
			b.requests = n
		}
		out = append(out, b)
	}
	return out, nil
}

func indexOf(name string) int {
	for i, s := range scenarios {
		if s.name == name {
			return i
		}
	}
	return -1
}

// splitList parses a comma list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseCounts parses "5000,10000".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, item := range splitList(s) {
		n, err := strconv.Atoi(item)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-idle: %q is not a positive count", item)
		}
		out = append(out, n)
	}
	return out, nil
}
