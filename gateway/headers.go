package gateway

import (
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/fieldlist"
)

// removeHopHeaders deletes the hop-by-hop fields, which a proxy must not forward (RFC 9110
// 7.6.1) and HTTP/2 forbids (RFC 9113 8.2.2), and every field that Connection lists. The
// hop-by-hop fields are Connection, Proxy-Connection (not standard, but old clients send it),
// Keep-Alive, Transfer-Encoding, Upgrade, TE, Trailer and HTTP2-Settings. It returns whether the
// TE field allowed trailers, the one TE value that may cross into HTTP/2 (RFC 9113 8.2.2).
//
// A Connection element that is not a token, "x-a;q=1" say, is ignored: connection-option = token
// (RFC 9110 7.6.1), so it is no option and names no field (field names are tokens, 5.1), and the
// rest of the list still counts. It is not refused with 400, as the framing and routing
// ambiguities are in h1: Connection ends at this hop (RFC 9113 8.2.2 forbids it upstream), so no
// hop behind the gateway can read the element otherwise, and RFC 9110 2.2 leaves a recipient free
// to recover from an invalid element. Nor is a token guessed out of it ("x-a"): a proxy before the
// gateway that ignored the element as well would have forwarded X-A on purpose, and a guess would
// let a client strip it. h1 reads the same element as neither close nor keep-alive.
// outboundList's listedIn makes the same choice for the fields h1 listed.
//
// It walks h once rather than deleting each hop-by-hop name: a request or response has a few
// fields, and comparing their keys costs less than hashing the eight names.
func removeHopHeaders(h http.Header) (teTrailers bool) {
	var connection, te []string
	for k, vv := range h {
		switch k {
		case "Connection":
			connection = vv
		case "Te":
			te = vv
		case "Proxy-Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Trailer", "Http2-Settings":
		default:
			continue
		}
		delete(h, k) // deleting the current key is safe during range
	}
	for _, v := range connection {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); httpguts.ValidHeaderFieldName(name) {
				h.Del(name) // only a token: see above
			}
		}
	}
	for _, v := range te {
		teTrailers = teTrailers || allowsTrailers(v)
	}
	return teTrailers
}

// allowsTrailers reports whether a TE field value lists the "trailers" coding.
func allowsTrailers(v string) bool {
	for coding := range strings.SplitSeq(v, ",") {
		coding, _, _ = strings.Cut(coding, ";")
		coding = textproto.TrimString(coding)
		// Tokens compare ASCII case-insensitively (RFC 9110 5.6.2), but strings.EqualFold
		// also folds U+017F to 's' and took "trailerſ" for trailers. Both runes folding to
		// ASCII letters are longer than one byte, so with equal lengths only ASCII matches.
		if len(coding) == len("trailers") && strings.EqualFold(coding, "trailers") {
			return true
		}
	}
	return false
}

// hopName reports whether removeHopHeaders removes the field name, in any letter case, by
// name alone (the fields that Connection lists aside). It runs for every field of every
// request and response, and compares the name only with the hop-by-hop names of its length
// and first letter (each starts with a lower-case letter, which c|0x20 equals for that letter
// in either case and for no other byte).
func hopName(name string) bool {
	if len(name) >= len(hopByLength) || name == "" {
		return false
	}
	for _, h := range hopByLength[len(name)] {
		if name[0]|0x20 == h[0] && fieldlist.SameName(name, h) {
			return true
		}
	}
	return false
}

// hopNames are the hop-by-hop field names (see removeHopHeaders).
var hopNames = [...]string{"connection", "te", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade", "trailer", "http2-settings"}

// hopByLength holds hopNames by their length.
var hopByLength = func() (t [len("transfer-encoding") + 1][]string) {
	for _, h := range hopNames {
		t[len(h)] = append(t[len(h)], h)
	}
	return t
}()

// forwarding says which forwarding fields the gateway adds to each request.
type forwarding struct {
	forwardedFor   bool
	forwardedProto bool
	forwarded      bool // the Forwarded field of RFC 7239 (forwarded.go)
	via            bool
	requestID      string // the request ID field's name, canonical (see requestid.go); "": none
	requestIDLower string // the same in lower case, as the outbound field lists have names
}

// Field values the gateway sets often, shared read-only so that setting them allocates nothing.
// Nothing may change their elements; appending copies (see appendVia).
var (
	teTrailers = []string{"trailers"}
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	via10      = []string{"1.0 muxgate"}
	via11      = []string{"1.1 muxgate"}
	via2       = []string{"2 muxgate"}
	via3       = []string{"3 muxgate"}
)

// viaReceived is the Via entry for a request received from a client (RFC 9110 7.6.3): the
// protocol version the gateway received, HTTP/1.x or, with h1's HTTP2, HTTP/2, then its
// pseudonym.
func viaReceived(r *http.Request) []string {
	switch {
	case r.ProtoMajor == 2:
		return via2
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return via10
	}
	return via11
}

// viaResponse is the Via entry added to responses, which arrive over HTTP/2 or HTTP/3.
func viaResponse(resp *http.Response) []string {
	if resp.ProtoMajor == 3 {
		return via3
	}
	return via2
}

// viaProtocol is viaResponse for a message that came over the pool's protocol (pool.Info.Protocol).
func viaProtocol(protocol string) []string {
	if protocol == "h3" {
		return via3
	}
	return via2
}

// appendVia adds entry to the Via values prior. The result never shares a backing array that
// prior's owner could see change: a shared slice is copied before it grows.
func appendVia(prior, entry []string) []string {
	if len(prior) == 0 {
		return entry
	}
	return append(prior[:len(prior):len(prior)], entry...)
}

// add sets X-Forwarded-For, X-Forwarded-Proto and Via on the outbound header h as f says, for
// the request in that arrived from the client. Neither list it writes has an empty element (see
// forwardedForValue and withoutEmptyLists).
func (f forwarding) add(h http.Header, in *http.Request) {
	if ip, ok := f.clientIP(in); ok {
		h["X-Forwarded-For"] = []string{forwardedForValue(h["X-Forwarded-For"], ip)}
	}
	if f.forwardedProto {
		h["X-Forwarded-Proto"] = proto(in)
	}
	if f.via {
		h["Via"] = appendVia(withoutEmptyLists(h["Via"]), viaReceived(in))
	}
	if f.forwarded {
		if e := forwardedElement(in); e != "" {
			h["Forwarded"] = appendVia(withoutEmptyLists(h["Forwarded"]), []string{e})
		}
	}
	if f.requestID != "" {
		setRequestID(h, f.requestID)
	}
}

// forwardedForValue is the X-Forwarded-For value sent upstream: the non-empty elements of the
// client's values prior, OWS trimmed, in order, then ip, joined by ", ". RFC 9110 5.6.1: a sender
// must not generate empty list elements, and joining an empty client value to the address made
// one (", 192.0.2.7"). The gateway writes the whole value, so it drops the client's empty
// elements too. Splitting at every comma is safe here: the elements are node names (addresses,
// "unknown", obfuscated identifiers), which hold no quoted strings or comments.
func forwardedForValue(prior []string, ip string) string {
	if len(prior) == 0 {
		return ip
	}
	n := len(ip)
	for _, v := range prior {
		n += len(v) + len(", ")
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range prior {
		for e := range strings.SplitSeq(v, ",") {
			if e = textproto.TrimString(e); e != "" {
				b.WriteString(e)
				b.WriteString(", ")
			}
		}
	}
	b.WriteString(ip)
	return b.String()
}

// withoutEmptyLists returns the Via values vv without those that hold no list element (see
// emptyList): sent next to the gateway's own Via, such a value is an empty element of the
// combined list, which RFC 9110 5.6.1 forbids a sender to generate. A value with elements is kept
// as sent, empty ones among them: Via comments may hold commas (RFC 9110 7.6.3), so the gateway
// does not split it. vv itself is not changed; it is returned as is when nothing goes.
func withoutEmptyLists(vv []string) []string {
	i := slices.IndexFunc(vv, emptyList)
	if i < 0 {
		return vv
	}
	kept := slices.Clone(vv[:i])
	for _, v := range vv[i+1:] {
		if !emptyList(v) {
			kept = append(kept, v)
		}
	}
	return kept
}

// emptyList reports whether the list field value v holds no element: it is empty or only commas
// and OWS (RFC 9110 5.6.1).
func emptyList(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != ',' && c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// clientIP returns the client's address for X-Forwarded-For, and whether the gateway sets the
// field: when f says so and the request's RemoteAddr is an address and a port.
func (f *forwarding) clientIP(r *http.Request) (string, bool) {
	if !f.forwardedFor {
		return "", false
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	return ip, err == nil
}

// proto is the X-Forwarded-Proto value for r: the scheme the client used to reach the gateway.
func proto(r *http.Request) []string {
	if r.TLS != nil {
		return protoHTTPS
	}
	return protoHTTP
}
