package h1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// The PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt), lets a load balancer that
// passes TCP through (HAProxy in TCP mode with send-proxy or send-proxy-v2, cloud network load
// balancers) say which client a connection is for, in a header that comes before the
// connection's own first byte. Version 1 is a line of text, version 2 a binary block.

const (
	// proxyV1Max is the longest version 1 header, its CRLF included (proxy-protocol.txt 2.1).
	proxyV1Max = 107

	// proxyV2Fixed is the length of a version 2 header's fixed part: the signature, the version
	// and command, the family and transport, and the length of the rest (proxy-protocol.txt 2.2).
	proxyV2Fixed = 16

	// proxyV2Max bounds the version 2 header taken, its TLVs included. The format allows 64 KiB;
	// the TLVs senders add (an SSL summary, a unique ID, a cloud's endpoint ID) come to a few
	// hundred bytes.
	proxyV2Max = 4096
)

// proxyV2Sig begins every version 2 header; no HTTP/1.x request begins so.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

var errProxyHeader = errors.New("h1: no valid PROXY protocol header")

// proxyHeaderLen reports how long the PROXY header is that b begins with, as far as b shows it:
// 0 while b is too short to tell, an error once b cannot begin one.
func proxyHeaderLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] == 'P' {
		const prefix = "PROXY "
		if !bytes.HasPrefix([]byte(prefix), b[:min(len(b), len(prefix))]) {
			return 0, errProxyHeader
		}
		if i := bytes.IndexByte(b[:min(len(b), proxyV1Max)], '\n'); i >= 0 {
			return i + 1, nil
		}
		if len(b) >= proxyV1Max {
			return 0, errProxyHeader
		}
		return 0, nil
	}
	if !bytes.HasPrefix(proxyV2Sig, b[:min(len(b), len(proxyV2Sig))]) {
		return 0, errProxyHeader
	}
	if len(b) < proxyV2Fixed {
		return 0, nil
	}
	n := proxyV2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	if n > proxyV2Max {
		return 0, errProxyHeader
	}
	return n, nil
}

// parseProxyHeader parses h, a whole header of proxyHeaderLen's length, and returns the client's
// address and port, or the zero AddrPort where the header names none: a version 1 UNKNOWN, a
// version 2 LOCAL (the balancer's own health check), or a family other than IPv4 and IPv6. The
// connection's own peer stands for the client then, as proxy-protocol.txt asks.
func parseProxyHeader(h []byte) (netip.AddrPort, error) {
	if h[0] == 'P' {
		return parseProxyV1(h)
	}
	return parseProxyV2(h)
}

// parseProxyV1 parses "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN ...\r\n", its
// fields one space apart (proxy-protocol.txt 2.1).
func parseProxyV1(h []byte) (netip.AddrPort, error) {
	line, ok := bytes.CutSuffix(h, []byte("\r\n"))
	if !ok {
		return netip.AddrPort{}, errProxyHeader
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) >= 2 && string(f[1]) == "UNKNOWN" {
		return netip.AddrPort{}, nil // the rest of the line is ignored
	}
	if len(f) != 6 {
		return netip.AddrPort{}, errProxyHeader
	}
	v4 := string(f[1]) == "TCP4"
	if !v4 && string(f[1]) != "TCP6" {
		return netip.AddrPort{}, errProxyHeader
	}
	src, err1 := proxyV1Addr(f[2], v4)
	_, err2 := proxyV1Addr(f[3], v4)
	sport, err3 := proxyV1Port(f[4])
	_, err4 := proxyV1Port(f[5])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return netip.AddrPort{}, errProxyHeader
	}
	return netip.AddrPortFrom(src, sport), nil
}

// proxyV1Addr parses an address of the family its header named, without an IPv6 zone.
func proxyV1Addr(b []byte, v4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Is4() != v4 || a.Zone() != "" {
		return netip.Addr{}, errProxyHeader
	}
	return a, nil
}

// proxyV1Port parses a port: decimal digits, no leading zero, at most 65535.
func proxyV1Port(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, errProxyHeader
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errProxyHeader
		}
	}
	p, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return 0, errProxyHeader
	}
	return uint16(p), nil
}

// Version 2's command, family and transport (proxy-protocol.txt 2.2).
const (
	proxyV2Local   = 0x20 // version 2, LOCAL
	proxyV2Proxy   = 0x21 // version 2, PROXY
	proxyFamUnspec = 0x0
	proxyFamInet   = 0x1
	proxyFamInet6  = 0x2
	proxyFamUnix   = 0x3
	proxyStream    = 0x1
)

// parseProxyV2 parses a version 2 header. Its TLVs, after the addresses, are not read.
func parseProxyV2(h []byte) (netip.AddrPort, error) {
	switch h[12] {
	case proxyV2Local:
		return netip.AddrPort{}, nil // the addresses, if any, are to be ignored
	case proxyV2Proxy:
	default:
		return netip.AddrPort{}, errProxyHeader
	}
	fam, transport, body := h[13]>>4, h[13]&0xf, h[proxyV2Fixed:]
	var src netip.Addr
	var sport []byte
	switch fam {
	case proxyFamInet:
		if len(body) < 12 {
			return netip.AddrPort{}, errProxyHeader
		}
		src, sport = netip.AddrFrom4([4]byte(body[0:4])), body[8:10]
	case proxyFamInet6:
		if len(body) < 36 {
			return netip.AddrPort{}, errProxyHeader
		}
		src, sport = netip.AddrFrom16([16]byte(body[0:16])), body[32:34]
	case proxyFamUnspec, proxyFamUnix:
		return netip.AddrPort{}, nil // no address to take
	default:
		return netip.AddrPort{}, errProxyHeader
	}
	if transport != proxyStream {
		return netip.AddrPort{}, errProxyHeader // a datagram has no business on a TCP listener
	}
	return netip.AddrPortFrom(src, binary.BigEndian.Uint16(sport)), nil
}
