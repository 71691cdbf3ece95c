package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"muxgate/internal/fieldlist"
)

// chunkedReader decodes the chunked transfer coding (RFC 9112 7.1) from br. It is owned by the
// request body, which serializes its use.
type chunkedReader struct {
	br  *bufio.Reader
	lim limits // bounds the trailer section

	left    int64       // data bytes left in the current chunk
	needEnd bool        // the CRLF after a chunk's data is yet to be read
	debt    int64       // framing bytes not paid for by data, see chargeFraming
	trailer http.Header // the trailer fields, set once the last chunk has been read
}

// maxFramingDebt is how far a chunked body's framing may outgrow its data before the body is
// refused. Without a bound a client could send megabytes of chunk extensions or one-byte chunks
// that cost the server far more work than the data they carry.
const maxFramingDebt = 16 << 10

// Read reads chunk data into p. It returns io.EOF after the last chunk and the trailer section
// have been read, io.ErrUnexpectedEOF if the connection ends first, and an error matching
// ErrMalformedBody if the framing is broken.
func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.left == 0 {
		if r.needEnd {
			if err := r.readDataEnd(); err != nil {
				return 0, err
			}
			r.needEnd = false
		}
		size, err := r.readSizeLine()
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := r.readTrailer(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		r.left = size
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.br.Read(p)
	r.left -= int64(n)
	if r.left == 0 {
		r.needEnd = true
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readDataEnd reads the CRLF that ends a chunk's data.
func (r *chunkedReader) readDataEnd() error {
	b, err := r.br.Peek(2)
	if err != nil {
		return unexpectedEOF(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errChunkEnd
	}
	r.br.Discard(2)
	return nil
}

// readSizeLine reads chunk-size [ chunk-ext ] CRLF and returns the size.
func (r *chunkedReader) readSizeLine() (int64, error) {
	line, err := readLine(r.br)
	if err != nil {
		return 0, err
	}
	size, end, ok := parseHex(line)
	if !ok {
		return 0, errChunkSize
	}
	if !validChunkExt(line[end:]) {
		return 0, errChunkExt
	}
	if err := r.chargeFraming(len(line)+4, size); err != nil {
		return 0, err
	}
	return size, nil
}

// chargeFraming accounts for a chunk's framing (its size line and CRLFs): each chunk carries a
// small allowance plus as many framing bytes as it has data; the excess accumulates, and a body
// whose excess passes maxFramingDebt is refused. Ordinary senders, even of small chunks, never
// come near it.
func (r *chunkedReader) chargeFraming(framingBytes int, size int64) error {
	const allowance = 32
	r.debt += int64(framingBytes) - allowance - min(size, maxFramingDebt)
	r.debt = max(r.debt, 0)
	if r.debt > maxFramingDebt {
		return errChunkOverhead
	}
	return nil
}

// readTrailer reads the trailer section after the last chunk (RFC 9112 7.1.2), bounded like the
// header section, and keeps the fields a trailer may carry. r.trailer is set only once the
// section is complete.
func (r *chunkedReader) readTrailer() error {
	var trailer http.Header
	total, count := 0, 0
	for {
		line, err := readLine(r.br)
		if err != nil {
			if errors.Is(err, ErrMalformedBody) {
				return errTrailer
			}
			return err
		}
		if len(line) == 0 {
			r.trailer = trailer
			return nil
		}
		total += len(line) + 2
		if count++; count > r.lim.headerCount || total > r.lim.headerBytes {
			return errTrailer
		}
		name, value, err := parseField(string(line))
		if err != nil {
			return errTrailer
		}
		key := http.CanonicalHeaderKey(name)
		if forbiddenTrailer(key) {
			continue
		}
		if trailer == nil {
			trailer = make(http.Header)
		}
		trailer[key] = append(trailer[key], value)
	}
}

// readLine reads one CRLF-terminated line from br and returns it without the CRLF. The slice is
// valid until the next read. A line longer than br's buffer or ending in a bare LF is malformed.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errChunkLine
	case err != nil:
		return nil, unexpectedEOF(err)
	case len(line) < 2 || line[len(line)-2] != '\r':
		return nil, errChunkLine
	}
	return line[:len(line)-2], nil
}

// validChunkExt reports whether b is a sequence of chunk extensions:
// *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ), checked for shape and for
// the absence of control characters, which is what matters to a recipient that ignores them.
func validChunkExt(b []byte) bool {
	s := string(b)
	for {
		s = trimOWS(s)
		if s == "" {
			return true
		}
		if s[0] != ';' {
			return false
		}
		s = trimOWS(s[1:])
		n := tokenLen(s)
		if n == 0 {
			return false
		}
		s = trimOWS(s[n:])
		if s == "" || s[0] != '=' {
			continue
		}
		s = trimOWS(s[1:])
		if n = tokenLen(s); n == 0 {
			n = quotedLen(s)
		}
		if n == 0 {
			return false
		}
		s = s[n:]
	}
}

func tokenLen(s string) int {
	n := 0
	for n < len(s) && fieldlist.TokenByte(s[n]) {
		n++
	}
	return n
}

// quotedLen returns the length of the quoted-string (RFC 9110 5.6.4) at the start of s, or 0.
func quotedLen(s string) int {
	if s == "" || s[0] != '"' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i++; i == len(s) || !quotedChar(s[i]) {
				return 0
			}
		case !quotedChar(c):
			return 0
		}
	}
	return 0
}

func quotedChar(c byte) bool { return c == '\t' || (c >= ' ' && c != 0x7f) }

// parseHex parses the 1*HEXDIG at the start of b and returns its value and length; ok is false if
// there is no digit or the value overflows an int64.
func parseHex(b []byte) (n int64, end int, ok bool) {
	for ; end < len(b); end++ {
		var d byte
		switch c := b[end]; {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return n, end, end > 0
		}
		if n > (1<<63-1)>>4 {
			return 0, end, false
		}
		n = n<<4 | int64(d)
	}
	return n, end, end > 0
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// forbiddenTrailer reports whether a field must not be taken from a trailer section: those that
// frame, route, authenticate or control the message (RFC 9110 6.5.1), which a sender must not
// put there and a recipient must not merge into the header. It refuses at least what net/http
// does (httpguts.ValidTrailerHeader): every request precondition (If-*), and the
// authentication challenges and Pragma as well.
func forbiddenTrailer(key string) bool {
	switch key {
	case "Transfer-Encoding", "Content-Length", "Host", "Connection", "Keep-Alive",
		"Proxy-Connection", "Te", "Trailer", "Upgrade", "Expect", "Content-Type",
		"Content-Encoding", "Content-Range", "Authorization", "Proxy-Authorization",
		"Www-Authenticate", "Proxy-Authenticate", "Realm", "Pragma",
		"Cache-Control", "Max-Forwards", "Range", "Set-Cookie", "Cookie", "Age", "Expires", "Date":
		return true
	}
	return strings.HasPrefix(key, "If-")
}

// appendChunkHeader appends the chunk-size line for n bytes of data.
func appendChunkHeader(b []byte, n int) []byte {
	b = strconv.AppendUint(b, uint64(n), 16)
	return append(b, '\r', '\n')
}

// writeTrailerSection writes the last chunk and the trailer fields of a response, as given by
// the declared trailer names and the http.TrailerPrefix keys of the handler's header.
func writeTrailerSection(bw *bufio.Writer, h http.Header, declared []string) {
	bw.WriteString("0\r\n")
	for _, k := range declared {
		for _, v := range h[k] {
			writeField(bw, k, v)
		}
	}
	for k, vv := range h {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok || !isToken(name) {
			continue
		}
		name = http.CanonicalHeaderKey(name)
		if forbiddenTrailer(name) || (len(h[name]) > 0 && slices.Contains(declared, name)) {
			continue // not allowed, or already written as a declared trailer
		}
		for _, v := range vv {
			writeField(bw, name, v)
		}
	}
	bw.WriteString("\r\n")
}

// precheckChunked walks the chunked framing of b, the part of a request's content that arrived
// with its head, without consuming it, and returns the error the chunked reader will meet in it,
// if any. A request whose content is already known to be malformed is refused before its handler
// runs, so that it never reaches the upstream; content that arrives later is checked as it is
// read. The framing-overhead bound is left to the reader.
func precheckChunked(b []byte, lim limits) error {
	for {
		line, rest, ok := cutLine(b)
		if !ok {
			return nil
		}
		if line == nil {
			return errChunkLine
		}
		size, end, ok := parseHex(line)
		if !ok {
			return errChunkSize
		}
		if !validChunkExt(line[end:]) {
			return errChunkExt
		}
		b = rest
		if size == 0 {
			return precheckTrailer(b, lim)
		}
		if size > int64(len(b))-2 {
			return nil
		}
		b = b[size:]
		if b[0] != '\r' || b[1] != '\n' {
			return errChunkEnd
		}
		b = b[2:]
	}
}

// precheckTrailer is precheckChunked for the trailer section.
func precheckTrailer(b []byte, lim limits) error {
	total, count := 0, 0
	for {
		line, rest, ok := cutLine(b)
		switch {
		case !ok:
			return nil
		case line == nil:
			return errTrailer
		case len(line) == 0:
			return nil
		}
		total += len(line) + 2
		if count++; count > lim.headerCount || total > lim.headerBytes {
			return errTrailer
		}
		if _, _, err := parseField(string(line)); err != nil {
			return errTrailer
		}
		b = rest
	}
}

// cutLine splits the first line off b. ok is false if b holds no complete line; line is nil
// (and ok true) if the line does not end in CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	if i == 0 || b[i-1] != '\r' {
		return nil, b, true
	}
	return b[: i-1 : i-1], b[i+1:], true
}
