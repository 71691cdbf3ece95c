package h2conn

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/fieldlist"
)

// head is a request head checked and ready to encode. prepareHead runs
// without locks and does all the work that may fail or allocate; encode
// runs under wmu and cannot fail, so that a header block that reaches the
// hpack encoder is always sent.
//
// The request's regular fields travel beside the head, not in it: the
// hpack encoder keeps the strings it indexes, and escape analysis, which
// does not tell a struct's fields apart, would then move the caller's
// array of fields to the heap.
type head struct {
	method    string
	scheme    string
	authority string
	path      string
	protocol  string // :protocol of an extended CONNECT (RFC 8441 4); "" for any other request
	connect   bool   // CONNECT without :scheme and :path (RFC 9113 8.5)
	te        bool   // send "te: trailers"
	trailers  string // value of the "trailer" field, from req.Trailer
	clen      string // value of "content-length", or "" for none
	bodyLen   int64  // bytes of body: 0 none, -1 unknown
}

// field is a request header field as sent: its lower-case name (RFC 9113
// 8.2.1) and its value.
type field struct{ name, value string }

// inlineFields is the length of the array RoundTripReserved gives
// prepareHead for the fields sent; a request with more costs one
// allocation for them.
const inlineFields = 16

// prepareHead checks req and returns its head and its regular fields as
// sent. It walks req.Header once, validating every field, and appends the
// fields sent (see requestField) to buf, which the caller backs with an
// array of inlineFields on its stack, so that the common request
// allocates nothing for them.
//
// list, when not nil, holds the request's fields in place of req.Header
// (StartOptions.Fields).
func prepareHead(req *http.Request, list []fieldlist.Field, peerMaxList uint32, buf []field) (head, []field, error) {
	var h head
	if err := h.setPseudo(req); err != nil {
		return h, nil, err
	}
	h.bodyLen = bodyLength(req)
	if h.bodyLen > 0 || h.bodyLen == 0 && sendsZeroLength(h.method) {
		h.clen = strconv.FormatInt(h.bodyLen, 10)
	}
	var fields []field
	var size uint64
	var err error
	if list != nil {
		fields, size, err = h.addList(list, buf)
	} else {
		fields, size, err = h.addFields(req.Header, buf)
	}
	if err != nil {
		return h, nil, err
	}
	if err := h.setTrailers(req.Trailer); err != nil {
		return h, nil, err
	}
	// The header list size (RFC 9113 6.5.2) of what encode sends: each
	// field's name, value and 32 octets. The pseudo-header names are
	// counted as 7, 7, 10 and 5 octets whether sent or not; :protocol's 9
	// only when sent.
	size += uint64(len(h.method) + len(h.scheme) + len(h.authority) + len(h.path) + 7 + 7 + 10 + 5 + 4*32)
	size += uint64(len(h.trailers) + len(h.clen) + 2*32)
	if h.protocol != "" {
		size += uint64(len(h.protocol) + 9 + 32)
	}
	if peerMaxList > 0 && size > uint64(peerMaxList) {
		return h, nil, ErrHeaderListSize
	}
	return h, fields, nil
}

// setPseudo checks and sets the values of the pseudo-header fields.
func (h *head) setPseudo(req *http.Request) error {
	if req.URL == nil {
		return errors.New("h2conn: request has no URL")
	}
	h.method = req.Method
	if h.method == "" {
		h.method = http.MethodGet
	} else if !httpguts.ValidHeaderFieldName(h.method) {
		return errors.New("h2conn: invalid request method")
	}
	h.authority = req.Host
	if h.authority == "" {
		h.authority = req.URL.Host
	}
	if h.authority == "" || !httpguts.ValidHostHeader(h.authority) {
		return errors.New("h2conn: invalid or missing request host")
	}
	h.protocol = connectProtocol(req)
	if h.protocol != "" && !httpguts.ValidHeaderFieldName(h.protocol) {
		return errors.New("h2conn: invalid extended CONNECT protocol")
	}
	// An extended CONNECT carries :scheme and :path as other requests do
	// (RFC 8441 4); a plain one neither (RFC 9113 8.5).
	h.connect = h.method == http.MethodConnect && h.protocol == ""
	if !h.connect {
		h.scheme = req.URL.Scheme
		if h.scheme == "" {
			h.scheme = "https"
		}
		h.path = req.URL.RequestURI()
		if h.path != "" && h.path[0] != '/' && h.path != "*" {
			// An Opaque "//host//path", net/url's form for a path that starts with "//":
			// RequestURI gives "scheme://host//path", and :path is the rest.
			h.path = strings.TrimPrefix(h.path, h.scheme+"://"+h.authority)
		}
		if h.path == "" || h.path[0] != '/' && h.path != "*" {
			return errors.New("h2conn: invalid request path")
		}
	}
	return nil
}

// connectProtocol returns the protocol of req when req is an extended
// CONNECT (RFC 8441 4), and "" otherwise. By muxgate's convention for its
// sessions (see pool.ConnectProtocol, which this matches), that is a CONNECT
// whose Proto is the protocol token, such as "websocket", rather than an
// HTTP version or "".
func connectProtocol(req *http.Request) string {
	if req.Method != http.MethodConnect || strings.HasPrefix(req.Proto, "HTTP/") {
		return ""
	}
	return req.Proto
}

// addFields validates every field of hdr and returns buf with the fields
// sent appended, and their share of the header list size. It notes a
// "TE: trailers" request, which encode sends as "te: trailers" (RFC 9113
// 8.2.2).
func (h *head) addFields(hdr http.Header, buf []field) ([]field, uint64, error) {
	var size uint64
	for k, vv := range hdr {
		if err := checkField(k, vv, "header"); err != nil {
			return nil, 0, err
		}
		if k == "Te" {
			h.te = httpguts.HeaderValuesContainsToken(vv, "trailers")
		}
		name, ok := requestField(k)
		if !ok {
			continue
		}
		for _, v := range vv {
			buf = append(buf, field{name, v})
			size += uint64(len(name) + len(v) + 32)
		}
	}
	return buf, size, nil
}

// addList is addFields for fields given as a list, which are sent in their
// order. Their names may be in any letter case, and are checked in the pass
// that lowers them; their values are sent as they are, valid by
// fieldlist.Field's contract (the client's were checked as h1 read them).
func (h *head) addList(list []fieldlist.Field, buf []field) ([]field, uint64, error) {
	var size uint64
	for _, f := range list {
		if fieldlist.SameName(f.Name, "host") {
			// Every HTTP/1.1 request has one, which :authority carries instead
			// (RFC 9113 8.3.1; sentField drops it): dropped before its name is
			// lowered, which took a map lookup for "Host".
			continue
		}
		name, ok := listName(f.Name)
		if !ok {
			return nil, 0, invalidName(f.Name, "header")
		}
		if name == "te" && httpguts.HeaderValuesContainsToken([]string{f.Value}, "trailers") {
			h.te = true
		}
		if !sentField(name) {
			continue
		}
		buf = append(buf, field{name, f.Value})
		size += uint64(len(name) + len(f.Value) + 32)
	}
	return buf, size, nil
}

// setTrailers validates the declared request trailers and sets the value
// of the "trailer" field that announces them.
func (h *head) setTrailers(tr http.Header) error {
	if err := checkFields(tr, "trailer"); err != nil || len(tr) == 0 {
		return err
	}
	keys := make([]string, 0, len(tr))
	for k := range tr {
		name := lowerKey(k)
		switch name {
		case "content-length", "transfer-encoding", "trailer", "host", "te":
			return errors.New("h2conn: forbidden request trailer " + k)
		}
		keys = append(keys, name)
	}
	h.trailers = strings.Join(keys, ",")
	return nil
}

// encode writes the request's header block, with the regular fields from
// prepareHead, with c's encoder. Called under wmu.
func (h *head) encode(c *Conn, fields []field) {
	e := c.enc
	e.reset()
	e.field(":method", h.method)
	if h.protocol != "" {
		e.field(":protocol", h.protocol) // in the order of RFC 8441 5.1's example
	}
	if !h.connect {
		e.field(":scheme", h.scheme)
		e.field(":path", h.path)
	}
	e.field(":authority", h.authority)
	for _, f := range fields {
		e.field(f.name, f.value)
	}
	if h.te {
		e.field("te", "trailers")
	}
	if h.trailers != "" {
		e.field("trailer", h.trailers)
	}
	if h.clen != "" {
		e.field("content-length", h.clen)
	}
}

// requestField maps a request header key to the field name sent, or
// reports that the field is not sent as it is: Host becomes :authority,
// Content-Length and TE are written from the request, and
// connection-specific fields never cross (RFC 9113 8.2.2).
func requestField(k string) (string, bool) {
	name := lowerKey(k)
	if !sentField(name) {
		return "", false
	}
	return name, true
}

// sentField is requestField for a name in lower case: whether it is sent.
func sentField(name string) bool {
	switch name {
	case "host", "content-length", "te", "connection", "proxy-connection",
		"keep-alive", "transfer-encoding", "upgrade":
		return false
	}
	return true
}

// bodyLength is the number of request body bytes: 0 for none, -1 when
// unknown (a body with ContentLength 0, as net/http's transports read it).
func bodyLength(req *http.Request) int64 {
	if req.Body == nil || req.Body == http.NoBody {
		return 0
	}
	if req.ContentLength != 0 {
		return req.ContentLength
	}
	return -1
}

// sendsZeroLength reports whether a request of the method without a body
// says "content-length: 0", as HTTP/1.1 clients do for these methods.
func sendsZeroLength(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// checkFields rejects field names and values that HTTP/2 cannot carry,
// before any of them reaches the hpack encoder.
func checkFields(h http.Header, what string) error {
	for k, vv := range h {
		if err := checkField(k, vv, what); err != nil {
			return err
		}
	}
	return nil
}

func checkField(k string, vv []string, what string) error {
	if !httpguts.ValidHeaderFieldName(k) {
		return invalidName(k, what)
	}
	for _, v := range vv {
		if !fieldlist.ValidValue(v) {
			return invalidValue(k, what)
		}
	}
	return nil
}

func invalidName(k, what string) error {
	return errors.New("h2conn: invalid request " + what + " name " + strconv.Quote(k))
}

func invalidValue(k, what string) error {
	return errors.New("h2conn: invalid request " + what + " value for " + k)
}

// listName returns a request field name from a list in lower case, as
// HTTP/2 sends it (RFC 9113 8.2.1), and false if it is not a token.
func listName(name string) (string, bool) {
	token, upper := fieldlist.TokenCase(name)
	switch {
	case !token:
		return "", false
	case !upper:
		return name, true
	}
	return lowerKey(name), true
}

// validFieldName reports whether a received field name is a lower-case
// token (RFC 9113 8.2.1).
func validFieldName(name string) bool {
	token, upper := fieldlist.TokenCase(name)
	return token && !upper
}

// connectionField reports whether a received field is connection-specific
// and so dropped (RFC 9113 8.2.2; net/http's HTTP/2 client drops them too).
func connectionField(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// commonFields lists field names common enough to be worth converting
// between canonical and lower case without allocating.
var commonFields = []string{
	"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
	"Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Allow-Origin",
	"Access-Control-Expose-Headers", "Access-Control-Max-Age",
	"Access-Control-Request-Headers", "Access-Control-Request-Method",
	"Age", "Allow", "Alt-Svc", "Authorization", "Cache-Control", "Connection",
	"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
	"Content-Location", "Content-Range", "Content-Security-Policy", "Content-Type",
	"Cookie", "Date", "Etag", "Expect", "Expires", "Forwarded", "From", "Host",
	"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
	"Keep-Alive", "Last-Modified", "Link", "Location", "Max-Forwards", "Origin",
	"Pragma", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"Range", "Referer", "Refresh", "Retry-After", "Server", "Set-Cookie",
	"Strict-Transport-Security", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"User-Agent", "Vary", "Via", "Www-Authenticate", "X-Content-Type-Options",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Frame-Options",
	"X-Real-Ip", "X-Request-Id", "X-Xss-Protection",
}

var (
	lowerOf     = make(map[string]string, len(commonFields)) // canonical -> lower
	canonicalOf = make(map[string]string, len(commonFields)) // lower -> canonical
)

func init() {
	for _, k := range commonFields {
		l := strings.ToLower(k)
		lowerOf[k] = l
		canonicalOf[l] = k
	}
	for code := 100; code < len(statusLines); code++ {
		if t := http.StatusText(code); t != "" {
			statusLines[code] = strconv.Itoa(code) + " " + t
		}
	}
}

// lowerKey returns k in lower case: a common field's lower-case name
// without an allocation.
func lowerKey(k string) string {
	if l, ok := lowerOf[k]; ok {
		return l
	}
	for i := 0; i < len(k); i++ {
		if 'A' <= k[i] && k[i] <= 'Z' {
			return strings.ToLower(k)
		}
	}
	return k
}

func canonicalKey(name string) string {
	if k, ok := canonicalOf[name]; ok {
		return k
	}
	return http.CanonicalHeaderKey(name)
}

// statusLines holds Response.Status for the codes with a text, as
// net/http's HTTP/2 client writes it.
var statusLines [600]string

func statusLine(code int, raw string) string {
	if code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	return raw + " " + http.StatusText(code)
}

// parseStatus parses a :status value: exactly three digits.
func parseStatus(v string) (int, bool) {
	if len(v) != 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	return n, n >= 100
}
