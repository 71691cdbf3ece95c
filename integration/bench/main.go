//go:build linux

// Command bench measures muxgate against nghttpx and HAProxy doing the same job on this
// machine: each is an HTTP/1.1 front end on loopback funnelling into one Go HTTP/2 upstream
// over h2c, loaded by h2load. The upstream's own HTTP/1.1 listener is the ceiling. Rounds are
// interleaved and the report gives medians; see -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the parsed command line.
type options struct {
	rounds       int
	requests     int
	scenarios    []string
	idle         []int
	jsonPath     string
	requirePeers bool
	muxgate      string
	muxgateB     string   // a second muxgate binary, the muxgate-b row
	muxgateBArgs []string // muxgate flags added to the muxgate-b row's command line
	targets      []string
	keep         bool
	server       string // the proxies' h2c upstream: serverGo or serverNghttpd
	muxThreads   int    // muxgate's GOMAXPROCS
	callgrind    bool   // count muxgate's instructions per request instead (callgrind.go)
	cacheSim     bool   // -cache-sim: under -callgrind, simulate the first-level caches too
	cpuProfile   string // -cpu-profile: where the muxgate row's merged CPU profile goes
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags parses and validates the command line. Usage and parse errors go to out; -help
// gives flag.ErrHelp.
func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	var lists flagLists
	o.runFlags(fs, &lists)
	o.targetFlags(fs, &lists)
	o.outputFlags(fs)
	fs.Usage = func() { printUsage(out, fs) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := o.checkCounts(); err != nil {
		return nil, err
	}
	o.scenarios = splitList(lists.scenarios)
	if err := o.callgrindDefaults(fs, &lists); err != nil {
		return nil, err
	}
	var err error
	if o.idle, err = parseCounts(lists.idle); err != nil {
		return nil, err
	}
	if err := o.setTargets(lists.targets); err != nil {
		return nil, err
	}
	if err := o.checkCallgrindTargets(); err != nil {
		return nil, err
	}
	if _, err := blocks(o.scenarios, o.idle, o.requests); err != nil {
		return nil, err
	}
	if err := o.checkServer(fs); err != nil {
		return nil, err
	}
	return o, nil
}

// flagLists holds the comma-list flags as given; parseFlags parses them after fs.Parse.
type flagLists struct {
	scenarios, idle, targets string
}

// runFlags defines on fs the flags that shape the runs: -rounds, -n, -scenarios, -idle and
// -upstream-server. The lists go to lists, unparsed.
func (o *options) runFlags(fs *flag.FlagSet, lists *flagLists) {
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; the targets run interleaved in each, and the report gives medians")
	fs.IntVar(&o.requests, "n", 0, "requests per h2load run in every load scenario (0: each scenario's own, a few seconds here: "+defaultsText()+")")
	fs.StringVar(&lists.scenarios, "scenarios", scenarioNames(), "comma `list` of scenarios:\n"+scenarioHelp())
	fs.StringVar(&lists.idle, "idle", "5000,10000", "comma `list` of idle keep-alive connection counts for the idle scenario")
	fs.StringVar(&o.server, "upstream-server", serverGo, "the proxies' h2c upstream: "+serverGo+" (the demo, in the bench process) or "+serverNghttpd+
		" (nghttp2's server, static files, 1 worker; the direct row, muxgate-h3 and tls-upstream are left out)")
}

// targetFlags defines on fs the flags that choose the rows and their binaries: -targets,
// -require-peers, -muxgate, -muxgate-b, -muxgate-b-flags and -muxgate-threads. -targets goes to
// lists, unparsed.
func (o *options) targetFlags(fs *flag.FlagSet, lists *flagLists) {
	fs.StringVar(&lists.targets, "targets", strings.Join(defaultTargets, ","), "comma `list` of rows to run: muxgate, muxgate-b (with -muxgate-b or -muxgate-b-flags), muxgate-h3 (opt-in), nghttpx, haproxy, nghttpx-1 and haproxy-1 (opt-in: on one worker thread), direct")
	fs.BoolVar(&o.requirePeers, "require-peers", false, "fail when h2load, nghttpx or haproxy is missing, instead of leaving its rows out")
	fs.StringVar(&o.muxgate, "muxgate", "", "prebuilt muxgate `binary` (default: go build ./cmd/muxgate into a temp dir)")
	fs.StringVar(&o.muxgateB, "muxgate-b", "", "a second muxgate `binary`, run as the row muxgate-b in every round beside muxgate, to compare two builds in one run")
	fs.Func("muxgate-b-flags", "muxgate `flags`, separated by spaces, added to the muxgate-b row's command line after the benchmark's own, to compare settings in one run; without -muxgate-b, that row runs the muxgate row's binary", func(s string) error {
		o.muxgateBArgs = strings.Fields(s)
		return nil
	})
	fs.IntVar(&o.muxThreads, "muxgate-threads", threads, "muxgate's GOMAXPROCS, to measure it on fewer or more threads than the peers' "+strconv.Itoa(threads))
}

// outputFlags defines on fs the flags for what the run leaves behind: -json and -keep.
func (o *options) outputFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to `file`, for comparing commits")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir with every proxy's config file, and print its path")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "have the muxgate row write a CPU profile in each run (muxgate's -cpu-profile), and merge them into `file` at the end with go tool pprof: muxgate's profile under these loads, for go tool pprof or a profile-guided build (go build -pgo=file)")
	fs.BoolVar(&o.callgrind, "callgrind", false, "instead of timing the targets, count the instructions per request in each target's process under valgrind's callgrind (Debian: valgrind): muxgate (and -muxgate-b) on one processor, -muxgate-threads aside, and the one-thread peers nghttpx-1 and haproxy-1, the only rows it takes in -targets besides muxgate ("+strings.Join(callgrindTargets, ",")+" unless -targets); repeatable where CPU time is not; scenarios small and pipelined unless -scenarios, "+strconv.Itoa(callgrindRequests)+" requests a run unless -n")
	fs.BoolVar(&o.cacheSim, "cache-sim", false, "with -callgrind: simulate the host's first-level caches too (valgrind's --cache-sim=yes, about twice as slow), and report each target's misses per request: instruction fetches (I1), data reads and data writes (D1)")
}

// callgrindDefaults applies -callgrind's defaults for -scenarios, -n and -targets where they were
// not given, and rejects the scenarios it cannot run.
func (o *options) callgrindDefaults(fs *flag.FlagSet, lists *flagLists) error {
	if !o.callgrind {
		if o.cacheSim {
			return errors.New("-cache-sim: only with -callgrind")
		}
		return nil
	}
	if o.cpuProfile != "" {
		return errors.New("-callgrind: no -cpu-profile (muxgate runs under valgrind, whose profile would be valgrind's)")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["scenarios"] {
		o.scenarios = callgrindScenarios
	}
	if !given["n"] {
		o.requests = callgrindRequests
	}
	if !given["targets"] {
		lists.targets = strings.Join(callgrindTargets, ",")
	}
	for _, name := range o.scenarios {
		if name == "idle" || name == "tls-upstream" {
			return fmt.Errorf("-callgrind: no %s scenario (load scenarios over h2c only)", name)
		}
	}
	return nil
}

// checkCallgrindTargets rejects, under -callgrind, the rows it does not count: it compares
// muxgate on one processor with the peers on one worker thread.
func (o *options) checkCallgrindTargets() error {
	if !o.callgrind {
		return nil
	}
	for _, t := range o.targets {
		if t != "muxgate-b" && !slices.Contains(callgrindTargets, t) {
			return fmt.Errorf("-callgrind: no %s row (it counts %s and muxgate-b)", t, strings.Join(callgrindTargets, ", "))
		}
	}
	return nil
}

// printUsage writes -help's text to out: what the bench does, then fs's flags.
func printUsage(out io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(out, `usage: go run ./integration/bench [flags]

Runs h2load (--h1 -t 1 -c %d) against muxgate, nghttpx and HAProxy, each an HTTP/1.1 front end
on a loopback port funnelling into the same Go HTTP/2 upstream over h2c, with %d worker threads
each, and against the upstream's own HTTP/1.1 listener (the "direct" ceiling). Each proxy runs
as a child process with its own config in a temp dir, started fresh for every run. Per scenario
it reports requests/s, p50 and p99 latency, proxy CPU per request, the upstream's and h2load's
CPU per request, peak RSS, memory per idle connection, upstream connections, and muxgate's
ratios to the peers: medians over the rounds, each ratio with its spread over the rounds. Under
each load table, each row's cores' bound (the requests/s all cores allow at what the proxy, the
upstream and h2load spend per request together, and the share of it reached) and, for muxgate's
requests/s goals in the scenario, the cores each goal needs at muxgate's cost.

Row muxgate-b (-muxgate-b binary): a second build of muxgate, run as muxgate is, in the same
rounds; "muxgate vs muxgate-b" gives the first build's ratios to the second, with their spread
over the rounds. Interleaved, the two builds meet the machine's drift alike, which two runs of
the benchmark one after the other do not. Give it an even -rounds, so that each starts as many
rounds as the other. -muxgate-b-flags '-min-sessions 2' adds flags to that row's command line,
to compare a setting with the defaults the same way: alone, it runs the muxgate row's binary.

Opt-in row muxgate-h3 (-targets muxgate,muxgate-h3,...): muxgate as in the muxgate row, but
reaching the same upstream over HTTP/3 (h3://, QUIC on a UDP loopback port, the certificate
verified with -upstream-ca); load scenarios only, not idle or tls-upstream. Its block line
"muxgate-h3 vs muxgate" gives its req/s and CPU per request against muxgate over h2c. It is
not in the default run: another row in every load scenario would take it past its budget.

Opt-in rows nghttpx-1 and haproxy-1 (-targets muxgate,nghttpx,nghttpx-1,...): the peer as in
its row, on one worker thread (workers=1, nbthread 1) and so on one upstream connection. Under
these loads muxgate's governor keeps muxgate on one processor; these rows compare the work each
does on one thread, and muxgate's ratios to them follow its ratios to the peers.

With -upstream-server nghttpd the proxies funnel into nghttpd (Debian: nghttp2-server) serving
the same bodies as static files from one event loop instead: it spends a fraction of the Go
upstream's CPU per request, so the proxies' own costs decide their requests/s. There is no
direct row then, and no muxgate-h3 or tls-upstream.

It installs nothing. Needs h2load (Debian: nghttp2-client); nghttpx (nghttp2-proxy) and
haproxy (haproxy) rows are left out when missing unless -require-peers. Only loopback traffic.
The default run takes about 5 minutes on 2 quiet cores, up to 10 on a busy machine.

flags:
`, clients, threads)
	fs.PrintDefaults()
}

// checkCounts checks -rounds, -muxgate-threads and -n.
func (o *options) checkCounts() error {
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	if o.muxThreads < 1 {
		return errors.New("-muxgate-threads must be at least 1")
	}
	if o.requests < 0 || (o.requests > 0 && o.requests < clients) {
		return fmt.Errorf("-n must be 0 or at least %d (one request per client)", clients)
	}
	return nil
}

// setTargets parses the -targets list into o.targets, each a row of rowOrder, and adds the
// muxgate-b row when -muxgate-b names a binary or -muxgate-b-flags gives flags; the row without
// either is an error.
func (o *options) setTargets(list string) error {
	o.targets = splitList(list)
	for _, t := range o.targets {
		if !slices.Contains(rowOrder, t) {
			return fmt.Errorf("-targets: unknown %q (have %s)", t, strings.Join(rowOrder, ", "))
		}
	}
	switch hasB, wantB := slices.Contains(o.targets, "muxgate-b"), o.wantsB(); {
	case wantB && !hasB:
		o.targets = append(o.targets, "muxgate-b")
	case !wantB && hasB:
		return errors.New("-targets: the muxgate-b row needs -muxgate-b binary or -muxgate-b-flags")
	}
	return nil
}

// wantsB reports whether the muxgate-b row is asked for: a second binary, or flags of its own.
func (o *options) wantsB() bool { return o.muxgateB != "" || len(o.muxgateBArgs) > 0 }

// bDesc says what the muxgate-b row runs, given what the muxgate row runs (desc).
func (o *options) bDesc(desc string) string {
	if o.muxgateB != "" {
		desc = "prebuilt " + o.muxgateB
	}
	if len(o.muxgateBArgs) > 0 {
		desc += " with " + strings.Join(o.muxgateBArgs, " ")
	}
	return desc
}

// checkServer validates -upstream-server against the other flags. nghttpd serves h2c only and
// has no HTTP/1.1 listener, so it takes neither muxgate-h3 nor tls-upstream, and the direct
// row, in the default targets, is dropped (asked for by name, it is an error).
func (o *options) checkServer(fs *flag.FlagSet) error {
	switch o.server {
	case serverGo:
		return nil
	case serverNghttpd:
	default:
		return fmt.Errorf("-upstream-server: unknown %q (have %s, %s)", o.server, serverGo, serverNghttpd)
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "targets" })
	for _, t := range o.targets {
		if t == "muxgate-h3" || (t == "direct" && explicit) {
			return fmt.Errorf("-upstream-server %s: no %s row (it needs the Go upstream)", serverNghttpd, t)
		}
	}
	o.targets = slices.DeleteFunc(o.targets, func(t string) bool { return t == "direct" })
	if slices.ContainsFunc(o.scenarios, func(name string) bool { return name == "tls-upstream" }) {
		return fmt.Errorf("-upstream-server %s: no tls-upstream scenario (nghttpd runs h2c only)", serverNghttpd)
	}
	return nil
}

func defaultsText() string {
	var list []string
	for _, s := range scenarios {
		if !s.idle {
			list = append(list, fmt.Sprintf("%s %d", s.name, s.requests))
		}
	}
	return strings.Join(list, ", ")
}

func scenarioHelp() string {
	var b strings.Builder
	for _, s := range scenarios {
		opt := ""
		if s.optional {
			opt = " (not by default)"
		}
		fmt.Fprintf(&b, "\t%-12s %s%s\n", s.name, s.desc, opt)
	}
	return strings.TrimRight(b.String(), "\n")
}

// bench sets up the upstream and the targets, runs the rounds and writes the report.
func bench(ctx context.Context, o *options, stdout, progress io.Writer) error {
	if o.callgrind {
		return benchCallgrind(ctx, o, stdout, progress)
	}
	start := time.Now()
	bl, _ := blocks(o.scenarios, o.idle, o.requests)
	if err := checkFileLimit(bl); err != nil {
		return err
	}
	rep := &report{Date: formatDate(start), Host: hostInfo(), Tools: map[string]string{}, Rounds: o.rounds}

	h2load, err := findTool("h2load")
	if err != nil {
		return fmt.Errorf("%w: install the Debian package nghttp2-client", err)
	}
	rep.Tools["h2load"] = toolVersion(h2load, "--version")

	dir, cleanup, err := workDir("muxgate-bench-", o.keep, progress, "configs and logs")
	if err != nil {
		return err
	}
	defer cleanup()

	targets, err := findTargets(o, dir, rep, progress)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return errors.New("no target to run")
	}
	up, err := setupUpstream(o, dir, targets, rep)
	if err != nil {
		return err
	}
	defer up.close()

	r := &runner{up: up, dir: dir, targets: targets, rounds: o.rounds, blocks: bl, log: progress, muxThreads: o.muxThreads,
		profile: o.cpuProfile != ""}
	r.run(ctx)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if o.cpuProfile != "" {
		if err := mergeProfiles(ctx, r.profiles, o.cpuProfile); err != nil {
			return err
		}
	}
	rep.Blocks = r.blockReports()
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	rep.writeText(stdout)
	if o.jsonPath != "" {
		return rep.writeJSON(o.jsonPath)
	}
	return nil
}

// checkFileLimit raises the soft file limit to the hard one and checks that it leaves room for
// the idle connections of every block in bl.
func checkFileLimit(bl []block) error {
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	for _, b := range bl {
		if b.idle > 0 && uint64(b.idle+fdReserve) > limit {
			return fmt.Errorf("-idle %d needs %d file descriptors, the hard limit is %d (raise ulimit -Hn)", b.idle, b.idle+fdReserve, limit)
		}
	}
	return nil
}

// setupUpstream starts the upstream the options and targets ask for (nghttpd's version goes to
// rep.Tools) and writes rep.Setup. The caller closes the upstream.
func setupUpstream(o *options, dir string, targets []target, rep *report) (*upstream, error) {
	nghttpdBin := ""
	if o.server == serverNghttpd {
		var err error
		if nghttpdBin, err = findTool("nghttpd"); err != nil {
			return nil, fmt.Errorf("%w: install the Debian package nghttp2-server", err)
		}
		rep.Tools["nghttpd"] = toolVersion(nghttpdBin, "--version")
	}
	h3 := slices.ContainsFunc(targets, func(t target) bool { return t.h3 })
	up, err := startUpstream(dir, h3, nghttpdBin)
	if err != nil {
		return nil, err
	}
	oneThread := slices.ContainsFunc(targets, func(t target) bool { return t.peer != nil && t.peer.threads == 1 })
	rep.Setup = setupText(h3, oneThread, o.server, o.muxThreads)
	return up, nil
}

// findTargets resolves the chosen rows: the peers on this machine, and muxgate prebuilt or built.
func findTargets(o *options, dir string, rep *report, progress io.Writer) ([]target, error) {
	var out []target
	var muxBin, muxDesc string
	var err error
	for _, name := range rowOrder {
		if !slices.Contains(o.targets, name) {
			continue
		}
		if name == "direct" {
			out = append(out, target{name: name})
			continue
		}
		p := peerNamed(name)
		if p.tool == "muxgate" { // muxgate, muxgate-h3 and a muxgate-b of flags alone share one binary
			if muxBin == "" && (name != "muxgate-b" || o.muxgateB == "") {
				bin, desc, err := muxgateBinary(o.muxgate, dir, progress)
				if err != nil {
					return nil, err
				}
				muxBin, muxDesc = bin, desc
			}
			t := target{name: name, peer: p, bin: muxBin, h3: name == "muxgate-h3"}
			if name == "muxgate-b" {
				if t, err = o.bTarget(t); err != nil {
					return nil, err
				}
				rep.MuxgateB = o.bDesc(muxDesc)
			} else {
				rep.Muxgate = muxDesc
			}
			out = append(out, t)
			continue
		}
		bin, err := peerTool(p, o.requirePeers, rep, progress)
		if err != nil {
			return nil, err
		}
		if bin != "" {
			out = append(out, target{name: name, peer: p, bin: bin})
		}
	}
	if rep.Muxgate == "" {
		rep.Muxgate = "not run (-targets)"
	}
	return out, nil
}

// bTarget makes t, a muxgate row, the muxgate-b row: -muxgate-b's binary if given, which must
// exist, and -muxgate-b-flags.
func (o *options) bTarget(t target) (target, error) {
	if o.muxgateB != "" {
		if _, err := os.Stat(o.muxgateB); err != nil {
			return t, fmt.Errorf("-muxgate-b: %w", err)
		}
		t.bin = o.muxgateB
	}
	t.extra = o.muxgateBArgs
	return t, nil
}

// peerTool finds the executable of peer p and writes its version to rep.Tools. A missing one is
// an error with requirePeers; otherwise peerTool says so on progress and in rep.Missing, and
// returns "": the peer's rows are left out.
func peerTool(p *peer, requirePeers bool, rep *report, progress io.Writer) (string, error) {
	bin, err := findTool(p.tool)
	if err != nil {
		msg := fmt.Sprintf("%s: %v (Debian package %s); its rows are left out", p.name, err, p.pkg)
		if requirePeers {
			return "", fmt.Errorf("%s: %w; install the Debian package %s", p.name, err, p.pkg)
		}
		fmt.Fprintln(progress, msg)
		rep.Missing = append(rep.Missing, msg)
		return "", nil
	}
	if p.tool == "haproxy" {
		rep.Tools[p.tool] = toolVersion(bin, "-v")
	} else {
		rep.Tools[p.tool] = toolVersion(bin, "--version")
	}
	return bin, nil
}

// muxgateBinary returns the binary to run and a line that says which it is.
func muxgateBinary(prebuilt, dir string, progress io.Writer) (string, string, error) {
	if prebuilt != "" {
		if _, err := os.Stat(prebuilt); err != nil {
			return "", "", fmt.Errorf("-muxgate: %w", err)
		}
		return prebuilt, "prebuilt " + prebuilt, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	fmt.Fprintln(progress, "building muxgate ...")
	bin, err := buildMuxgate(root, dir)
	if err != nil {
		return "", "", fmt.Errorf("%w\n(run the peers alone with -targets nghttpx,haproxy,direct)", err)
	}
	return bin, fmt.Sprintf("%s, built from %s/cmd/muxgate", revision(root), root), nil
}

// threadsText says how many worker threads each proxy had.
func threadsText(muxThreads int) string {
	if muxThreads == threads {
		return fmt.Sprintf("%d worker threads each: muxgate GOMAXPROCS=%d, nghttpx workers=%d, haproxy nbthread %d", threads, threads, threads, threads)
	}
	return fmt.Sprintf("muxgate GOMAXPROCS=%d (-muxgate-threads); nghttpx workers=%d, haproxy nbthread %d", muxThreads, threads, threads)
}

// setupText is the part of the header that says how the targets were configured.
func setupText(h3, oneThread bool, server string, muxThreads int) []string {
	upstream, upCPU := "one Go upstream (internal/demo) in the bench process", "the upstream's is the bench process's"
	if server == serverNghttpd {
		upstream, upCPU = "nghttpd (static files, 1 worker thread), a process of its own", "the upstream's is nghttpd's"
	}
	lines := []string{
		fmt.Sprintf("HTTP/1.1 front on loopback -> h2c to %s; h2load --h1 -t 1 -c %d", upstream, clients),
		threadsText(muxThreads),
		fmt.Sprintf("upstream stream window %d KiB for all; connection window: muxgate's default, nghttpx's and haproxy's 2 GiB", streamWindow>>10),
		fmt.Sprintf("max frame size announced upstream: %d KiB by muxgate (its default) and haproxy (tune.h2.max-frame-size), 16 KiB by nghttpx (not settable)", maxFrameSize>>10),
		"no forwarding headers added (X-Forwarded-For, X-Forwarded-Proto, Via off in muxgate and nghttpx); no access logs",
		"haproxy: http-reuse always, option http-no-delay, 'http-response set-status 200 if { status 200 }' (reason phrase for h2 responses)",
		"each proxy started fresh per run; CPU = utime+stime of its processes / requests; peak RSS = VmHWM (summed over nghttpx's 2 processes)",
		"upstream's, h2load's: their CPU per request during a proxy's run (" + upCPU + "); a proxy that makes them spend more loses req/s on these shared cores",
		"! marks a row with failed requests (h2load's failed/errored/timeout or non-2xx) or runs that errored",
	}
	if server == serverNghttpd {
		lines = append(lines, "upstream conns: the connections nghttpd held at the end of the run (it counts none it accepted); no direct row")
	} else {
		lines = append(lines, "direct: h2load at the upstream's HTTP/1.1 listener; its CPU and RSS are the bench process's; upstream conns = client conns")
	}
	if oneThread {
		lines = append(lines, "nghttpx-1, haproxy-1: the peer as above on one worker thread (workers=1, nbthread 1), as muxgate's governor runs muxgate on one processor under these loads")
	}
	if h3 {
		lines = append(lines, "muxgate-h3: muxgate as above but HTTP/3 (h3://, QUIC over UDP loopback) to the same upstream, certificate verified (-upstream-ca); load scenarios only")
	}
	return lines
}

// workDir makes a temp dir for a run's files. With keep it says where, for what, and cleanup
// leaves it; else cleanup removes it.
func workDir(prefix string, keep bool, progress io.Writer, what string) (dir string, cleanup func(), err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Fprintf(progress, "%s kept in %s\n", what, dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
