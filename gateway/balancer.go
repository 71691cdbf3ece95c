package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"muxgate/internal/pool"
)

// memberRetry is how long a balancer passes over a member whose upstream it found unreachable
// before requests try it again. Its pool keeps dialing in the background meanwhile, so a
// try costs nothing while the upstream stays down: the pool fails it at once
// (pool.Limits.FailWhileUnreachable) and the request goes on to the next member.
const memberRetry = time.Second

// maxMembers bounds a balancer's upstreams (a request's tried set is a bit mask).
const maxMembers = 64

// loadPool is an upstream that tells its load: h2.Pool, h3.Pool and the h3+h2 fallback.
type loadPool interface {
	upstream
	Load() int
}

// member is one upstream of a balancer.
type member struct {
	name    string // its URL as configured, for the access log, the metrics and the process log
	scheme  string // :scheme of its requests, for the health checks
	address string // host:port, the health checks' :authority
	up      loadPool
	weight  int // its share of the requests against the others' (;weight=); at least 1
	// healthPath is the path of its health checks where it has one of its own (;health=), else
	// "" for HealthCheck.Path.
	healthPath string
	checked    bool // its health is checked; set before the checks start
	index      int
	health     health  // what the health checks say, if there are any
	out        outlier // its failures in a row and ejections (Ejection)
	// checking counts the health checks in flight on its pool, which the pool's Load counts as
	// requests and load leaves out: those of every balancer that checks the pool (routes share
	// pools, so one pool may be a member of several), set before newBalancer or by it.
	checking *atomic.Int32

	// downUntil is when the member is tried again after its upstream was found unreachable,
	// in Unix nanoseconds; 0 while it is up.
	downUntil atomic.Int64
}

// balancer spreads requests over several upstreams (Config.Upstreams), each with a pool of its
// own: a request goes to the member whose pool carries the fewest requests (pool.Pool.Load:
// streams in flight, response bodies included, and requests queued for a stream) per unit of its
// weight, the ties taken in turn, or at random by weight where the weights differ (choose). A member whose upstream is unreachable (pool.ErrUnavailable: no session and the last
// dial failed) is passed over for memberRetry, after which requests try it again (its pool fails
// them at once while it stays unreachable). A request that a member provably did not take
// (unreachable, queue full or timed out, not processed, or a WebSocket its upstream does not
// take) goes at once to the next member, as long as none of its body was read: a member that
// goes down costs its clients nothing but the failed dial of the first request to find it down.
// One that a member may have processed goes nowhere else (but see failed). With every member
// down, the requests still try them all, and get the last one's error.
//
// Where every member's pool starts requests without waiting (own HTTP/2 sessions), so does the
// balancer (Start), and pipelined requests go upstream as h1 reads them.
type balancer struct {
	members  []*member
	turn     atomic.Uint32 // where the next search for the least loaded member starts
	weighted bool          // the members' weights differ
	log      zerolog.Logger
	eject    Ejection // For filled in

	starts     bool               // every member is a starter that Starts (see Starts)
	stopChecks context.CancelFunc // ends the health checks; nil without
	checkers   sync.WaitGroup     // the health checks' goroutines
}

// newBalancer makes a balancer over members, which checks their health as hc says and ejects
// them as eject says.
func newBalancer(members []*member, hc HealthCheck, eject Ejection, log zerolog.Logger) *balancer {
	for i, m := range members {
		m.index = i
	}
	if eject.For <= 0 {
		eject.For = defaultEjectFor
	}
	b := &balancer{members: members, log: log, starts: true, eject: eject}
	for _, m := range members {
		st, ok := m.up.(starter)
		b.starts = b.starts && ok && st.Starts()
		m.weight = max(m.weight, 1)
		if m.checking == nil {
			m.checking = new(atomic.Int32)
		}
		b.weighted = b.weighted || m.weight != members[0].weight
	}
	if !hc.off && (hc.Path != "" || slices.ContainsFunc(members, func(m *member) bool { return m.healthPath != "" })) {
		var ctx context.Context
		ctx, b.stopChecks = context.WithCancel(context.Background())
		b.checkHealth(ctx, hc)
	}
	return b
}

// RoundTrip sends req to the least loaded member that is up, and to the next ones while they
// provably do not take it.
func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	return b.roundTrip(req, 0, 0, false)
}

// roundTrip is RoundTrip for a request that the members in tried failed already, with attempts
// upstream attempts in all, and that one of them sent again after its session died (resent; see
// failed).
func (b *balancer) roundTrip(req *http.Request, tried uint64, attempts int, resent bool) (*http.Response, error) {
	info := pool.InfoFrom(req.Context())
	for {
		m, last := b.choose(tried)
		r, body := req, (*heldBody)(nil)
		if !last {
			r, body = holdBody(req)
		}
		if info != nil {
			info.Attempts = 0
		}
		res, err := m.up.RoundTrip(r)
		b.observe(m, statusOf(res), err)
		if info != nil {
			// A member that failed the request at once, without a stream, counts as one.
			info.Upstream = uint16(m.index + 1)
			attempts += max(info.Attempts, 1)
			info.Attempts = attempts
			// What an earlier member may have processed stays resent (see failed).
			info.Resent = info.Resent || resent
		}
		if err == nil {
			body.commit()
			b.succeeded(m)
			return res, nil
		}
		if !b.failed(req.Context(), m, err, &resent) || last || !body.detach() {
			body.commit()
			return nil, err
		}
		tried |= 1 << m.index
	}
}

// Starts reports whether every member sends a request without waiting for its response head
// (starter): then the balancer does too, and h1 sends pipelined requests as it reads them,
// rather than on a goroutine each.
func (b *balancer) Starts() bool { return b.starts }

// Start sends req, a GET or HEAD without content, to the member that RoundTrip would try first;
// pd.Await then waits for its response head. A request that member provably did not take goes
// on to the others once it is awaited (finishStarted).
func (b *balancer) Start(req *http.Request, pd *pool.Pending) {
	m, _ := b.choose(0)
	if info := pool.InfoFrom(req.Context()); info != nil {
		info.Upstream = uint16(m.index + 1)
	}
	m.up.(starter).Start(req, pd)
}

// finishStarted concludes req, which Start sent, from its Await's outcome: as RoundTrip does
// after a member's attempt.
func (b *balancer) finishStarted(req *http.Request, res *http.Response, err error) (*http.Response, error) {
	info := pool.InfoFrom(req.Context())
	if info == nil || info.Upstream == 0 {
		return res, err
	}
	m := b.members[info.Upstream-1]
	b.observe(m, statusOf(res), err)
	if err == nil {
		b.succeeded(m)
		return res, nil
	}
	resent := false
	if !b.failed(req.Context(), m, err, &resent) {
		return nil, err
	}
	return b.roundTrip(req, 1<<m.index, max(info.Attempts, 1), resent)
}

// choose returns the member for a request that tried the members in tried already: the least
// loaded of the others that are up, or of all the others if none is; and whether it is the last
// one left to try. Load counts per unit of weight, and of members as loaded as each other one is
// taken in turn, or, where the weights differ, at random in proportion to their weights: one of
// weight 3 takes three requests for each of a member of weight 1, one after another as at once.
func (b *balancer) choose(tried uint64) (m *member, last bool) {
	now := time.Now().UnixNano()
	n := len(b.members)
	start := int(b.turn.Add(1) % uint32(n))
	var best, bestDown *member
	bestLoad, bestDownAt, left, tiedWeight := 0, int64(0), 0, 0
	for i := range n {
		c := b.members[(start+i)%n]
		if tried&(1<<c.index) != 0 {
			continue
		}
		left++
		if !c.serves(now) {
			if at := max(c.downUntil.Load(), c.out.until.Load()); bestDown == nil || at < bestDownAt {
				bestDown, bestDownAt = c, at
			}
			continue
		}
		load := c.load()
		switch {
		case best == nil || load*best.weight < bestLoad*c.weight:
			best, bestLoad, tiedWeight = c, load, c.weight
		case b.weighted && load*best.weight == bestLoad*c.weight:
			// Weighted reservoir sampling: each tied member is kept with its weight's share.
			tiedWeight += c.weight
			if rand.IntN(tiedWeight) < c.weight {
				best, bestLoad = c, load
			}
		}
	}
	if best == nil {
		best = bestDown // every member left is down: the one that comes back first
	}
	return best, left == 1
}

// failed reports whether a request that m failed with err may go to another member: m's last
// attempt provably did not take it. An unreachable upstream takes m down for memberRetry.
//
// An earlier attempt of m's may have run the request (pool.ErrMaybeProcessed): its session died
// after the request was sent. The request is idempotent then, and m's pool sent it once more, as
// RFC 9110 9.2.2 allows; if that attempt reached no upstream either (its upstream is gone, the
// usual reason for a session's death), it goes to another member instead, once (*resent).
func (b *balancer) failed(ctx context.Context, m *member, err error, resent *bool) bool {
	if ctx.Err() != nil || errors.Is(err, pool.ErrClosed) {
		return false // the client left, or the gateway shuts down
	}
	unreachable := errors.Is(err, pool.ErrUnavailable)
	if unreachable {
		m.down(err, b.log)
	}
	notTaken := unreachable || errors.Is(err, pool.ErrNotProcessed) || errors.Is(err, pool.ErrQueueFull) ||
		errors.Is(err, pool.ErrQueueTimeout) || errors.Is(err, pool.ErrNoExtendedConnect)
	if !notTaken {
		return false
	}
	if errors.Is(err, pool.ErrMaybeProcessed) {
		if *resent {
			return false
		}
		*resent = true
	}
	return true
}

// down passes m over for memberRetry; the first time since it was up, it says so in the log.
func (m *member) down(err error, log zerolog.Logger) {
	if m.downUntil.Swap(time.Now().Add(memberRetry).UnixNano()) == 0 {
		log.Warn().Str("upstream", m.name).Err(err).Msg("upstream unreachable; its requests go to the other upstreams")
	}
}

// statusOf is res's status, or 0 without a response.
func statusOf(res *http.Response) int {
	if res == nil {
		return 0
	}
	return res.StatusCode
}

// succeeded takes m back after a request it carried, if it was down.
func (b *balancer) succeeded(m *member) {
	if m.downUntil.Load() != 0 && m.downUntil.Swap(0) != 0 {
		b.log.Info().Str("upstream", m.name).Msg("upstream reachable again")
	}
}

// Load is the requests all members carry.
func (b *balancer) Load() int {
	n := 0
	for _, m := range b.members {
		n += m.load()
	}
	return n
}

// load is the requests m's pool carries, its health checks left out: a check in flight, which
// an idle member always has while its upstream is slow to answer checks, would otherwise send
// every request to the others.
func (m *member) load() int {
	return max(0, m.up.Load()-int(m.checking.Load()))
}

// stopHealthChecks ends the health checks, if any, and waits for their goroutines.
func (b *balancer) stopHealthChecks() {
	if b.stopChecks != nil {
		b.stopChecks()
		b.checkers.Wait()
	}
}

// Shutdown stops the health checks and shuts every member down at once.
func (b *balancer) Shutdown(ctx context.Context) error {
	b.stopHealthChecks()
	errs := make([]error, len(b.members))
	var wg sync.WaitGroup
	for i, m := range b.members {
		wg.Go(func() { errs[i] = m.up.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
