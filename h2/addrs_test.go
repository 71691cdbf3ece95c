package h2

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"muxgate/internal/porttest"
)

// TestDialsAddressesInTurn: the sessions of a pool dial the addresses of its upstream's name one
// after another, and a dial that finds an address refusing goes on to the next; every request
// succeeds.
func TestDialsAddressesInTurn(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name(), func(t *testing.T) { testDialsAddressesInTurn(t, e) })
	}
}

func testDialsAddressesInTurn(t *testing.T, e Engine) {
	const n = 3
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		if len(arrived) == n {
			once.Do(func() { close(all) })
		}
		<-all // the requests hold their streams, one a session, until all three are in
		io.WriteString(w, "ok")
	})
	// One port on 127.0.0.1 and 127.0.0.2, below the ephemeral range: a port-0 port of 127.0.0.1
	// could be held on 127.0.0.2 by an outgoing connection bound there.
	port := strconv.Itoa(porttest.Free(t, true, false))
	a := startUpstreamAt(t, "127.0.0.1:"+port, false, 0, h)
	b := startUpstreamAt(t, "127.0.0.2:"+port, false, 0, h)
	// Nothing listens on 127.0.0.3: connections there are refused.
	ips := []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	cfg := Config{Engine: e, Lookup: func(context.Context, string) ([]netip.Addr, error) { return ips, nil }}
	cfg.MaxSessions, cfg.MaxStreamsPerSession = n, 1
	p := newRealPool(t, a, cfg)
	p.cfg.Address = "upstream.test:" + port // newRealPool set a's address

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", scheme(a)+"://upstream.test:"+port+"/", nil)
			res, err := p.RoundTrip(req)
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("request: %v", err)
		}
	}
	// Sessions 1, 2, 3 start at the addresses 1, 2 and 0 of the name: 127.0.0.1, 127.0.0.2,
	// and 127.0.0.3, which refuses, and then 127.0.0.1.
	if ga, gb := a.accepted.Load(), b.accepted.Load(); ga != 2 || gb != 1 {
		t.Errorf("127.0.0.1 accepted %d connections and 127.0.0.2 %d, want 2 and 1", ga, gb)
	}
}

// TestDialErrorNamesEachAddress: a dial that every address refuses says so of each.
func TestDialErrorNamesEachAddress(t *testing.T) {
	port := strconv.Itoa(porttest.Free(t, true, false)) // nothing listens there
	ips := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")}
	p := newRealPool(t, upstream{addr: "upstream.test:" + port}, Config{DialTimeout: time.Second,
		Lookup: func(context.Context, string) ([]netip.Addr, error) { return ips, nil }})
	req, _ := http.NewRequest("GET", "http://upstream.test:"+port+"/", nil)
	_, err := p.RoundTrip(req)
	for _, a := range []string{"127.0.0.1:" + port, "127.0.0.3:" + port} {
		if err == nil || !strings.Contains(err.Error(), a+": dial tcp") {
			t.Errorf("error %v, want one naming %s", err, a)
		}
	}
}
