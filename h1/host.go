package h1

import (
	"net/netip"
	"strings"
)

// validHost reports whether s is a Host field value this server takes: uri-host [ ":" port ]
// (RFC 9110 7.2, RFC 3986 3.2.2, 3.2.3). RFC 9112 3.2 has a server answer any other with 400.
// The same check applies to the authority of an absolute-form target, so that both forms agree.
//
//   - uri-host is an IP-literal holding an IPv6address ("[::1]"), or a reg-name, of which an
//     IPv4address is a case: unreserved and sub-delims bytes and well-formed pct-encoded
//     triplets. An IPv6 zone is refused: RFC 6874 4 has it removed before a URI leaves its host.
//     So is IPvFuture, which no upstream can route and net/url refuses in the absolute-form.
//   - port is *DIGIT. An empty one ("a:") is valid (RFC 3986 3.2.3; RFC 9110 4.2.3 reads it as
//     the default port) and goes upstream as sent. A port above 65535 is refused: it names no TCP
//     port, and a hop that keeps ports in 16 bits would read "a:65616" as port 80.
//   - The host is empty only without a port. An empty Host is what RFC 9112 3.2 asks for when
//     the target has no authority (checkOriginHost refuses it where one is needed); ":80" would
//     be an http URI with an empty host, which RFC 9110 4.2.1 has a recipient reject.
//
// Every request passes here, so it allocates nothing for a valid s, and a reg-name with its port
// takes one pass.
func validHost(s string) bool {
	if strings.HasPrefix(s, "[") {
		end := hostEnd(s)
		if end < 0 {
			return false
		}
		host, rest := s[:end], s[end:]
		return validIPLiteral(host) && (rest == "" || rest[0] == ':' && validPort(rest[1:]))
	}
	// A reg-name: *( unreserved / pct-encoded / sub-delims ), then the port.
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case regNameChar[c]:
		case c == ':':
			return i > 0 && validPort(s[i+1:])
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// validAuthority reports whether s is uri-host ":" port with a non-empty port, the
// authority-form of RFC 9112 3.2.3 (RFC 9110 9.3.6: CONNECT names a host and a port).
func validAuthority(s string) bool {
	return validHost(s) && hostEnd(s) < len(s)-1
}

// hostEnd returns where the uri-host at the start of s ends: after the ']' that closes an
// IP-literal, else at the first ':' (a reg-name holds none), else at the end of s. It returns -1
// for an IP-literal that is not closed.
func hostEnd(s string) int {
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return -1
		}
		return i + 1
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return i
	}
	return len(s)
}

// validIPLiteral reports whether host, as hostEnd delimits it, is an IP-literal holding an
// IPv6address without a zone (RFC 3986 3.2.2).
func validIPLiteral(host string) bool {
	// netip.ParseAddr takes exactly RFC 4291's text forms (RFC 3986's IPv6address), an IPv4
	// address or a zone as well; the last two are not IPv6address.
	addr, err := netip.ParseAddr(host[1 : len(host)-1])
	return err == nil && addr.Is6() && addr.Zone() == ""
}

// validPort reports whether s is a port (RFC 3986 3.2.3, *DIGIT) of at most 65535; empty is valid.
func validPort(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
		if n = n*10 + int(s[i]-'0'); n > 65535 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// regNameChar is unreserved and sub-delims (RFC 3986 2.2, 2.3), the bytes of a reg-name besides
// pct-encoded triplets.
var regNameChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-._~!$&'()*+,;=" {
		t[c] = true
	}
	return t
}()
