package addrs

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func fixed(ips ...string) LookupFunc {
	return func(context.Context, string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, ip := range ips {
			out = append(out, netip.MustParseAddr(ip))
		}
		return out, nil
	}
}

// TestResolveTurns: a name's addresses come sorted, whatever the order of the answer, and turned
// by the turn; an IP address is not looked up; a name without addresses, or no port, fails.
func TestResolveTurns(t *testing.T) {
	// The answer's order does not count: a DNS server may rotate it.
	lookup := fixed("::ffff:10.0.0.3", "10.0.0.10", "10.0.0.2")
	for turn, want := range map[uint64]string{
		0: "10.0.0.2:443 10.0.0.3:443 10.0.0.10:443",
		1: "10.0.0.3:443 10.0.0.10:443 10.0.0.2:443",
		5: "10.0.0.10:443 10.0.0.2:443 10.0.0.3:443",
	} {
		got, err := Resolve(context.Background(), lookup, "tcp", "app.test:https", turn)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if strings.Join(s, " ") != want {
			t.Errorf("turn %d: %v, want %s", turn, s, want)
		}
	}
	got, err := Resolve(context.Background(), func(context.Context, string) ([]netip.Addr, error) {
		t.Fatal("an IP address was looked up")
		return nil, nil
	}, "udp", "[::1]:8443", 7)
	if err != nil || !slices.Equal(got, []netip.AddrPort{netip.MustParseAddrPort("[::1]:8443")}) {
		t.Errorf("IP address: %v, %v", got, err)
	}
	if _, err := Resolve(context.Background(), fixed(), "tcp", "app.test:80", 0); err == nil {
		t.Error("a name without addresses: no error")
	}
	if _, err := Resolve(context.Background(), fixed("10.0.0.1"), "tcp", "app.test", 0); err == nil {
		t.Error("no port: no error")
	}
}

// TestDialShares: each address gets an equal share of the time left, so one that does not
// answer leaves the next the rest; the first that connects ends the dial.
func TestDialShares(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		to := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80"),
			netip.MustParseAddrPort("10.0.0.3:80"), netip.MustParseAddrPort("10.0.0.4:80")}
		start := time.Now()
		var tried []time.Duration
		got, err := Dial(ctx, to, func(ctx context.Context, a netip.AddrPort) (string, error) {
			deadline, _ := ctx.Deadline()
			tried = append(tried, deadline.Sub(start))
			switch a.Addr().String() {
			case "10.0.0.1":
				return "", errors.New("refused") // at once
			case "10.0.0.2":
				<-ctx.Done() // no answer
				return "", ctx.Err()
			}
			return a.String(), nil
		})
		if err != nil || got != "10.0.0.3:80" {
			t.Fatalf("Dial = %q, %v; want the third address", got, err)
		}
		// A quarter of 3s; a third of the 3s left; half of the 2s left.
		if want := []time.Duration{750 * time.Millisecond, time.Second, 2 * time.Second}; !slices.Equal(tried, want) {
			t.Errorf("deadlines %v after the start, want %v", tried, want)
		}
	})
}

func TestDialErrors(t *testing.T) {
	to := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[::1]:80")}
	refused := errors.New("refused")
	_, err := Dial(context.Background(), to, func(context.Context, netip.AddrPort) (int, error) { return 0, refused })
	if !errors.Is(err, refused) || err.Error() != "10.0.0.1:80: refused; [::1]:80: refused" {
		t.Errorf("every address failed: %v", err)
	}
	_, err = Dial(context.Background(), to[:1], func(context.Context, netip.AddrPort) (int, error) { return 0, refused })
	if err != refused {
		t.Errorf("the one address failed: %v, want its error as it is", err)
	}
}
