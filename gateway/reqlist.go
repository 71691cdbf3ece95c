package gateway

import (
	"net/http"
	"net/textproto"
	"strings"

	"muxgate/internal/fieldlist"
)

// outboundList does to the fields of r as h1 listed them (h1.RequestFields) what outbound does to
// a header map: removeHopHeaders, "te: trailers" where the client's TE allowed them, and
// forwarding.add. It returns the fields to send upstream, in the client's order with the
// gateway's own last, made in list's own array, which h1 leaves to the handler.
func (p *proxy) outboundList(list []fieldlist.Field, r *http.Request) []fieldlist.Field {
	var connection [2]string // the values of Connection, whose options name more fields to remove
	options := connection[:0]
	te := false
	ip, forwardedFor := p.forward.clientIP(r)
	var xff []string // the client's X-Forwarded-For values, where the gateway appends to them
	out := list[:0]
	for _, f := range list {
		switch {
		case hopName(f.Name):
			if fieldlist.SameName(f.Name, "connection") {
				options = append(options, f.Value)
			} else if fieldlist.SameName(f.Name, "te") {
				te = te || allowsTrailers(f.Value)
			}
		case forwardedFor && fieldlist.SameName(f.Name, "x-forwarded-for"):
			xff = append(xff, f.Value)
		case p.replaced(f):
		default:
			out = append(out, f)
		}
	}
	if len(options) > 0 {
		// The fields Connection lists, wherever they stood (RFC 9110 7.6.1), the client's
		// X-Forwarded-For among them: rare enough for a second pass, which spares the common
		// request a first one.
		var buf [4]string
		names := optionNames(buf[:0], options)
		out = withoutListed(out, names)
		if listedIn(names, "x-forwarded-for") {
			xff = nil
		}
	}
	if te {
		out = append(out, fieldlist.Field{Name: "te", Value: "trailers"})
	}
	if forwardedFor {
		out = append(out, fieldlist.Field{Name: "x-forwarded-for", Value: forwardedForValue(xff, ip)})
	}
	if p.forward.forwardedProto {
		out = append(out, fieldlist.Field{Name: "x-forwarded-proto", Value: proto(r)[0]})
	}
	if p.forward.via {
		// After the client's own Via fields, as appendVia puts it (RFC 9110 7.6.3).
		out = append(out, fieldlist.Field{Name: "via", Value: viaReceived(r)[0]})
	}
	if p.forward.forwarded {
		if e := forwardedElement(r); e != "" {
			// After the client's own, as the last element (RFC 7239 4).
			out = append(out, fieldlist.Field{Name: "forwarded", Value: e})
		}
	}
	if p.forward.requestID != "" {
		out = append(out, fieldlist.Field{Name: p.forward.requestIDLower, Value: newRequestID()})
	}
	if p.clientCert {
		out = append(out, clientCertFields(r)...)
	}
	return p.setReq.setList(out)
}

// replaced reports whether the gateway drops the client's field f for its own or for none:
// X-Forwarded-Proto, an empty Via or Forwarded (as forwarding.add drops it, withoutEmptyLists),
// the request ID field, and the client certificate fields (only the gateway says who the client
// is, clientcert.go).
func (p *proxy) replaced(f fieldlist.Field) bool {
	return p.forward.forwardedProto && fieldlist.SameName(f.Name, "x-forwarded-proto") ||
		p.forward.via && fieldlist.SameName(f.Name, "via") && emptyList(f.Value) ||
		p.forward.forwarded && fieldlist.SameName(f.Name, "forwarded") && emptyList(f.Value) ||
		p.forward.requestID != "" && fieldlist.SameName(f.Name, p.forward.requestIDLower) ||
		p.clientCert && clientCertName(f.Name)
}

// withoutListed returns list without the fields names lists, in list's array.
func withoutListed(list []fieldlist.Field, names []string) []fieldlist.Field {
	out := list[:0]
	for _, f := range list {
		if !listedIn(names, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// optionNames appends to dst the options that Connection values list (RFC 9110 7.6.1), each
// trimmed of whitespace: split once, where splitting them again for each field cost a request
// with "Connection: close" about 300 instructions. An element that is not a token lists nothing,
// as in removeHopHeaders, which says why; listedIn relies on that.
func optionNames(dst []string, values []string) []string {
	for _, v := range values {
		for option := range strings.SplitSeq(v, ",") {
			if option = textproto.TrimString(option); option != "" {
				dst = append(dst, option)
			}
		}
	}
	return dst
}

// listedIn reports whether names, Connection's options, list the field name. name is a token (h1
// lets no other field name through), and SameName folds only letters, so an option that is not
// a token never matches it; that is the whole check, and it costs nothing per field.
func listedIn(names []string, name string) bool {
	for _, o := range names {
		if fieldlist.SameName(o, name) {
			return true
		}
	}
	return false
}
