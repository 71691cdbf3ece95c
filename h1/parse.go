package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"muxgate/internal/fieldlist"
)

// framing is how a request's content is delimited (RFC 9112 6.3). Requests are never
// close-delimited: one with neither Content-Length nor Transfer-Encoding has no content.
type framing uint8

const (
	framingNone    framing = iota // no content
	framingLength                 // Content-Length bytes (more than zero)
	framingChunked                // chunked transfer coding
)

// head is a parsed, validated request head. Its strings are substrings of one string holding the
// whole head, so a head costs one allocation for all its text.
type head struct {
	method string
	target string               // request-target as received
	proto  string               // "HTTP/1.1"
	minor  int                  // HTTP/1.minor; the major version is always 1
	header http.Header          // the fields as a map; nil for a listed head
	vals   [inlineValues]string // the backing array of header's values for a head with few fields

	// listed, set before parseHead, keeps the fields as a list (Config.ListFields): fields, in
	// the order received, backed by fieldv for a head with few fields.
	listed bool
	fields []fieldlist.Field
	fieldv [inlineValues]fieldlist.Field
	named  uint8 // for a listed head, bit 1<<f for each own field f in fields

	url  *url.URL
	urlv url.URL // what url points to for a plain origin-form target (see plainOrigin)
	host string  // the Host field, or the authority of an absolute-form or authority-form target

	framing framing
	length  int64 // Content-Length for framingLength, 0 for framingNone, -1 for framingChunked

	// close: the client asked to close after this exchange (Connection: close in HTTP/1.1; in
	// HTTP/1.0 the absence of Connection: keep-alive). keepAlive: an HTTP/1.0 client asked to
	// keep the connection, so a persistent response must say Connection: keep-alive.
	close     bool
	keepAlive bool

	// expectContinue: an HTTP/1.1 request with content and Expect: 100-continue.
	expectContinue bool

	// upgrade: an HTTP/1.1 request without content whose Connection lists "upgrade" and that
	// has an Upgrade field (RFC 9110 7.8): its handler may switch the connection (Upgrade).
	upgrade bool
}

// ownField is a field that parseHead or newRequest reads itself: the one a head's values
// method looks up.
type ownField uint8

const (
	fieldHost ownField = iota
	fieldTransferEncoding
	fieldContentLength
	fieldConnection
	fieldUpgrade
	fieldExpect
	fieldTrailer
)

// ownNames are the own fields' names, in canonical form.
var ownNames = [...]string{
	fieldHost:             "Host",
	fieldTransferEncoding: "Transfer-Encoding",
	fieldContentLength:    "Content-Length",
	fieldConnection:       "Connection",
	fieldUpgrade:          "Upgrade",
	fieldExpect:           "Expect",
	fieldTrailer:          "Trailer",
}

// namedBit returns the bit of head.named for a field named name, in any letter case: that of
// the own field of that name, or 0. One look at each field as it is listed lets values skip
// the list for the fields a request does not have, which are most of them.
func namedBit(name string) uint8 {
	var f ownField
	switch len(name) {
	case len("Host"):
		f = fieldHost
	case len("Expect"):
		f = fieldExpect
	case len("Upgrade"): // and "Trailer"
		f = fieldUpgrade
		if name[0]|0x20 == 't' {
			f = fieldTrailer
		}
	case len("Connection"):
		f = fieldConnection
	case len("Content-Length"):
		f = fieldContentLength
	case len("Transfer-Encoding"):
		f = fieldTransferEncoding
	default:
		return 0
	}
	if !fieldlist.SameName(name, ownNames[f]) {
		return 0
	}
	return 1 << f
}

// inlineValues is how many lines of header section (counting the empty one that ends it) a head
// holds the values of without an allocation of their own: h2load and curl send three or four
// fields, most API clients fewer than seven.
const inlineValues = 8

// http11 reports whether the request is HTTP/1.1 or a later 1.x, which RFC 9110 2.5 says to treat
// as 1.1.
func (h *head) http11() bool { return h.minor >= 1 }

// readHead reads one request head from br, the request line through the empty line that ends the
// header section, and returns it (appended to buf[:0]) without leading empty lines. It checks the
// size limits on every byte as soon as it arrives, so an oversized head is refused without
// waiting for the rest of it, and refuses a bare LF at once rather than waiting for a CRLF CRLF
// that never comes.
//
// Errors are a *statusError, or the reader's error (io.EOF, a timeout) if it came first; with
// the latter it returns what had come of the head, for a report of the refusal.
func readHead(br *bufio.Reader, buf []byte, lim limits) ([]byte, error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil {
			return buf[:0], err
		}
	}
	b, _ := br.Peek(br.Buffered())
	if n := wholeHead(b, lim); n > 0 {
		br.Discard(n)
		return append(buf[:0], b[:n]...), nil
	}
	return readLines(br, buf, lim)
}

// wholeHead returns the length of the head at the start of b if b holds all of it and readLines
// would take it as it is: its first line is not empty, every line ends in CRLF, and it breaks no
// limit. Otherwise it returns 0, and readLines reads the head, reporting what is wrong with it or
// waiting for the rest. Checked in one pass and copied once, a head costs less than a copy of
// each line as it is checked.
func wholeHead(b []byte, lim limits) int {
	b = b[:min(len(b), lim.headerBytes)]
	fields := -1
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 1 || b[i+j-1] != '\r' {
			return 0 // not all there, or a bare LF
		}
		line := b[i : i+j+1]
		switch {
		case fields < 0:
			if len(line) == 2 || targetLen(line) > lim.uriBytes {
				return 0
			}
		case len(line) == 2:
			return i + 2
		case fields >= lim.headerCount:
			return 0
		}
		fields++
		i += j + 1
	}
}

// readLines is readHead a line at a time, as the head's bytes arrive.
func readLines(br *bufio.Reader, buf []byte, lim limits) ([]byte, error) {
	r := headReader{buf: buf[:0], fields: -1, lim: lim}
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return r.buf, err
			}
		}
		b, _ := br.Peek(br.Buffered())
		used, done, err := r.take(b)
		br.Discard(used)
		switch {
		case err != nil:
			return nil, err
		case done:
			return r.buf, nil
		}
	}
}

// headReader is readHead's state between the reads of a head.
type headReader struct {
	buf     []byte // the head so far
	start   int    // offset of the line being read in buf
	fields  int    // header fields read; -1 while reading the request line
	skipped int    // empty lines before the request line, bytes
	lim     limits
}

// take reads what b, the reader's buffered bytes, holds of the head, a line at a time, and
// reports how many of its bytes it used: up to the end of the head, the line that breaks a
// limit, or all of them. One look at the buffer serves every line in it, where a look and a
// discard for each line took as much as the lines' own checks.
func (r *headReader) take(b []byte) (used int, done bool, err error) {
	for used < len(b) {
		frag, complete := b[used:], false
		if i := bytes.IndexByte(frag, '\n'); i >= 0 {
			frag, complete = frag[:i+1], true
		}
		used += len(frag)
		if done, err = r.fragment(frag, complete); done || err != nil {
			return used, done, err
		}
	}
	return used, false, nil
}

// fragment adds frag, a whole line (complete) or its start, to the head, checking the limits;
// done is true once the empty line that ends the head is in.
func (r *headReader) fragment(frag []byte, complete bool) (done bool, err error) {
	r.buf = append(r.buf, frag...)
	if r.fields < 0 {
		if targetLen(r.buf[r.start:]) > r.lim.uriBytes {
			return false, errURITooLong
		}
	}
	if len(r.buf)+r.skipped > r.lim.headerBytes {
		if r.fields < 0 && inTarget(r.buf[r.start:]) {
			return false, errURITooLong
		}
		return false, errHeaderTooLarge
	}
	if !complete {
		return false, nil
	}
	line := r.buf[r.start:]
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return false, errBareLF
	}
	switch {
	case len(line) == 2 && r.fields < 0:
		// RFC 9112 2.2: ignore empty lines received before the request line.
		r.skipped += 2
		r.buf = r.buf[:r.start]
		return false, nil
	case len(line) == 2:
		return true, nil
	case r.fields >= r.lim.headerCount:
		return false, errTooManyFields
	}
	r.fields++
	r.start = len(r.buf)
	return false, nil
}

// targetLen returns the length of the request-target in a (partial) request line: the bytes
// after the first SP, up to the second SP or the line's end.
func targetLen(line []byte) int {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return 0
	}
	rest := line[i+1:]
	if j := bytes.IndexByte(rest, ' '); j >= 0 {
		return j
	}
	return len(rest)
}

// inTarget reports whether a partial request line ends inside its request-target.
func inTarget(line []byte) bool {
	i := bytes.IndexByte(line, ' ')
	return i >= 0 && bytes.IndexByte(line[i+1:], ' ') < 0
}

// parseHead parses and validates raw, a head as returned by readHead, into h. Errors are
// *statusError.
func parseHead(h *head, raw string) error {
	eol := indexCRLF(raw)
	if eol < 0 {
		return errRequestLine
	}
	if err := h.parseRequestLine(raw[:eol]); err != nil {
		return err
	}
	rest := raw[eol+2:]

	// Count the lines (LFs, which cost less to count than CRLFs) to size the fields' storage.
	n := strings.Count(rest, "\n")
	var err error
	if h.listed {
		err = h.listFields(rest, n)
	} else {
		err = h.mapFields(rest, n)
	}
	if err != nil {
		return err
	}
	if err := h.parseTarget(); err != nil {
		return err
	}
	if err := h.parseFraming(); err != nil {
		return err
	}
	return h.parseConnection()
}

// mapFields parses the field lines of rest, the head after the request line, into h.header, which
// has room for n fields. One backing array holds all single-valued fields, as most are: h.vals, or
// one allocated for a head with more lines than it holds.
func (h *head) mapFields(rest string, n int) error {
	h.header = make(http.Header, n)
	vals := h.vals[:]
	if n > len(vals) {
		vals = make([]string, n)
	}
	for {
		name, value, canonical, after, end, err := nextField(rest)
		if err != nil || end {
			return err
		}
		rest = after
		key := name
		if !canonical {
			key = http.CanonicalHeaderKey(name)
		}
		if vv, ok := h.header[key]; ok {
			h.header[key] = append(vv, value)
			continue
		}
		vals[0] = value
		h.header[key] = vals[:1:1]
		vals = vals[1:]
	}
}

// listFields is mapFields for a listed head: the fields go to h.fields as they come.
func (h *head) listFields(rest string, n int) error {
	h.fields, h.named = h.fieldv[:0], 0
	if n > len(h.fieldv) {
		h.fields = make([]fieldlist.Field, 0, n)
	}
	for {
		name, value, _, after, end, err := nextField(rest)
		if err != nil || end {
			return err
		}
		rest = after
		h.fields = append(h.fields, fieldlist.Field{Name: name, Value: value})
		h.named |= namedBit(name)
	}
}

// nextField parses the first field line of rest, which holds field lines up to and including
// the empty line that ends a head, and returns what follows it; end reports that empty line.
func nextField(rest string) (name, value string, canonical bool, after string, end bool, err error) {
	eol := indexCRLF(rest)
	switch {
	case eol < 0:
		return "", "", false, "", false, errFieldLine
	case eol == 0:
		return "", "", false, "", true, nil
	}
	name, value, canonical, err = parseFieldLine(rest[:eol])
	return name, value, canonical, rest[eol+2:], false, err
}

// values returns the values of the own field ff, in the order received: the map's slice, or
// for a listed head those in the list, appended to buf. It is small enough to inline, so a look
// for a field a listed head does not have costs no call.
func (h *head) values(ff ownField, buf []string) []string {
	if h.listed && h.named&(1<<ff) == 0 {
		return buf
	}
	return h.lookup(ff, buf)
}

// lookup is values without the check of head.named.
func (h *head) lookup(ff ownField, buf []string) []string {
	key := ownNames[ff]
	if !h.listed {
		return h.header[key]
	}
	for _, f := range h.fields {
		if fieldlist.SameName(f.Name, key) {
			buf = append(buf, f.Value)
		}
	}
	return buf
}

// parseRequestLine parses "method SP request-target SP HTTP-version" (RFC 9112 3), strictly: one
// SP each, no other whitespace.
func (h *head) parseRequestLine(line string) error {
	method, rest, ok := cutByte(line, ' ')
	if !ok {
		return errRequestLine
	}
	target, proto, ok := cutByte(rest, ' ')
	if !ok || target == "" {
		return errRequestLine
	}
	if !isToken(method) {
		return errMethod
	}
	// RFC 9112 2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT.
	if len(proto) != len("HTTP/1.1") || proto[:5] != "HTTP/" || !isDigit(proto[5]) ||
		proto[6] != '.' || !isDigit(proto[7]) {
		return errVersionSyntax
	}
	if proto[5] != '1' {
		return errVersion
	}
	if !validTarget(target) {
		return errTarget
	}
	h.method, h.target, h.proto, h.minor = method, target, proto, int(proto[7]-'0')
	return nil
}

// cutByte is strings.Cut for a one-byte separator: strings.Cut's general search took twice as
// long as IndexByte, on lines cut four times a request (callgrind).
func cutByte(s string, sep byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// validTarget reports whether every byte of a request-target is a visible ASCII character other
// than '#': RFC 9112 3.2 leaves no room for whitespace, controls, non-ASCII bytes or a fragment.
func validTarget(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// indexCRLF returns the index of the first CRLF in s, or -1. It looks for the LF, which is
// quicker to find; a head's lines end at their first LF (readHead refuses a bare one), so the
// search only goes on past an LF without a CR before it in a head that is refused anyway.
func indexCRLF(s string) int {
	i := strings.IndexByte(s, '\n')
	switch {
	case i < 0:
		return -1
	case i > 0 && s[i-1] == '\r':
		return i - 1
	}
	return strings.Index(s, "\r\n")
}

// parseField splits a field line into name and value (RFC 9112 5), validating both.
func parseField(line string) (name, value string, err error) {
	name, value, _, err = parseFieldLine(line)
	return name, value, err
}

// parseFieldLine is parseField that also reports whether the name is already in the canonical
// form of http.CanonicalHeaderKey, as most are.
func parseFieldLine(line string) (name, value string, canonical bool, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", false, errObsFold
	}
	name, value, ok := cutByte(line, ':')
	if !ok {
		return "", "", false, errFieldLine
	}
	if name == "" {
		return "", "", false, errFieldName
	}
	if c := name[len(name)-1]; c == ' ' || c == '\t' {
		return "", "", false, errSpaceBeforeColon
	}
	token, canonical := canonicalToken(name)
	if !token {
		return "", "", false, errFieldName
	}
	value = trimOWS(value)
	if !fieldlist.ValidValue(value) {
		return "", "", false, errFieldValue
	}
	return name, value, canonical, nil
}

// parseTarget classifies the request-target (RFC 9112 3.2), parses it into h.url, and settles
// h.host against the Host field (RFC 9112 3.2, 3.2.2).
func (h *head) parseTarget() error {
	var hbuf [1]string
	hosts := h.values(fieldHost, hbuf[:0])
	if err := h.parseHost(hosts); err != nil {
		return err
	}

	var authority string
	switch {
	case h.method == http.MethodConnect:
		// RFC 9110 9.3.6: CONNECT takes the authority-form, host and port.
		if !validAuthority(h.target) {
			return errTarget
		}
		h.url = &url.URL{Host: h.target}
		authority = h.target
	case h.target[0] == '/':
		return h.parseOriginForm()
	case h.target == "*":
		// RFC 9112 3.2.4: asterisk-form is for a server-wide OPTIONS only.
		if h.method != http.MethodOptions {
			return errTarget
		}
		h.url = &url.URL{Path: "*"}
		return h.checkOriginHost()
	default:
		u, err := parseAbsoluteForm(h.target)
		if err != nil {
			return err
		}
		h.url = u
		authority = u.Host
	}
	if len(hosts) == 1 && !sameAuthority(hosts[0], authority, h.url.Scheme) {
		return errHostMismatch
	}
	h.host = authority
	return nil
}

// sameAuthority reports whether host, the Host field, names the authority of the request-target,
// of this scheme (empty for the authority-form): the same host in any letter case, and the same
// port once the scheme's default port and an empty port are left out (RFC 3986 6.2.3), so that
// "GET http://a:80/" with "Host: a" is the one origin it is (RFC 9110 4.2.1).
func sameAuthority(host, authority, scheme string) bool {
	return strings.EqualFold(host, authority) ||
		strings.EqualFold(withoutDefaultPort(host, scheme), withoutDefaultPort(authority, scheme))
}

// withoutDefaultPort returns authority, a valid host[:port], without its port where that is empty
// or the scheme's default one (RFC 9110 4.2.1, 4.2.2).
func withoutDefaultPort(authority, scheme string) string {
	i := strings.LastIndexByte(authority, ':')
	if i < 0 || strings.IndexByte(authority[i:], ']') >= 0 {
		return authority // no port; the colon was an IPv6 address's
	}
	switch port := authority[i+1:]; {
	case port == "",
		port == "80" && strings.EqualFold(scheme, "http"),
		port == "443" && strings.EqualFold(scheme, "https"):
		return authority[:i]
	}
	return authority
}

// parseHost checks hosts, the values of the Host field, and sets h.host to the one there is.
// RFC 9112 3.2: more than one Host, none in an HTTP/1.1 request, or an invalid one is an error.
// hosts is not retained.
func (h *head) parseHost(hosts []string) error {
	switch {
	case len(hosts) > 1:
		return errDuplicateHost
	case len(hosts) == 0 && h.http11():
		return errMissingHost
	case len(hosts) == 1:
		if !validHost(hosts[0]) {
			return errHost
		}
		h.host = hosts[0]
	}
	return nil
}

// parseOriginForm parses h.target, an origin-form target (it starts with '/', RFC 9112 3.2.1),
// into h.url, then checks h.host with checkOriginHost. A plain one (see plainOrigin) is parsed
// into h.urlv without allocating; any other goes through url.ParseRequestURI, and is errTarget
// if that fails.
func (h *head) parseOriginForm() error {
	if plainOrigin(h.target) {
		h.urlv = url.URL{Path: h.target}
		if path, query, ok := cutByte(h.target, '?'); ok {
			h.urlv.Path, h.urlv.RawQuery = path, query
		}
		h.url = &h.urlv
		return h.checkOriginHost()
	}
	u, err := url.ParseRequestURI(h.target)
	if err != nil {
		return errTarget
	}
	h.url = u
	return h.checkOriginHost()
}

// parseAbsoluteForm parses target, neither origin-form nor asterisk-form, as the absolute-form
// (RFC 9112 3.2.2). It returns errTarget for anything but an http or https URI with a valid,
// non-empty host and no user info.
func parseAbsoluteForm(target string) (*url.URL, error) {
	// RFC 9112 3.2.2: absolute-form. Only http and https URIs name an origin here; user
	// info in the authority is refused (RFC 9110 4.2.4).
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" || !validHost(u.Host) ||
		!(strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")) {
		return nil, errTarget
	}
	return u, nil
}

// checkOriginHost refuses an empty Host in an HTTP/1.1 request whose target has no authority of
// its own: the Host then is the authority of an http(s) URI, which must not be empty
// (RFC 9110 4.2.1, 4.2.2).
func (h *head) checkOriginHost() error {
	if h.http11() && h.host == "" {
		return errHost
	}
	return nil
}

// parseFraming decides how the content is delimited (RFC 9112 6.3), refusing every ambiguous
// shape rather than picking a reading of it.
func (h *head) parseFraming() error {
	var tbuf, cbuf [1]string
	te := h.values(fieldTransferEncoding, tbuf[:0])
	cl := h.values(fieldContentLength, cbuf[:0])
	hasTE, hasCL := len(te) > 0, len(cl) > 0
	switch {
	case hasTE && hasCL:
		return errLengthAndChunked
	case hasTE:
		// RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; and chunked must be
		// the final coding, applied once. No other coding is decoded here.
		if !h.http11() || !onlyChunked(te) {
			return errTransferEncoding
		}
		h.framing, h.length = framingChunked, -1
	case hasCL:
		n, ok := parseContentLength(cl)
		if !ok {
			return errContentLength
		}
		h.length = n
		if n > 0 {
			h.framing = framingLength
		}
	}
	return nil
}

// parseConnection reads the Connection options (RFC 9112 9.3) and Expect (RFC 9110 10.1.1).
func (h *head) parseConnection() error {
	var closeOpt, keepAliveOpt, upgradeOpt bool
	var buf [1]string
	for _, v := range h.values(fieldConnection, buf[:0]) {
		for elem := range strings.SplitSeq(v, ",") {
			switch elem = trimOWS(elem); {
			case fieldlist.SameName(elem, "close"):
				closeOpt = true
			case fieldlist.SameName(elem, "keep-alive"):
				keepAliveOpt = true
			case fieldlist.SameName(elem, "upgrade"):
				upgradeOpt = true
			}
		}
	}
	if h.http11() {
		h.close = closeOpt
		// RFC 9110 7.8: an Upgrade counts only where Connection lists it, and a server ignores
		// it in an HTTP/1.0 request. A request with content would have to be read whole before
		// the switch; none is switched.
		h.upgrade = upgradeOpt && h.framing == framingNone && len(h.values(fieldUpgrade, buf[:0])) > 0
	} else {
		h.close = closeOpt || !keepAliveOpt
		h.keepAlive = !h.close
	}

	// A server MUST ignore a 100-continue expectation in an HTTP/1.0 request.
	if !h.http11() {
		return nil
	}
	for _, v := range h.values(fieldExpect, buf[:0]) {
		for elem := range strings.SplitSeq(v, ",") {
			switch elem = trimOWS(elem); {
			case fieldlist.SameName(elem, "100-continue"):
				h.expectContinue = h.framing != framingNone
			case elem != "":
				return errExpectation
			}
		}
	}
	return nil
}

// onlyChunked reports whether the Transfer-Encoding field values, taken together as one list,
// are exactly "chunked" (ASCII case-insensitive, RFC 9112 7: strings.EqualFold took
// "chun\u212Aed", with a Kelvin sign, for it, where net/http refuses it).
func onlyChunked(values []string) bool {
	n := 0
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			if n++; n > 1 || !fieldlist.SameName(trimOWS(elem), "chunked") {
				return false
			}
		}
	}
	return n == 1
}

// parseContentLength parses Content-Length field values (RFC 9110 8.6): each value, and each
// member of a comma-separated list, must be 1*DIGIT, and all must be spelled the same (RFC 9112
// 6.3 rule 5 lets a recipient reject them otherwise). 5 and 05 together are refused, as net/http
// refuses them: parsers that disagree on a message's framing are what request smuggling needs.
func parseContentLength(values []string) (int64, bool) {
	if len(values) == 1 {
		if n, ok := fieldlist.ParseLength(values[0]); ok {
			return n, true // one value of digits alone, as nearly all are
		}
	}
	n, first := int64(-1), ""
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			elem = trimOWS(elem)
			if n >= 0 {
				if elem != first {
					return 0, false
				}
				continue
			}
			x, ok := fieldlist.ParseLength(elem)
			if !ok {
				return 0, false
			}
			n, first = x, elem
		}
	}
	return n, n >= 0
}

// trimOWS removes optional whitespace (SP, HTAB; RFC 9110 5.6.3) around s.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isToken reports whether s is a non-empty token (RFC 9110 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !fieldlist.TokenByte(s[i]) {
			return false
		}
	}
	return true
}

// canonicalToken reports whether s is a token (RFC 9110 5.6.2), and whether it is one that
// http.CanonicalHeaderKey returns unchanged as well: upper case at its start and after each
// hyphen, lower case elsewhere.
func canonicalToken(s string) (token, canonical bool) {
	if s == "" {
		return false, false
	}
	canonical, upper := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !fieldlist.TokenByte(c) {
			return false, false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	return true, canonical
}

// plainOrigin reports whether target, in origin-form, is one that url.ParseRequestURI would
// only split at its first '?' into Path and RawQuery: no percent-escapes, no fragment, not
// starting with "//", no empty query, and only the characters that url.URL.EscapedPath keeps as
// they are: unreserved ones and "$&+,/:;=@" (so that RawPath stays empty), and '?'. Most targets
// are, and then the URL costs no allocation of its own. The others go through
// url.ParseRequestURI.
func plainOrigin(target string) bool {
	if len(target) < 1 || target[0] != '/' || strings.HasPrefix(target, "//") || strings.HasSuffix(target, "?") {
		return false
	}
	for i := 0; i < len(target); i++ {
		if !plainTargetByte[target[i]] {
			return false
		}
	}
	return true
}

// plainTargetByte marks the bytes plainOrigin accepts.
var plainTargetByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~$&+,;=:@/?" {
		t[c] = true
	}
	return t
}()
