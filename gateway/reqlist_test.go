package gateway

import (
	"crypto/tls"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/fieldlist"
)

// FuzzOutboundList: a request whose fields h1 listed leaves through outboundList with what the
// same fields in a header map keep through removeHopHeaders, the TE rule and forwarding.add: the
// same fields, each name's values in the same order, whatever the forwarding options, client
// address, protocol version and scheme (the bits of opts). The input is the client's fields, one
// per line as "Name: value", names in any letter case and tokens, as h1 lets them through.
//
// Run with: go test ./gateway -run XXX -fuzz '^FuzzOutboundList$' -fuzztime 45s
func FuzzOutboundList(f *testing.F) {
	for i, s := range hopSeeds {
		f.Add(strings.ReplaceAll(s, "\r\n", "\n"), uint8(i))
		f.Add(strings.ReplaceAll(s, "\r\n", "\n"), uint8(7))
	}
	f.Add("Connection: x-forwarded-for\nX-Forwarded-For: 1.2.3.4\nx-forwarded-for: 5.6.7.8", uint8(7))
	f.Add("x-forwarded-proto: ftp\nVIA: 1.0 a\nvia: 2 b\nTe: gzip\nte: Trailers;q=1", uint8(63))
	f.Add("X-Forwarded-For:\nVia:\nvia: ,\t,", uint8(7))
	f.Add("x-forwarded-for: , 198.51.100.1,,\nX-Forwarded-For: ,\nVia: 1.0 a (b, , c)\nvia: ", uint8(5))
	f.Fuzz(func(t *testing.T, block string, opts uint8) {
		var list []fieldlist.Field
		for line := range strings.SplitSeq(block, "\n") {
			name, value, ok := strings.Cut(line, ":")
			if ok && httpguts.ValidHeaderFieldName(name) {
				list = append(list, fieldlist.Field{Name: name, Value: textproto.TrimString(value)})
			}
		}
		fw := forwarding{forwardedFor: opts&1 != 0, forwardedProto: opts&2 != 0, via: opts&4 != 0}
		r := &http.Request{RemoteAddr: "192.0.2.7:5555", ProtoMajor: 1, ProtoMinor: 1}
		if opts&8 != 0 {
			r.RemoteAddr = "pipe" // no port: no X-Forwarded-For
		}
		if opts&16 != 0 {
			r.ProtoMinor = 0
		}
		if opts&32 != 0 {
			r.TLS = &tls.ConnectionState{}
		}

		want := fieldlist.Header(list) // what h1 makes of the fields without ListFields
		if removeHopHeaders(want) {
			want["Te"] = teTrailers
		}
		fw.add(want, r)
		p := &proxy{forward: fw}
		out := p.outboundList(slices.Clone(list), r)
		got := fieldlist.Header(out)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fields %q, options %06b:\n got %q\nwant %q", list, opts, got, want)
		}
		checkNoEmptyElements(t, got, fw, opts&8 == 0)
	})
}

// checkNoEmptyElements fails t where the forwarding fields that the gateway wrote into h, as fw
// says, would give the upstream an empty list element (RFC 9110 5.6.1): any in X-Forwarded-For,
// which the gateway writes whole, when it sets it (withIP); a Via value with no element, which
// next to the gateway's own makes one (a value with elements is the client's, kept as sent).
func checkNoEmptyElements(t *testing.T, h http.Header, fw forwarding, withIP bool) {
	t.Helper()
	if fw.forwardedFor && withIP {
		for e := range strings.SplitSeq(strings.Join(h["X-Forwarded-For"], ","), ",") {
			if textproto.TrimString(e) == "" {
				t.Errorf("X-Forwarded-For %q has an empty element", h["X-Forwarded-For"])
			}
		}
	}
	if fw.via {
		for _, v := range h["Via"] {
			if strings.Trim(v, ", \t") == "" {
				t.Errorf("Via %q has a value with no element", h["Via"])
			}
		}
	}
}
