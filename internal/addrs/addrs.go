// Package addrs turns an upstream's host:port into the addresses its sessions dial: each of the
// host's addresses, in an order that turns with each dial, so that the sessions of a pool go to
// one address after another, and a dial that finds one address down goes on to the next.
package addrs

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// LookupFunc returns the IP addresses of host, as net.Resolver.LookupNetIP with network "ip".
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// System is the system's resolver.
func System(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Resolve returns the addresses of address (host:port; the port a number or a service name of
// network, "tcp" or "udp"), looked up by lookup (nil: System) unless the host is an IP address,
// in the order of netip.Addr.Compare, turned by turn: the turn-th dial of a pool (its session
// number, say) starts at address turn modulo their count and goes on in order.
func Resolve(ctx context.Context, lookup LookupFunc, network, address string, turn uint64) ([]netip.AddrPort, error) {
	host, portName, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, portName)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(port))}, nil
	}
	if lookup == nil {
		lookup = System
	}
	ips, err := lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no address for %s", host)
	}
	// In one order whatever the order of the answer (DNS servers rotate theirs), so that a
	// turn (a pool's slot) stands for the same address from one lookup to the next.
	sorted := make([]netip.Addr, len(ips))
	for i, ip := range ips {
		sorted[i] = ip.Unmap()
	}
	slices.SortFunc(sorted, netip.Addr.Compare)
	out := make([]netip.AddrPort, len(sorted))
	first := int(turn % uint64(len(sorted)))
	for i := range sorted {
		out[i] = netip.AddrPortFrom(sorted[(first+i)%len(sorted)], uint16(port))
	}
	return out, nil
}

// Dial calls dial with each address of addrs in turn until one succeeds, and returns its
// result. Each attempt has an equal share of the time ctx has left, as net.Dialer gives each
// address of a host, so that an address that does not answer leaves time for the next. The
// error of a dial that fails them all names each address's.
func Dial[T any](ctx context.Context, addrs []netip.AddrPort, dial func(ctx context.Context, a netip.AddrPort) (T, error)) (T, error) {
	var zero T
	var errs []error
	for i, a := range addrs {
		actx, cancel := shareOf(ctx, len(addrs)-i)
		v, err := dial(actx, a)
		cancel()
		if err == nil {
			return v, nil
		}
		if len(addrs) > 1 {
			err = fmt.Errorf("%s: %w", a, err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return zero, errs[0]
	}
	return zero, dialErrors(errs)
}

// dialErrors are the failed dials of several addresses, on one line.
type dialErrors []error

func (e dialErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e dialErrors) Unwrap() []error { return e }

// shareOf returns ctx with a deadline at 1/n of the time it has left, if it has a deadline.
func shareOf(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/time.Duration(n)))
}
