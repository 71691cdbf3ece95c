// Package headtest holds what the tests of h1 and gateway share about header fields: reading a
// response off the wire as sent, a form of it that ignores what two ways of writing a head may
// rightly differ in, and the case folding of tokens.
package headtest

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"muxgate/internal/fieldlist"
)

// Fields builds a list from name, value pairs.
func Fields(kv ...string) []fieldlist.Field {
	var list []fieldlist.Field
	for i := 0; i+1 < len(kv); i += 2 {
		list = append(list, fieldlist.Field{Name: kv[i], Value: kv[i+1]})
	}
	return list
}

// ReadRaw reads one response to a request with method from r, as net/http's client reads it
// (its body to the end), and returns the bytes it took, and whether the connection stays open.
func ReadRaw(r io.Reader, method string) (raw string, open bool, err error) {
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(r, &got))
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return got.String(), false, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return got.String()[:got.Len()-br.Buffered()], !res.Close, nil
}

// Normalize sorts a response's header lines by name, keeping the order of each name's lines
// (its values' order, RFC 9110 5.3), and blanks the value of a Date line that is none of the
// values in sent: a Date the server added, which two responses may give for different seconds.
// The trailer fields of a chunked body are sorted so too: those a handler names with
// http.TrailerPrefix come from its header map, which has no order.
func Normalize(raw string, sent []fieldlist.Field) string {
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	chunked := false
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "Date: "); ok && !slices.ContainsFunc(sent, func(f fieldlist.Field) bool { return f.Value == v }) {
			lines[i] = "Date: (server's)"
		}
		chunked = chunked || strings.EqualFold(l, "Transfer-Encoding: chunked")
	}
	sortByName(lines[1:])
	if chunked {
		body = sortTrailers(body)
	}
	return strings.Join(lines, "\r\n") + "\r\n\r\n" + body
}

// sortByName sorts field lines by name, stably.
func sortByName(lines []string) {
	slices.SortStableFunc(lines, func(a, b string) int {
		an, _, _ := strings.Cut(a, ":")
		bn, _, _ := strings.Cut(b, ":")
		return strings.Compare(an, bn)
	})
}

// sortTrailers sorts the trailer section of a chunked body by name (RFC 9112 7.1.2), and leaves
// a body whose framing it cannot follow as it is.
func sortTrailers(body string) string {
	rest := body
	for {
		line, after, ok := strings.Cut(rest, "\r\n")
		if !ok {
			return body
		}
		sizeHex, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseUint(strings.TrimSpace(sizeHex), 16, 63)
		if err != nil {
			return body
		}
		if size > 0 {
			if uint64(len(after)) < size+2 {
				return body
			}
			rest = after[size+2:]
			continue
		}
		section, tail, ok := strings.Cut(after, "\r\n\r\n")
		if !ok || strings.HasPrefix(after, "\r\n") {
			return body // no trailer fields
		}
		fields := strings.Split(section, "\r\n")
		sortByName(fields)
		return body[:len(body)-len(after)] + strings.Join(fields, "\r\n") + "\r\n\r\n" + tail
	}
}

// LowerASCII maps A-Z to a-z and leaves every other byte alone: the case folding of tokens
// (RFC 9110 5.6.2), which unlike Unicode's never turns a non-ASCII letter into an ASCII one.
func LowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
