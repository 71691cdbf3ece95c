package h1

import (
	"net/http"
	"strings"

	"muxgate/internal/fieldlist"
)

// WriteFields sends the final response head of w, a ResponseWriter of this package's, from a
// list of fields: the same bytes, up to the order of the fields, as WriteHeader(code) with a
// header map holding them, but without the map. Names may be in any case (an HTTP/2 list's are
// lower case) and go out in canonical form. Fields meant for after the body (declared in a
// Trailer field, or named with http.TrailerPrefix) go into w.Header(), as they would stay in a
// map. The handler then writes the body as after WriteHeader, and w.Header() serves only for
// trailers.
//
// The values go out as they are: list keeps fieldlist.Field's contract, its values checked
// where it was made (the upstream session checks each it receives, RFC 9113 8.2.1), so a second
// check here would only cost. A field whose name is no token is left out, as from a header map.
//
// It reports whether it wrote: not for another ResponseWriter, a code outside 200-999, or once
// the handler set fields in w.Header() or wrote anything. The caller then answers through the
// header map.
func WriteFields(rw http.ResponseWriter, code int, list []fieldlist.Field) bool {
	w, ok := rw.(*response)
	if !ok || code < 200 || code > 999 || len(w.header) > 0 || w.wroteHeader || w.done {
		return false
	}
	f := w.listFacts(list)
	w.startHead(code, false, &f)
	bw := w.bw
	for _, fl := range list {
		if w.sendListField(fl.Name) {
			writeValid(bw, fl.Name, fl.Value, true)
		} else if w.trailerField(fl.Name) {
			h, k := w.Header(), http.CanonicalHeaderKey(fl.Name)
			h[k] = append(h[k], fl.Value)
		}
	}
	w.endHead(code, &f)
	return true
}

// listFacts is what writeHeader reads in a header map, read in a list.
func (w *response) listFacts(list []fieldlist.Field) headFacts {
	var f headFacts
	// Room for the values that are usually one each, so that reading them allocates nothing.
	var lengths, trailer, connection []string
	var buf [3]string
	for _, fl := range list {
		switch {
		case fieldlist.SameName(fl.Name, "content-length"):
			lengths = appendValue(lengths, buf[0:0:1], fl.Value)
		case fieldlist.SameName(fl.Name, "trailer"):
			trailer = appendValue(trailer, buf[1:1:2], fl.Value)
		case fieldlist.SameName(fl.Name, "connection"):
			connection = appendValue(connection, buf[2:2:3], fl.Value)
		case fieldlist.SameName(fl.Name, "date"):
			f.hasDate = true
		}
	}
	f.length, f.hasLength = handlerLength(lengths)
	if trailer != nil && w.head.http11() {
		f.declared = declaredTrailers(trailer)
	}
	f.close = hasToken(connection, "close")
	return f
}

// appendValue appends v to values, starting values in room (a slice of length 0) when it is
// nil.
func appendValue(values, room []string, v string) []string {
	if values == nil {
		values = room
	}
	return append(values, v)
}

// sendListField is sendField for a name as it stands in a list: in any case, and never with
// http.TrailerPrefix, which is not a token.
func (w *response) sendListField(name string) bool {
	switch {
	case fieldlist.SameName(name, "content-length"), fieldlist.SameName(name, "transfer-encoding"), fieldlist.SameName(name, "connection"),
		fieldlist.SameName(name, "keep-alive"), fieldlist.SameName(name, "trailer"), !isToken(name):
		return false
	}
	for _, t := range w.trailers {
		if fieldlist.SameName(name, t) {
			return false
		}
	}
	return true
}

// trailerField reports whether the field name is one for the trailer section: declared, or
// named with http.TrailerPrefix.
func (w *response) trailerField(name string) bool {
	if strings.HasPrefix(name, http.TrailerPrefix) {
		return true
	}
	for _, t := range w.trailers {
		if fieldlist.SameName(name, t) {
			return true
		}
	}
	return false
}

// appendCanonical appends the token name in canonical form, as http.CanonicalHeaderKey gives it:
// upper case at its start and after each hyphen, lower case elsewhere. The names most responses
// carry, in the lower case HTTP/2 and HTTP/3 send them in, come from a table (commonCanonical):
// a byte at a time, "content-type" took about 160 instructions (callgrind).
func appendCanonical(b []byte, name string) []byte {
	if c := commonCanonical(name); c != "" {
		return append(b, c...)
	}
	n := len(b)
	b = append(b, name...) // one copy, then the case fixed in place
	upper := true
	for i := n; i < len(b); i++ {
		b[i], upper = canonicalByte(b[i], upper)
	}
	return b
}

// commonCanonical returns the canonical form of name, a response field name in lower case that
// most responses carry, or "" for any other. The compiler makes the switch a jump on the length
// and word compares.
func commonCanonical(name string) string {
	switch name {
	case "content-type":
		return "Content-Type"
	case "content-length":
		return "Content-Length"
	case "date":
		return "Date"
	case "server":
		return "Server"
	case "cache-control":
		return "Cache-Control"
	case "last-modified":
		return "Last-Modified"
	case "etag":
		return "Etag"
	case "expires":
		return "Expires"
	case "vary":
		return "Vary"
	case "location":
		return "Location"
	case "set-cookie":
		return "Set-Cookie"
	case "accept-ranges":
		return "Accept-Ranges"
	case "content-encoding":
		return "Content-Encoding"
	case "age":
		return "Age"
	case "via":
		return "Via"
	case "x-content-type-options":
		return "X-Content-Type-Options"
	case "strict-transport-security":
		return "Strict-Transport-Security"
	case "access-control-allow-origin":
		return "Access-Control-Allow-Origin"
	}
	return ""
}

// canonicalByte is one step of appendCanonical: c in upper case if upper, else in lower case,
// and whether the byte after it goes in upper case.
func canonicalByte(c byte, upper bool) (byte, bool) {
	if upper && 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	} else if !upper && 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c, c == '-'
}
