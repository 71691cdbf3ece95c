package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/headtest"
)

// hopSeeds are header blocks (the field lines of a request head, without the request line):
// real ones captured from curl 7.88.1 (plain, --http2 upgrade, -H 'TE: trailers'), h2load
// 1.52.0 --h1 and Wget 1.21.3, a browser's, and the known attack shapes: a client listing the
// gateway's own fields in Connection so that a proxy would strip them, empty list members, odd
// whitespace and case, TE with parameters and q-values, and long lists.
var hopSeeds = []string{
	"Host: 127.0.0.1:35859\r\nUser-Agent: curl/7.88.1\r\nAccept: */*",
	"Host: 127.0.0.1:35859\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
	"Host: 127.0.0.1:35859\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nTE: trailers",
	"Host: 127.0.0.1:35859\r\nuser-agent: h2load nghttp2/1.52.0",
	"Host: 127.0.0.1:35859\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: Keep-Alive",
	"Host: example.com\r\nConnection: keep-alive\r\nCache-Control: max-age=0\r\nsec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\nsec-ch-ua-mobile: ?0\r\nUpgrade-Insecure-Requests: 1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nSec-Fetch-Site: none\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9",
	"Host: example.com\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Host: a\r\nProxy-Connection: Keep-Alive\r\nKeep-Alive: timeout=5, max=100",
	"Host: a\r\nContent-Type: application/grpc\r\nTE: trailers\r\nConnection: TE",
	// A client asking the gateway to strip the fields it adds itself.
	"Connection: close, X-Forwarded-For\r\nX-Forwarded-For: 203.0.113.9",
	"Connection: Via, X-Forwarded-Proto, x-forwarded-for\r\nVia: 1.1 evil\r\nX-Forwarded-Proto: https",
	"Connection: ,,,",
	"Connection: ,\t, ,X-A,\r\nX-A: 1\r\nX-B: 2",
	"Connection: keep-alive , Upgrade\r\nUpgrade: h2c",
	"CONNECTION: X-SECRET\r\nx-secret: 1\r\nX-Secret: 2\r\nx-Secret-Not: 3",
	"Connection:\r\nTE:\r\nX-Empty:",
	"Connection: a\r\nConnection: b\r\nA: 1\r\nB: 2\r\nC: 3",
	"Connection: Connection, TE, Content-Length\r\nContent-Length: 0\r\nTE: trailers",
	"Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nX-Sum: 1",
	"TE: gzip;q=0.5, trailers",
	"TE: deflate;q=0.3, TRAILERS ;q=1",
	"TE: trailers;q=0",
	"TE: gzip\r\nTE: Trailers",
	"TE: trailer, trailerss, xtrailers",
	"TE: x;p=\"a, trailers\"",
	"TE: trailerſ",
	"TE: \ttrailers\t",
	"Connection: " + strings.Repeat("X-A, ", 200) + "X-B\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3",
	"TE: " + strings.Repeat("gzip;q=0.1, ", 200) + "trailers",
	"X: a\r\n b\r\nConnection: X",
	"Connection: x-a;q=1, X-B\r\nX-A: 1\r\nX-B: 2\r\nConnection: x-c d, \"x-d\"\r\nX-C: 3\r\nX-D: 4",
	"X-Forwarded-For:\r\nVia:\r\nVia: , ,",
	"X-Forwarded-For: ,198.51.100.1 ,,\r\nVia: 1.0 a\r\nVia: ,",
}

// FuzzRemoveHopHeaders parses a header block with net/http's own field parser (net/textproto,
// which rejects what net/http would), runs removeHopHeaders on it, and checks the result against
// hopReference, a plain and slow reading of the contract; the TE answer is also checked against
// x/net's httpguts, which net/http uses for the same question, where the two readings coincide.
// It then adds the forwarding fields, as outbound does, and checks that no Connection list
// keeps the gateway from recording the client.
func FuzzRemoveHopHeaders(f *testing.F) {
	for _, s := range hopSeeds {
		f.Add(s)
		f.Add(strings.ReplaceAll(s, "\r\n", "\n"))
	}
	f.Fuzz(func(t *testing.T, block string) {
		mh, err := textproto.NewReader(bufio.NewReader(strings.NewReader(block + "\r\n\r\n"))).ReadMIMEHeader()
		if err != nil {
			return
		}
		h := http.Header(mh)
		in := h.Clone()
		want, wantTrailers := hopReference(in)

		trailers := removeHopHeaders(h)
		if !reflect.DeepEqual(h, want) {
			t.Errorf("removeHopHeaders(%q):\n got %q\nwant %q", in, h, want)
		}
		if trailers != wantTrailers {
			t.Errorf("removeHopHeaders(%q) reported trailers %v, want %v", in, trailers, wantTrailers)
		}
		if te := in["Te"]; !slices.ContainsFunc(te, func(v string) bool { return strings.Contains(v, ";") }) {
			if guts := httpguts.HeaderValuesContainsToken(te, "trailers"); trailers != guts {
				t.Errorf("TE %q: removeHopHeaders reported trailers %v, httpguts %v", te, trailers, guts)
			}
		}
		again := h.Clone()
		if removeHopHeaders(again) || !reflect.DeepEqual(again, h) {
			t.Errorf("a second removeHopHeaders changed %q to %q", h, again)
		}

		client := &http.Request{RemoteAddr: "192.0.2.7:5555", ProtoMajor: 1, ProtoMinor: 1}
		forwarding{forwardedFor: true, forwardedProto: true, via: true}.add(h, client)
		if xff := h["X-Forwarded-For"]; len(xff) != 1 || (xff[0] != "192.0.2.7" && !strings.HasSuffix(xff[0], ", 192.0.2.7")) {
			t.Errorf("after Connection %q, X-Forwarded-For is %q; want the client's address last", in["Connection"], xff)
		}
		if proto := h["X-Forwarded-Proto"]; !slices.Equal(proto, []string{"http"}) {
			t.Errorf("after Connection %q, X-Forwarded-Proto is %q; want [http]", in["Connection"], proto)
		}
		if via := h["Via"]; len(via) == 0 || via[len(via)-1] != "1.1 muxgate" {
			t.Errorf("after Connection %q, Via is %q; want 1.1 muxgate last", in["Connection"], via)
		}
		checkNoEmptyElements(t, h, forwarding{forwardedFor: true, via: true}, true)
	})
}

// hopByHop are the fields that removeHopHeaders's doc comment names, spelled as it does.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "TE", "Trailer", "HTTP2-Settings"}

// hopReference is the contract of removeHopHeaders, written for clarity rather than speed: the
// fields of h that remain once the hop-by-hop ones and every one Connection names are gone
// (RFC 9110 7.6.1), and whether some member of a TE list is "trailers" (RFC 9110 10.1.4). Field
// names and list members compare ASCII case-insensitively, as tokens do (RFC 9110 5.1, 5.6.2);
// list members are split at commas, empty ones ignored and OWS trimmed (RFC 9110 5.6.1); a
// Connection member that is not a token names no field (RFC 9110 7.6.1); a TE member's name ends
// at its first ';'. It shares h's value slices and changes nothing in h.
func hopReference(h http.Header) (kept http.Header, trailers bool) {
	drop := make(map[string]bool)
	for _, name := range hopByHop {
		drop[headtest.LowerASCII(name)] = true
	}
	for name, values := range h {
		switch headtest.LowerASCII(name) {
		case "connection":
			for _, v := range values {
				for _, option := range strings.Split(v, ",") {
					if option = strings.Trim(option, " \t"); httpguts.ValidHeaderFieldName(option) {
						drop[headtest.LowerASCII(option)] = true
					}
				}
			}
		case "te":
			for _, v := range values {
				for _, member := range strings.Split(v, ",") {
					coding, _, _ := strings.Cut(member, ";")
					if headtest.LowerASCII(strings.Trim(coding, " \t")) == "trailers" {
						trailers = true
					}
				}
			}
		}
	}
	kept = make(http.Header)
	for name, values := range h {
		if !drop[headtest.LowerASCII(name)] {
			kept[name] = values
		}
	}
	return kept, trailers
}

// FuzzAppendVia appends a Via entry to prior values, as writeHead and forwarding.add do, and
// checks that the result is prior then entry, and that neither appendVia nor a later append to
// its result changes prior (spare capacity included), entry, or the shared entries of
// viaReceived and viaResponse.
func FuzzAppendVia(f *testing.F) {
	f.Add("", uint8(0), 1, 1)
	f.Add("1.1 edge", uint8(0), 1, 0)
	f.Add("1.1 edge\n1.0 cache (squid/5.7)", uint8(3), 2, 0)
	f.Add("1.1 edge", uint8(1), 2, 0)
	f.Add("HTTP/1.1 a, 2 b\n\n", uint8(8), 3, 0)
	f.Add("", uint8(4), 1, 0)
	f.Fuzz(func(t *testing.T, joined string, spare uint8, major, minor int) {
		shared := [][]string{via10, via11, via2, via3}
		sharedCopy := make([][]string, len(shared))
		for i, s := range shared {
			sharedCopy[i] = slices.Clone(s)
		}

		var prior []string
		if joined != "" {
			prior = strings.Split(joined, "\n")
		}
		// Spare capacity past len(prior), filled, so that a write into it is seen.
		backing := make([]string, len(prior), len(prior)+int(spare))
		copy(backing, prior)
		full := backing[:cap(backing)]
		for i := len(prior); i < len(full); i++ {
			full[i] = "spare " + strconv.Itoa(i)
		}
		prior = backing
		before := slices.Clone(full)

		entries := [][]string{
			viaReceived(&http.Request{ProtoMajor: major, ProtoMinor: minor}),
			viaResponse(&http.Response{ProtoMajor: major, ProtoMinor: minor}),
		}
		for _, entry := range entries {
			got := appendVia(prior, entry)
			if want := slices.Concat(prior, entry); !slices.Equal(got, want) {
				t.Errorf("appendVia(%q, %q) = %q, want %q", prior, entry, got, want)
			}
			_ = append(got, "next hop")
			if !slices.Equal(full, before) {
				t.Errorf("appendVia(%q, %q), then an append to its result, changed prior's array to %q", before[:len(prior)], entry, full)
			}
		}
		for i, s := range shared {
			if !slices.Equal(s, sharedCopy[i]) {
				t.Errorf("shared Via entry %d changed from %q to %q", i, sharedCopy[i], s)
			}
		}
	})
}

// upstreamSeeds are the documented forms, the ones the tests use, and the malformed shapes an
// operator could type.
var upstreamSeeds = []string{
	"h2c://127.0.0.1:9000", "h2c://10.0.0.5:9000", "https://app.internal:443", "https://up.test",
	"h3://up.test:8443", "h3://[::1]", "h3+h2://up.test:8443", "h2://up.test", "H3://UP.test:443/",
	"h3://[fe80::1%25eth0]:443", "h2c://[::1]:80", "unix:/run/app.sock", "unix:///run/app.sock", "unix:run/app.sock", "unix://h/p",
	"h3+h2://up.test:8443/path", "quic://up.test:8443", "ftp://127.0.0.1:21", "h2c://127.0.0.1",
	"h2c://:9000", "https://:443", "h2c://h:0", "h2c://h:65535", "h2c://h:65536", "h3://h:99999999999999999999",
	"h3://h:00443", "h3://h:", "h3://[::1]:", "h3://::1", "h3://a:b:1", "h3://h#frag", "h3://h?", "h3://h?q=1",
	"https://user:pw@h", "h2c://h:1/x", "h2c:h:1", "//h:1", "", "h3://h:+1", "h3://é", "h3://[::1%25]:1",
	"h2://:", // found by the fuzzer: accepted with an empty host, dialing ":443"
}

// upstreamSchemes are the URL schemes parseUpstream takes, with the proto and :scheme of each.
var upstreamSchemes = map[string]struct{ proto, scheme string }{
	"h2c":   {"h2c", "http"},
	"https": {"h2", "https"},
	"h2":    {"h2", "https"},
	"h3":    {"h3", "https"},
	"h3+h2": {"h3+h2", "https"},
}

// FuzzParseUpstream checks what parseUpstream accepts: url.Parse accepts it too and reads the
// same scheme, host and port from it; there is nothing but scheme://host[:port][/]; the host is
// not empty and is an IP literal if it holds a colon; the port is one that can be dialed; the
// address is the host and port joined; and the address, put back into a URL of the same
// scheme, parses to the same target. A refusal is an ErrConfig.
func FuzzParseUpstream(f *testing.F) {
	for _, s := range upstreamSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := parseUpstream(raw)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("parseUpstream(%q): %v, want an ErrConfig", raw, err)
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parseUpstream accepted %q as %+v; url.Parse: %v", raw, got, err)
		}
		if u.Scheme == "unix" {
			// A Unix socket: h2c to its absolute path, with nothing else in the URL.
			if !got.unix || got.proto != "h2c" || got.address != u.Path || !strings.HasPrefix(got.address, "/") || u.Host != "" ||
				u.RawQuery != "" || u.Fragment != "" || u.User != nil || got.authority != "localhost" {
				t.Errorf("parseUpstream(%q) = %+v: want h2c to the socket at %q", raw, got, u.Path)
			}
			return
		}
		if got.unix || got.authority != got.address {
			t.Errorf("parseUpstream(%q) = %+v: a network address's authority is the address", raw, got)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
			t.Errorf("parseUpstream accepted %q as %+v: more than scheme://host:port", raw, got)
		}
		want, ok := upstreamSchemes[u.Scheme]
		if !ok || got.proto != want.proto || got.scheme != want.scheme {
			t.Errorf("parseUpstream(%q) = %+v: scheme %q wants proto %q, scheme %q", raw, got, u.Scheme, want.proto, want.scheme)
		}
		if got.host == "" || got.host != u.Hostname() {
			t.Errorf("parseUpstream(%q) = %+v: want the non-empty host %q", raw, got, u.Hostname())
		}
		if strings.Contains(got.host, ":") {
			if _, err := netip.ParseAddr(got.host); err != nil {
				t.Errorf("parseUpstream(%q) = %+v: host with a colon is no IP address: %v", raw, got, err)
			}
		}
		host, port, err := net.SplitHostPort(got.address)
		if err != nil || host != got.host || got.address != net.JoinHostPort(got.host, port) {
			t.Errorf("parseUpstream(%q) = %+v: address is not host:port (%q, %q, %v)", raw, got, host, port, err)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			t.Errorf("parseUpstream(%q) = %+v: port %q cannot be dialed", raw, got, port)
		}
		switch {
		case u.Port() != "" && port != u.Port():
			t.Errorf("parseUpstream(%q) = %+v: port %q, want %q", raw, got, port, u.Port())
		case u.Port() == "" && (port != "443" || got.proto == "h2c"):
			t.Errorf("parseUpstream(%q) = %+v: no port given, so want 443, and an error for h2c", raw, got)
		}
		again := (&url.URL{Scheme: u.Scheme, Host: got.address}).String()
		if back, err := parseUpstream(again); err != nil || back != got {
			t.Errorf("parseUpstream(%q) = %+v, but its address as %q gives %+v, %v", raw, got, again, back, err)
		}
	})
}
