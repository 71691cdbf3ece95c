//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is a row of the report: a proxy, or the direct baseline (peer nil).
type target struct {
	name string
	peer *peer  // nil: h2load straight at the upstream's HTTP/1.1 listener
	bin  string // the proxy's executable
	h3   bool   // the proxy reaches the upstream over HTTP/3 (muxgate-h3): load scenarios only
	// extra are muxgate flags added to its command line after the benchmark's own
	// (-muxgate-b-flags); muxgate rows only.
	extra []string
}

// runResult is one target's measurement in one block and round.
type runResult struct {
	Round       int     `json:"round"`
	ReqPerSec   float64 `json:"req_per_s"` // idle blocks: connections opened per second
	P50us       float64 `json:"p50_us"`    // idle blocks: connect to end of the first response
	P99us       float64 `json:"p99_us"`
	CPUPerReqUs float64 `json:"cpu_us_per_req"` // idle blocks: per connection and its request
	// UserCPUPerReqUs is the part of CPUPerReqUs spent in user space (utime); the rest is the
	// kernel's work for the proxy (stime): its system calls, the network stack, its scheduling.
	UserCPUPerReqUs float64 `json:"user_cpu_us_per_req"`
	PeakRSS         int64   `json:"peak_rss_bytes"`
	BytesPerIdle    float64 `json:"bytes_per_idle_conn,omitempty"`
	UpstreamConns   int64   `json:"upstream_conns"`
	// UpstreamCPUUs and H2loadCPUUs are the CPU per request of the upstream (the bench process,
	// which serves the demo, or nghttpd) and of h2load during a load run through a proxy. The proxies share the
	// machine with both, so what a proxy makes them spend moves its req/s too.
	UpstreamCPUUs float64 `json:"upstream_cpu_us_per_req,omitempty"`
	H2loadCPUUs   float64 `json:"h2load_cpu_us_per_req,omitempty"`
	// OtherCores is the CPU that processes other than the target, h2load and the bench used
	// during the run, in cores: the noise on a shared machine.
	OtherCores float64 `json:"other_cores"`
	// IdleCores is the CPU that nothing used during the run, in cores. In this closed loop it is
	// the time the target, the upstream and h2load all waited on one another: what a target's
	// req/s loses beyond its CPU per request.
	IdleCores float64 `json:"idle_cores"`
	// Processors is muxgate's processor count during the run, after each change of its governor
	// (see processorsUsed); empty for the peers.
	Processors string `json:"processors,omitempty"`
	Requests   int    `json:"requests"`
	Failed     int    `json:"failed"`
	Detail     string `json:"detail,omitempty"` // h2load's requests and status lines, when some failed
	Error      string `json:"error,omitempty"`
}

// runner runs the blocks against the targets and collects the results.
type runner struct {
	up         *upstream
	dir        string // temp directory; each proxy start gets a directory under it
	targets    []target
	rounds     int
	blocks     []block
	log        io.Writer                         // progress lines
	muxThreads int                               // muxgate's GOMAXPROCS
	results    map[string]map[string][]runResult // block name -> target name -> one per round
	profile    bool                              // the muxgate row writes CPU profiles (-cpu-profile)
	profiles   []string                          // their paths, each whole once its process exited
}

// loadConns is the connection limit the proxies get for load runs; idle runs get their count
// plus this.
const loadConns = 1024

func (r *runner) run(ctx context.Context) {
	r.results = map[string]map[string][]runResult{}
	for round := 1; round <= r.rounds; round++ {
		for bi, b := range r.blocks {
			ts := r.targets
			if b.sc.idle || b.sc.tlsUp {
				ts = proxiesOnly(ts)
			}
			// Interleave: each round and block starts with a different target.
			for i := range ts {
				if ctx.Err() != nil {
					return
				}
				t := ts[(i+round-1+bi)%len(ts)]
				runtime.GC()
				var res runResult
				if b.sc.idle {
					res = r.idle(ctx, t, b, round)
				} else {
					res = r.load(ctx, t, b, round)
				}
				res.Round = round
				r.record(b, t, res)
			}
		}
	}
}

// proxiesOnly keeps the rows that funnel into the h2 upstream: not direct, and not muxgate-h3,
// whose upstream is HTTP/3 whatever the block says and whose client side is muxgate's.
func proxiesOnly(ts []target) []target {
	var out []target
	for _, t := range ts {
		if t.peer != nil && !t.h3 {
			out = append(out, t)
		}
	}
	return out
}

func (r *runner) record(b block, t target, res runResult) {
	m := r.results[b.name()]
	if m == nil {
		m = map[string][]runResult{}
		r.results[b.name()] = m
	}
	m[t.name] = append(m[t.name], res)
	line := fmt.Sprintf("round %d  %-11s %-10s %9.0f req/s  p50 %s  p99 %s  %6.1f us/req",
		res.Round, b.name(), t.name, res.ReqPerSec, fmtUs(res.P50us), fmtUs(res.P99us), res.CPUPerReqUs)
	if res.UpstreamCPUUs > 0 {
		line += fmt.Sprintf(" (upstream %.1f, h2load %.1f)", res.UpstreamCPUUs, res.H2loadCPUUs)
	}
	line += fmt.Sprintf("  peak %s  up %d", fmtBytes(float64(res.PeakRSS)), res.UpstreamConns)
	if b.sc.idle {
		line += "  " + fmtBytes(res.BytesPerIdle) + "/idle conn"
	}
	line += fmt.Sprintf("  others %.2f cores  idle %.2f", res.OtherCores, res.IdleCores)
	if res.Processors != "" {
		line += "  procs " + res.Processors
	}
	if res.Failed > 0 {
		line += "  FAILED " + strconv.Itoa(res.Failed)
		if res.Detail != "" {
			line += " (" + res.Detail + ")"
		}
	}
	if res.Error != "" {
		line = fmt.Sprintf("round %d  %-11s %-10s error: %s", res.Round, b.name(), t.name,
			strings.ReplaceAll(strings.TrimSpace(res.Error), "\n", " | "))
	}
	fmt.Fprintln(r.log, line)
}

// start starts t's proxy (t.peer is not nil) with a fresh config and waits until it answers through the upstream.
func (r *runner) start(t target, b block, useTLS bool, maxConns int, round int) (*proc, front, error) {
	f := front{tls: useTLS, h2: b.sc.h2, upTLS: b.sc.tlsUp, cert: r.up.files, upstream: r.up.h2cAddr(), maxConns: maxConns, goThreads: r.muxThreads, threads: t.peer.workers(), extra: t.extra}
	switch {
	case t.h3:
		f.upstream = r.up.h3.Addr()
	case f.upTLS:
		f.upstream = r.up.h2tls.Addr()
	}
	dir, err := os.MkdirTemp(r.dir, fmt.Sprintf("%s-%s-r%d-", t.name, b.name(), round))
	if err != nil {
		return nil, f, err
	}
	f.dir = dir
	if f.port, err = freePort(); err != nil {
		return nil, f, err
	}
	if r.profile && t.name == "muxgate" {
		path := filepath.Join(dir, "cpu.pprof")
		f.extra = append(slices.Clip(f.extra), "-cpu-profile", path)
		r.profiles = append(r.profiles, path)
	}
	cmd, err := t.peer.command(t.bin, f)
	if err != nil {
		return nil, f, err
	}
	p, err := startProc(t.name, cmd)
	if err != nil {
		return nil, f, err
	}
	if err := p.ready(f.addr(), useTLS, 10*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, f, err
	}
	return p, f, nil
}

// load measures one h2load run of block b against t. A proxy is started fresh for the run, so
// that its peak RSS and upstream connections belong to this run alone.
func (r *runner) load(ctx context.Context, t target, b block, round int) (res runResult) {
	if t.peer == nil {
		return r.measureLoad(ctx, t, b, r.directGauge(b))
	}
	// Count from before the start: the readiness probe's session is the proxy's too.
	mark := r.up.connMark()
	p, f, err := r.start(t, b, b.sc.tls, loadConns, round)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer stopProxy(p, &res)
	return r.measureLoad(ctx, t, b, gauge{
		addr:   f.addr(),
		sample: func() (usage, error) { return sampleTree(p.pid()) },
		conns:  func() int64 { return r.up.connsSince(mark) },
	})
}

// gauge is how a load run reaches and reads its target.
type gauge struct {
	addr   string                // where h2load connects
	sample func() (usage, error) // the target's CPU and memory
	conns  func() int64          // upstream connections since before the run, or the proxy's start
}

// directGauge points a load run of block b at the upstream's own HTTP/1.1 listener, TLS for a
// TLS block, or its HTTP/2 over TLS one for an HTTP/2 block; the target is the bench process,
// whose peak RSS it resets.
func (r *runner) directGauge(b block) gauge {
	srv := r.up.h1
	switch {
	case b.sc.h2:
		srv = r.up.h2tls
	case b.sc.tls:
		srv = r.up.h1tls
	}
	base := srv.Accepted()
	g := gauge{addr: srv.Addr(), conns: func() int64 { return srv.Accepted() - base }}
	self := os.Getpid()
	resetPeak(self) // best effort: without it the peak is the bench's since start
	g.sample = func() (usage, error) { return sampleOne(self) }
	return g
}

// measureLoad runs h2load for block b at g.addr and measures target t through g. An error
// leaves only res.Error and the measures taken before it.
func (r *runner) measureLoad(ctx context.Context, t target, b block, g gauge) (res runResult) {
	l := r.h2loadRun(b, g.addr)
	before, err := g.sample()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	noise := startNoise(t.peer == nil)
	up0 := r.up.cpu()
	lr, err := l.run(ctx)
	after, err2 := g.sample()
	upCPU := r.up.cpu() - up0
	res.OtherCores, res.IdleCores = noise.end(after.cpu - before.cpu + lr.cpu + r.up.outside(upCPU))
	res.UpstreamConns = g.conns()
	if err == nil {
		err = err2
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Requests = lr.done
	res.Failed = lr.bad()
	if res.Failed > 0 {
		res.Detail = lr.requestLines()
	}
	res.ReqPerSec = lr.reqPerSec
	res.P50us, res.P99us = us(lr.p50), us(lr.p99)
	if lr.done > 0 {
		res.CPUPerReqUs = us(after.cpu-before.cpu) / float64(lr.done)
		res.UserCPUPerReqUs = us(after.user-before.user) / float64(lr.done)
		res.H2loadCPUUs = us(lr.cpu) / float64(lr.done)
		if t.peer != nil {
			res.UpstreamCPUUs = us(upCPU) / float64(lr.done)
		}
	}
	res.PeakRSS = after.mem.peak
	return res
}

// h2loadRun is block b's h2load run at addr: https:// for a TLS block, its log in r.dir.
func (r *runner) h2loadRun(b block, addr string) load {
	scheme := "http://"
	if b.sc.tls {
		scheme = "https://"
	}
	return load{
		url:      scheme + addr + b.sc.path,
		clients:  clients,
		pipeline: b.sc.pipeline,
		h2:       b.sc.h2,
		close:    b.sc.close,
		requests: b.requests,
		logFile:  r.dir + "/h2load.log",
		timeout:  2 * time.Minute,
	}
}

// stopProxy stops proxy p and writes to *res the processor counts p logged and, unless *res has
// an error already, p's stop error. Deferred by load and idle, after the measurement.
func stopProxy(p *proc, res *runResult) {
	res.Processors = processorsUsed(p.out.String())
	if err := p.stop(5 * time.Second); err != nil && res.Error == "" {
		res.Error = err.Error()
	}
}

// idle measures the memory a proxy holds per idle keep-alive client connection.
func (r *runner) idle(ctx context.Context, t target, b block, round int) (res runResult) {
	mark := r.up.connMark()
	p, f, err := r.start(t, b, false, b.idle+loadConns, round)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer stopProxy(p, &res)
	u0, err := sampleTree(p.pid())
	if err != nil {
		res.Error = err.Error()
		return res
	}
	noise := startNoise(false)
	up0 := r.up.cpu()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	set := openIdle(ctx, f.addr(), b.idle, clients)
	defer set.close()
	// Let the proxy finish what the last responses started before reading its memory.
	time.Sleep(time.Second)
	u1, err := sampleTree(p.pid())
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.OtherCores, res.IdleCores = noise.end(u1.cpu - u0.cpu + r.up.outside(r.up.cpu()-up0))
	closed := set.closedByPeer()
	res.UpstreamConns = r.up.connsSince(mark)
	res.Requests = len(set.conns)
	res.Failed = set.failed + closed
	r.logIdleFailures(t, set, closed)
	if n := len(set.conns); n > 0 {
		res.BytesPerIdle = float64(u1.mem.rss-u0.mem.rss) / float64(n)
		res.CPUPerReqUs = us(u1.cpu-u0.cpu) / float64(n)
		res.UserCPUPerReqUs = us(u1.user-u0.user) / float64(n)
		res.ReqPerSec = float64(n) / set.elapsed.Seconds()
	}
	res.P50us, res.P99us = us(percentileOf(set.times, 50)), us(percentileOf(set.times, 99))
	res.PeakRSS = u1.mem.peak
	return res
}

// logIdleFailures tells r.log about the connections of set that failed, and about the closed
// ones that t closed within a second of their response.
func (r *runner) logIdleFailures(t target, set *idleSet, closed int) {
	if set.lastErr != nil {
		fmt.Fprintf(r.log, "  %s: %d connections failed, the last: %v\n", t.name, set.failed, set.lastErr)
	}
	if closed > 0 {
		fmt.Fprintf(r.log, "  %s: closed %d idle connections within a second\n", t.name, closed)
	}
}

// sampleOne samples a single process (the bench itself, whose children are not the target).
func sampleOne(pid int) (usage, error) {
	st, err := readStat(pid)
	if err != nil {
		return usage{}, err
	}
	m, err := readStatus(pid)
	if err != nil {
		return usage{}, err
	}
	return usage{cpu: st.cpu, user: st.user, mem: m}, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// noise measures how much CPU the rest of the machine took during a run: all busy time, less
// the target's, h2load's and the bench process's own.
type noise struct {
	start    time.Time
	busy     time.Duration // system-wide busy time at the start
	self     time.Duration // the bench process's CPU at the start
	selfIsIn bool          // the target is the bench process: its CPU is already counted
}

func startNoise(selfIsTarget bool) noise {
	n := noise{start: time.Now(), selfIsIn: selfIsTarget}
	n.busy, _ = readCPUBusy()
	if st, err := readStat(os.Getpid()); err == nil {
		n.self = st.cpu
	}
	return n
}

// selfCPU is the bench process's CPU since the start: the upstream's, when the target is a
// proxy.
func (n noise) selfCPU() time.Duration {
	st, err := readStat(os.Getpid())
	if err != nil {
		return 0
	}
	return st.cpu - n.self
}

// end returns, in cores over the run's wall time, the CPU that others used and the CPU that
// nobody used; ours is the CPU of the target and of h2load during the run.
func (n noise) end(ours time.Duration) (others, idle float64) {
	busy, err := readCPUBusy()
	wall := time.Since(n.start)
	if err != nil || n.busy == 0 || wall <= 0 {
		return 0, 0
	}
	if !n.selfIsIn {
		ours += n.selfCPU()
	}
	return max(0, float64(busy-n.busy-ours)/float64(wall)), idleCores(runtime.NumCPU(), busy-n.busy, wall)
}

// idleCores is the CPU of ncpu cores that busy left unused over wall, in cores.
func idleCores(ncpu int, busy, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return max(0, float64(ncpu)-float64(busy)/float64(wall))
}
