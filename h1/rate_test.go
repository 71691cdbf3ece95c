package h1

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestRatePace: a burst of requests passes at once, then one an interval; an address that keeps
// to the average rate is never refused.
func TestRatePace(t *testing.T) {
	tb := newRateTable(10, 3) // an interval of 100 ms, 3 at once
	r := &ipRate{}
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	for i := range 3 {
		if !tb.take(r, 0) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if ok, wait := tb.take(r, 0), tb.wait(r, 0); ok || wait != 100*time.Millisecond {
		t.Fatalf("beyond the burst: ok %v, wait %v; want refused for 100ms", ok, wait)
	}
	if ok, wait := tb.take(r, ms(99)), tb.wait(r, ms(99)); ok || wait != time.Millisecond {
		t.Fatalf("1 ms early: ok %v, wait %v", ok, wait)
	}
	if !tb.take(r, ms(100)) {
		t.Fatal("after an interval: refused")
	}
	// Keeping to the rate, an address is always served; a pause refills the burst.
	for now := ms(200); now < ms(2000); now += ms(100) {
		if !tb.take(r, now) {
			t.Fatalf("at the average rate, at %v: refused", time.Duration(now))
		}
	}
	for i := range 3 {
		if !tb.take(r, ms(5000)) {
			t.Fatalf("after a pause: request %d of the burst refused", i+1)
		}
	}
}

// TestRateConcurrent: of many requests at one instant, exactly the burst passes.
func TestRateConcurrent(t *testing.T) {
	tb := newRateTable(1, 50)
	r := &ipRate{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 200 {
		wg.Go(func() {
			if tb.take(r, 0) {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if passed != 50 {
		t.Errorf("%d of 200 passed, want the burst of 50", passed)
	}
}

// TestRateEntries: an address's entry outlives its connections while its pace is ahead of now,
// so that closing them does not clear it.
func TestRateEntries(t *testing.T) {
	tb := newRateTable(1e-3, 1) // one request in 1000 s
	ip := netip.MustParseAddr("192.0.2.1")
	r := tb.attach(ip)
	tb.take(r, tb.now())
	tb.detach(r)
	tb.sweep()
	if again := tb.attach(ip); again != r {
		t.Fatal("the entry of an address whose pace is ahead was dropped with its last connection")
	}
	tb.detach(r)
	r.tat.Store(0)
	tb.sweep()
	if len(tb.ips) != 0 {
		t.Errorf("%d entries after a sweep, want the caught-up one dropped", len(tb.ips))
	}
	quiet := netip.MustParseAddr("192.0.2.2")
	tb.detach(tb.attach(quiet))
	if len(tb.ips) != 0 {
		t.Error("an address that sent nothing stayed after its connection")
	}
}

func TestRetryAfter(t *testing.T) {
	for wait, want := range map[time.Duration]int64{time.Nanosecond: 1, time.Second: 1, time.Second + 1: 2, 99*time.Second + 1: 100} {
		if got := retryAfter(wait); got != want {
			t.Errorf("retryAfter(%v) = %d, want %d", wait, got, want)
		}
	}
}

// TestRequestRatePerIP: an address past its burst gets 429 with Retry-After and a close, also
// on a new connection; another address is served; the refusal is reported.
func TestRequestRatePerIP(t *testing.T) {
	var mu sync.Mutex
	var refusals []Refusal
	cfg := Config{RequestRatePerIP: 0.01, RequestBurstPerIP: 2, // one in 100 s after two
		OnRefusal: func(r Refusal) { mu.Lock(); refusals = append(refusals, r); mu.Unlock() }}
	s, addr := startServer(t, cfg, text)
	a := dialFrom(t, "127.0.0.1", addr)
	for i := range 2 {
		if r := a.roundTrip(getRoot); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d of the burst: %d", i+1, r.StatusCode)
		}
	}
	r := a.roundTrip(getRoot)
	secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.StatusCode != http.StatusTooManyRequests || !r.Close || secs < 99 || secs > 100 {
		t.Errorf("past the burst: %d, Retry-After %q, close %v; want 429, about 100, close", r.StatusCode, r.Header.Get("Retry-After"), r.Close)
	}
	a.expectClosed()
	if r := dialFrom(t, "127.0.0.1", addr).roundTrip(getRoot); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("on a new connection from the same address: %d, want 429", r.StatusCode)
	}
	if r := dialFrom(t, "127.0.0.2", addr).roundTrip(getRoot); r.StatusCode != http.StatusOK {
		t.Errorf("another address: %d, want 200", r.StatusCode)
	}
	// Pipelined past the burst: the requests within it are answered in order, then the 429,
	// and nothing after it.
	p := dialFrom(t, "127.0.0.3", addr)
	p.send(getRoot + getRoot + getRoot + getRoot)
	for i, want := range []int{200, 200, 429} {
		if r := p.read("GET"); r.StatusCode != want {
			t.Errorf("pipelined request %d: %d, want %d", i+1, r.StatusCode, want)
		}
	}
	p.expectClosed()
	if st := s.State(); st.Requests != 5 {
		t.Errorf("%d requests reached the handler, want 5", st.Requests)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refusals) != 3 || refusals[0].Status != 429 || refusals[0].Reason != "too_many_requests_from_this_address" || refusals[0].Target != "/" {
		t.Errorf("refusals %+v, want three 429s of GET /", refusals)
	}
}
