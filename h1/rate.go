package h1

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// rateSweepTicks is how many watch ticks pass between sweeps of the rate table: an address
// that left stays in it for this long at most once its pace has caught up.
const rateSweepTicks = 100

// rateTable paces the requests of each client address (Config.RequestRatePerIP) with the
// generic cell rate algorithm: each address has a theoretical arrival time (tat), the time at
// which its next request would come if it kept to the average rate. A request may come up to
// burst-1 intervals before it; one that comes earlier is refused, and one that is taken moves the
// tat an interval on. One atomic word per address, and no lock on the request path: a connection
// finds its address's entry once, when its address is known.
type rateTable struct {
	interval int64     // nanoseconds between requests at the average rate
	ahead    int64     // how far the tat may run ahead of now: (burst-1) intervals
	epoch    time.Time // the zero of the tats, for monotonic nanoseconds

	mu  sync.Mutex             // taken alone, or with Server.mu held (never the other way)
	ips map[netip.Addr]*ipRate // guarded by mu
}

// ipRate is one address's pace.
type ipRate struct {
	tat   atomic.Int64 // nanoseconds since rateTable.epoch
	ip    netip.Addr
	conns int // guarded by rateTable.mu: connections that hold it
}

// newRateTable paces perSecond requests of an address on average, burst of them at once.
func newRateTable(perSecond float64, burst int) *rateTable {
	interval := int64(math.Max(1, float64(time.Second)/perSecond))
	return &rateTable{
		interval: interval,
		ahead:    int64(burst-1) * interval,
		epoch:    time.Now(),
		ips:      make(map[netip.Addr]*ipRate),
	}
}

// now is the table's clock: monotonic nanoseconds since its epoch.
func (t *rateTable) now() int64 { return int64(time.Since(t.epoch)) }

// attach returns ip's entry for a connection from it, made if it has none.
func (t *rateTable) attach(ip netip.Addr) *ipRate {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.ips[ip]
	if r == nil {
		r = &ipRate{ip: ip}
		t.ips[ip] = r
	}
	r.conns++
	return r
}

// detach lets go of entry r for a closed connection. The entry stays while its tat is in the
// future, so that an address cannot clear its pace by closing its connections; sweep drops it
// later.
func (t *rateTable) detach(r *ipRate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.conns--
	if r.conns == 0 && r.tat.Load() <= t.now() {
		delete(t.ips, r.ip)
	}
}

// sweep drops the entries that no connection holds and whose tat has passed.
func (t *rateTable) sweep() {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for ip, r := range t.ips {
		if r.conns == 0 && r.tat.Load() <= now {
			delete(t.ips, ip)
		}
	}
}

// take counts a request of r's address at now, and reports whether it may be served.
func (t *rateTable) take(r *ipRate, now int64) bool {
	for {
		tat := r.tat.Load()
		next := max(tat, now)
		if next-now > t.ahead {
			return false
		}
		if r.tat.CompareAndSwap(tat, next+t.interval) {
			return true
		}
	}
}

// wait is how long after now r's address may send its next request: 0 if it may now.
func (t *rateTable) wait(r *ipRate, now int64) time.Duration {
	return time.Duration(max(0, max(r.tat.Load(), now)-now-t.ahead))
}

// retryAfter is the Retry-After value for a wait (RFC 9110 10.2.3): whole seconds, rounded up,
// at least 1.
func retryAfter(wait time.Duration) int64 {
	return max(1, int64((wait+time.Second-1)/time.Second))
}
