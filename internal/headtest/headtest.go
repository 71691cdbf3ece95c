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
func Normalize(raw string, sent []fieldlist.Field) string {
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "Date: "); ok && !slices.ContainsFunc(sent, func(f fieldlist.Field) bool { return f.Value == v }) {
			lines[i] = "Date: (server's)"
		}
	}
	slices.SortStableFunc(lines[1:], func(a, b string) int {
		an, _, _ := strings.Cut(a, ":")
		bn, _, _ := strings.Cut(b, ":")
		return strings.Compare(an, bn)
	})
	return strings.Join(lines, "\r\n") + "\r\n\r\n" + body
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
