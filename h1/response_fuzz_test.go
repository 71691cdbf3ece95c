package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/headtest"
)

// These fuzz the two readings of a handler's header that decide a response's framing: the
// names its Trailer field declares and its Content-Length. A handler's header is not trusted
// input: the gateway's is its upstream's, whose trailer names it passes on. The fuzz input is
// the field's values, one per line (a handler may set several).
//
// Run one with: go test ./h1 -run XXX -fuzz '^FuzzDeclaredTrailers$' -fuzztime 45s

// trailerSeeds are Trailer field values: real ones (the demo handler's, the h2 tests', what
// the gateway announces for a gRPC upstream, one name a value, and net/http's example) and the
// known attack shapes: the framing and routing fields a trailer must not carry, in every case;
// a name listed twice; empty members and odd whitespace; bytes that are not a token's, a CRLF
// among them to split the header; http.TrailerPrefix, which names no field; long lists.
var trailerSeeds = []string{
	"X-Checksum",
	"X-Body-Sha256",
	"Grpc-Status\nGrpc-Message\nGrpc-Status-Details-Bin",
	"AtEnd1, AtEnd2\nAtEnd3",
	"X-Sum, Content-Length",
	"content-length, TRANSFER-ENCODING, tE, trailer, host, Set-Cookie, if-none-match, X-Ok",
	"Connection\nKeep-Alive\nUpgrade\nProxy-Authorization\nCache-Control",
	"X-A, x-a, X-A\nx-A",       // was declared four times, its value sent four times
	"grpc-status\nGrpc-Status", // was declared twice
	",,,\n\n , \t,",
	"\tX-A\t,  X-B  ",
	"X A, X\tB",
	"X-A;q=1, \"X-B\", X-C:",
	"X-A\r\nInjected: 1",
	"X-A\x00, X-\xffB, X-Ä, \u212aey",
	http.TrailerPrefix + "X-A",
	"x-a-, -x, x--y, 9, !#$%&'*+-.^_`|~",
	strings.Repeat("X-A, ", 500) + "X-B",
	strings.Repeat("x,", 300) + strings.Repeat("y, ", 300),
}

// trailerReference is declaredTrailers's contract, read slowly: the set of members of the
// comma-separated values, OWS (SP, HTAB) trimmed, that are tokens (RFC 9110 5.6.2), in their
// canonical form, and that a trailer may carry (forbiddenTrailer, RFC 9110 6.5.1).
func trailerReference(values []string) map[string]bool {
	names := make(map[string]bool)
	for _, v := range values {
		for _, m := range strings.Split(v, ",") {
			m = strings.Trim(m, " \t")
			if !httpguts.ValidHeaderFieldName(m) {
				continue
			}
			if k := textproto.CanonicalMIMEHeaderKey(m); !forbiddenTrailer(k) {
				names[k] = true
			}
		}
	}
	return names
}

// listed returns the members of the comma-separated values, OWS trimmed, in ASCII lower case:
// a name is listed, ignoring case, if listed[headtest.LowerASCII(name)].
func listed(values []string) map[string]bool {
	members := make(map[string]bool)
	for _, v := range values {
		for _, m := range strings.Split(v, ",") {
			members[headtest.LowerASCII(strings.Trim(m, " \t"))] = true
		}
	}
	return members
}

// FuzzDeclaredTrailers: every name declared is a token, canonical (so that it finds the
// handler's values in its header map, and matches the keys writeTrailerSection compares it
// with), one a trailer may carry, one the handler listed, and declared once: each declared
// name's fields are written at the end of the body, and a name declared twice would have its
// values sent twice, as a list of both (RFC 9110 5.3). The names are the reference's, and the
// Trailer field writeHeader makes of them declares the same names again. Last, the check
// against net/http: a response with that Trailer field and the trailer section that
// writeTrailerSection writes for one value of each name, read by http.ReadResponse, has
// exactly those trailers, each with its one value.
func FuzzDeclaredTrailers(f *testing.F) {
	for _, s := range trailerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		values := strings.Split(field, "\n")
		got := declaredTrailers(values)
		declared, members := make(map[string]bool), listed(values)
		for _, k := range got {
			switch {
			case !httpguts.ValidHeaderFieldName(k):
				t.Fatalf("declaredTrailers(%.200q) declares %q, not a token", values, k)
			case http.CanonicalHeaderKey(k) != k:
				t.Fatalf("declaredTrailers(%.200q) declares %q, not in canonical form", values, k)
			case forbiddenTrailer(k):
				t.Fatalf("declaredTrailers(%.200q) declares %q, which a trailer may not carry", values, k)
			case declared[k]:
				t.Fatalf("declaredTrailers(%.200q) declares %q twice: %.200q", values, k, got)
			case !members[headtest.LowerASCII(k)]:
				t.Fatalf("declaredTrailers(%.200q) declares %q, which the values do not list", values, k)
			}
			declared[k] = true
		}
		if want := trailerReference(values); !reflect.DeepEqual(declared, want) {
			t.Errorf("declaredTrailers(%.200q) = %.200q, want the names %.200v", values, got, want)
		}
		if len(got) == 0 {
			return
		}
		// As writeHeader writes the field.
		field = strings.Join(got, ", ")
		if again := declaredTrailers([]string{field}); !slices.Equal(again, got) {
			t.Errorf("Trailer: %.200s declares %.200q, want %.200q", field, again, got)
		}

		h := make(http.Header)
		want := make(http.Header)
		for i, k := range got {
			h[k] = []string{strconv.Itoa(i)}
			want[k] = h[k]
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: " + field + "\r\n\r\n")
		writeTrailerSection(bw, h, got)
		bw.Flush()
		res, err := http.ReadResponse(bufio.NewReader(&buf), nil)
		if err != nil {
			t.Fatalf("net/http refuses %.300q: %v", buf.String(), err)
		}
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			t.Fatalf("net/http refuses the trailer section of %.300q: %v", buf.String(), err)
		}
		if !reflect.DeepEqual(res.Trailer, want) {
			t.Errorf("net/http reads the trailers of %.300q as %.200q, want %.200q", buf.String(), res.Trailer, want)
		}
	})
}

// lengthSeeds are Content-Length field values: real ones (the bench's bodies; an empty body;
// the largest length; one the gateway copies from an upstream that sent the value twice) and the
// known attack shapes: a list of one value, which RFC 9110 8.6 lets a recipient read as that
// value, and of different ones; two lines that disagree, or agree only as numbers (refused); signs,
// spaces, other bases, Unicode digits, overflow, NUL and CR, empty members.
var lengthSeeds = []string{
	"100", "1", "65536", "0", "9223372036854775807",
	"100\n100",
	"100, 100", "100,100", " 100 ,\t100 ", "100, 101", "100\n101", "100\n0100", "0100",
	"", "\n", " ", ",", "100,", ",100", "100,,100", "100\n",
	"+100", "-100", "-0", "100 100", "1_000", "0x64", "1e2", "100.0", "١٠٠", "１００",
	"9223372036854775808", "18446744073709551616", "99999999999999999999",
	strings.Repeat("0", 100) + "7",
	"100\x00", "100\r", "\r100", "1\r\n00", "100;",
	strings.Repeat("5, ", 1000) + "5",
}

// lengthReference is handlerLength's contract, read slowly: every comma-separated member of
// every value, OWS trimmed, is 1*DIGIT (RFC 9110 8.6), all are spelled the same, and
// strconv.ParseInt reads the number without error; no value at all declares no length.
func lengthReference(values []string) (int64, bool) {
	var members []string
	for _, v := range values {
		for _, m := range strings.Split(v, ",") {
			members = append(members, strings.Trim(m, " \t"))
		}
	}
	if len(members) == 0 {
		return 0, false
	}
	for _, m := range members {
		if m == "" || strings.Trim(m, "0123456789") != "" || m != members[0] {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(members[0], 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// lengthListed reports whether net/http may refuse Content-Length values that this package
// reads as one length, as intended: the same number is listed in one field ("5, 5"), which
// RFC 9110 8.6 lets a recipient read as that number and net/http refuses whole; or the lines
// differ only in optional whitespace around it, which this package trims. Either way the
// response goes out with the length written afresh, once, as a plain decimal.
func lengthListed(values []string) bool {
	for _, v := range values {
		if strings.Contains(v, ",") || v != values[0] {
			return true
		}
	}
	return false
}

// FuzzHandlerLength: an accepted length is non-negative and is exactly what strconv.ParseInt
// reads from each member's digits; what is refused is refused whole (the response is then
// framed without the handler's length), as the reference has it. And the check against
// net/http on the same bytes: a response head carrying the values as Content-Length lines,
// read by http.ReadResponse, has the length this package reads from the values net/http's
// field reader gives; net/http refuses only what lengthListed allows for.
func FuzzHandlerLength(f *testing.F) {
	for _, s := range lengthSeeds {
		f.Add(s)
	}
	if n, ok := handlerLength(nil); n != 0 || ok {
		f.Fatalf("handlerLength(nil) = %d, %v; want no length", n, ok)
	}
	f.Fuzz(func(t *testing.T, field string) {
		values := strings.Split(field, "\n")
		n, ok := handlerLength(values)
		if ok && n < 0 {
			t.Errorf("handlerLength(%.200q) accepted %d", values, n)
		}
		if wantN, wantOK := lengthReference(values); n != wantN || ok != wantOK {
			t.Errorf("handlerLength(%.200q) = %d, %v; want %d, %v", values, n, ok, wantN, wantOK)
		}

		var b strings.Builder
		for _, v := range values {
			b.WriteString("Content-Length: " + v + "\r\n")
		}
		b.WriteString("\r\n")
		fields, err := textproto.NewReader(bufio.NewReader(strings.NewReader(b.String()))).ReadMIMEHeader()
		if err != nil {
			return // net/http's field reader refuses the lines before any length is read
		}
		cl := fields["Content-Length"]
		n, ok = handlerLength(cl)
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n"+b.String())), nil)
		switch {
		case err == nil && (!ok || n != res.ContentLength):
			t.Errorf("Content-Length %.200q: net/http reads %d; handlerLength %d, %v", cl, res.ContentLength, n, ok)
		case err != nil && ok && !lengthListed(cl):
			t.Errorf("Content-Length %.200q: handlerLength reads %d; net/http refuses it: %.200v", cl, n, err)
		}
	})
}
