package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// The differential tests feed the same bytes to this package's parser and to net/http's
// http.ReadRequest and compare what each makes of them: accepted or refused, method, target,
// host, body framing, the body itself, and where the message ends (the crux of request
// smuggling). Every disagreement must be one of the differences listed in knownDifferences, each
// with the reason we differ; TestDifferentialTable pins one example of each.

// outcome is what a parser made of one input.
type outcome struct {
	ok      bool
	err     error // why it refused the head; nil if ok
	method  string
	target  string
	host    string
	framing string // "none", "length N" or "chunked"

	body     string // the body as decoded, when bodyErr is nil
	bodyErr  error  // why the body could not be read whole
	consumed int    // bytes the whole message took, when bodyErr is nil
}

func (o outcome) String() string {
	if !o.ok {
		return "refused: " + o.err.Error()
	}
	s := fmt.Sprintf("%s %s host %q, %s", o.method, o.target, o.host, o.framing)
	if o.bodyErr != nil {
		return s + ", body error: " + o.bodyErr.Error()
	}
	return fmt.Sprintf("%s, body %q, %d bytes", s, o.body, o.consumed)
}

// maxDiffBody bounds the body either side reads, so that a huge Content-Length costs nothing.
const maxDiffBody = 1 << 16

// ours parses data with this package: the head with the default limits, then the body.
func ours(data []byte) outcome {
	src := bytes.NewReader(data)
	br := bufio.NewReaderSize(src, bufferSize)
	raw, err := readHead(br, nil, defaultLimits)
	if err != nil {
		return outcome{err: err}
	}
	var h head
	if err := parseHead(&h, string(raw)); err != nil {
		return outcome{err: err}
	}
	o := outcome{ok: true, method: h.method, target: h.target, host: h.host}
	var body io.Reader
	switch h.framing {
	case framingNone:
		o.framing = "none"
	case framingLength:
		o.framing = fmt.Sprintf("length %d", h.length)
		body = &lengthReader{r: br, n: h.length}
	case framingChunked:
		o.framing = "chunked"
		body = &chunkedReader{br: br, lim: defaultLimits}
	}
	if body != nil {
		o.body, o.bodyErr = readBody(body)
	}
	o.consumed = len(data) - br.Buffered() - src.Len()
	return o
}

// lengthReader reads exactly n bytes, or fails with io.ErrUnexpectedEOF.
type lengthReader struct {
	r io.Reader
	n int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err == io.EOF && l.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func readBody(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDiffBody+1))
	if err == nil && len(b) > maxDiffBody {
		err = errors.New("body longer than the test reads")
	}
	return string(b), err
}

// std parses data with net/http's ReadRequest and reads the body it frames.
func std(data []byte) outcome {
	src := bytes.NewReader(data)
	br := bufio.NewReaderSize(src, bufferSize)
	req, err := http.ReadRequest(br)
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{ok: true, method: req.Method, target: req.RequestURI, host: req.Host}
	switch {
	case len(req.TransferEncoding) > 0 && req.TransferEncoding[0] == "chunked":
		o.framing = "chunked"
	case req.ContentLength > 0:
		o.framing = fmt.Sprintf("length %d", req.ContentLength)
	default:
		o.framing = "none"
	}
	o.body, o.bodyErr = readBody(req.Body)
	if o.framing == "none" {
		o.body, o.bodyErr = "", nil
	}
	o.consumed = len(data) - br.Buffered() - src.Len()
	return o
}

// difference is a known way in which this package and net/http read the same bytes apart.
type difference struct {
	name   string
	reason string
	match  func(raw string, ours, std outcome) bool
}

// weRefuse matches a head this package refuses with err while net/http accepts it.
func weRefuse(err error) func(string, outcome, outcome) bool {
	return func(_ string, o, s outcome) bool { return !o.ok && s.ok && errors.Is(o.err, err) }
}

// weRefuseBody matches a body this package refuses with err while net/http reads it whole.
func weRefuseBody(err error) func(string, outcome, outcome) bool {
	return func(_ string, o, s outcome) bool {
		return o.ok && s.ok && o.framing == s.framing && errors.Is(o.bodyErr, err) && s.bodyErr == nil
	}
}

// knownDifferences are the disagreements the differential accepts, each with its reason. Where
// we refuse what net/http accepts we are stricter, on purpose: a gateway must refuse anything
// that some hop behind it might read differently. The few where we accept what net/http refuses
// are allowed by RFC 9112 and cannot change the framing.
var knownDifferences = []difference{
	{"CL and TE", "RFC 9112 6.3: a message with both Content-Length and Transfer-Encoding ought to be " +
		"handled as an error; net/http lets chunked win and drops the length, which is how CL.TE and " +
		"TE.CL smuggling works against a hop that reads the length", weRefuse(errLengthAndChunked)},
	{"space before colon", "RFC 9112 5.1: whitespace between a field name and the colon MUST be answered " +
		"with 400; net/http keeps a field named \"Transfer-Encoding \" that frames nothing, while other " +
		"parsers strip the space and frame by it", weRefuse(errSpaceBeforeColon)},
	{"obs-fold", "RFC 9112 5.2: a server may reject obs-fold with 400; net/http unfolds it, other hops may " +
		"not, and a folded Transfer-Encoding then means different things", weRefuse(errObsFold)},
	{"bare LF", "RFC 9112 2.2 lets a recipient accept a bare LF as a line end; we refuse it, since hops " +
		"that do not would split the head elsewhere", weRefuse(errBareLF)},
	{"Host and target differ", "net/http takes the absolute-form target's authority and ignores Host; two " +
		"hops routing on different names is a classic confusion, so we refuse the disagreement",
		weRefuse(errHostMismatch)},
	{"Transfer-Encoding refused", "RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty " +
		"framing, and only one final chunked is decoded here; net/http ignores it in HTTP/1.0 and reads " +
		"no body, which leaves the body to be read as the next request", weRefuse(errTransferEncoding)},
	{"not HTTP/1.x", "net/http's ReadRequest parses any HTTP/x.y request line (its server then refuses " +
		"other majors); we answer 505 at once (RFC 9110 15.6.6)", weRefuse(errVersion)},
	{"no Host", "RFC 9112 3.2: an HTTP/1.1 request without Host gets 400; ReadRequest leaves that check " +
		"to net/http's server, which makes it as we do", weRefuse(errMissingHost)},
	{"bad Host", "RFC 9112 3.2: a Host that is not uri-host [ \":\" port ] (RFC 9110 7.2, RFC 3986 3.2.2, " +
		"3.2.3) gets 400, as does an empty one where the target has no authority of its own; ReadRequest " +
		"leaves Host to net/http's server, whose httpguts.ValidHostHeader checks only its characters",
		func(raw string, o, s outcome) bool {
			return weRefuse(errHost)(raw, o, s) && !hostFieldValid(raw)
		}},
	{"expectation", "RFC 9110 10.1.1: an expectation other than 100-continue gets 417; ReadRequest does " +
		"not look at Expect, net/http's server answers 417 as we do", weRefuse(errExpectation)},
	{"target", "RFC 9112 3.2: we refuse targets outside the four forms (non-ASCII, '#', asterisk-form " +
		"other than OPTIONS, userinfo, schemes other than http and https, CONNECT without host:port); " +
		"url.ParseRequestURI is more lenient", weRefuse(errTarget)},
	{"field name", "RFC 9110 5.1: a field name is a token; net/http's textproto lets a space inside a " +
		"name through (\"X Y\"), which another hop may read as a different field", weRefuse(errFieldName)},
	{"request line", "RFC 9112 3: method SP request-target SP HTTP-version with a non-empty target and " +
		"a 1.x version; net/http accepts a CONNECT with an empty target, and any HTTP/x.y version with it",
		func(raw string, o, s outcome) bool {
			return !o.ok && s.ok && (errors.Is(o.err, errRequestLine) || errors.Is(o.err, errMethod) ||
				errors.Is(o.err, errVersionSyntax))
		}},
	{"size limits", "ReadRequest has no size limits (net/http's server has MaxHeaderBytes); we answer " +
		"431 or 414 past ours", func(raw string, o, s outcome) bool {
		return !o.ok && s.ok && (errors.Is(o.err, errHeaderTooLarge) || errors.Is(o.err, errTooManyFields) ||
			errors.Is(o.err, errURITooLong))
	}},
	{"Content-Length list", "RFC 9112 6.3 rule 5 allows a Content-Length that is a list of identical " +
		"values, read as one; net/http refuses it. The framing is the same either way",
		func(raw string, o, s outcome) bool {
			return o.ok && !s.ok && strings.Contains(s.err.Error(), "Content-Length")
		}},
	{"leading empty lines", "RFC 9112 2.2: a server SHOULD ignore at least one empty line received " +
		"before the request-line; net/http refuses it. Nothing else changes",
		func(raw string, o, s outcome) bool {
			return o.ok && !s.ok && strings.HasPrefix(raw, "\r\n") && stdWithout(raw).ok
		}},
	{"chunk extension", "RFC 9112 7.1.1: we check the grammar of chunk extensions; net/http skips " +
		"them unread", weRefuseBody(errChunkExt)},
	{"chunk framing overhead", "chunk framing that far outweighs its data is refused, by both, at " +
		"different thresholds (ours: maxFramingDebt, with 32 bytes of allowance per chunk; net/http's: " +
		"16 KiB of excess at 16 bytes per chunk); the framing read is the same until one stops",
		func(raw string, o, s outcome) bool {
			return o.ok && s.ok && o.framing == "chunked" && s.framing == "chunked" &&
				(errors.Is(o.bodyErr, errChunkOverhead) && s.bodyErr == nil ||
					o.bodyErr == nil && s.bodyErr != nil && strings.Contains(s.bodyErr.Error(), "too much non-data"))
		}},
	{"trailer section", "RFC 9112 7.1.2: a malformed trailer section is refused; net/http is more " +
		"lenient with trailer lines", weRefuseBody(errTrailer)},
}

// hostFieldValid reports whether raw's head has one Host field, and its value is a non-empty
// one that hostReference takes: a refusal with errHost must come from neither.
func hostFieldValid(raw string) bool {
	tr := textproto.NewReader(bufio.NewReader(strings.NewReader(raw)))
	line, err := tr.ReadLine()
	for err == nil && line == "" { // the empty lines a server skips before the request-line
		line, err = tr.ReadLine()
	}
	if err != nil {
		return false
	}
	mh, err := tr.ReadMIMEHeader()
	if err != nil {
		return false
	}
	hosts := mh["Host"]
	return len(hosts) == 1 && hosts[0] != "" && hostReference(hosts[0])
}

// stdWithout is net/http's reading of raw without its leading empty lines.
func stdWithout(raw string) outcome {
	for strings.HasPrefix(raw, "\r\n") {
		raw = raw[2:]
	}
	return std([]byte(raw))
}

// agree reports whether the two outcomes describe the same request, the same way.
func agree(o, s outcome) bool {
	switch {
	case !o.ok && !s.ok:
		return true
	case o.ok != s.ok:
		return false
	case o.method != s.method || o.target != s.target || o.host != s.host || o.framing != s.framing:
		return false
	case (o.bodyErr == nil) != (s.bodyErr == nil):
		return false
	case o.bodyErr == nil && (o.body != s.body || o.consumed != s.consumed):
		return false
	}
	return true
}

// explain returns the known difference that accounts for a disagreement, or nil.
func explain(raw string, o, s outcome) *difference {
	for i := range knownDifferences {
		if d := &knownDifferences[i]; d.match(raw, o, s) {
			return d
		}
	}
	return nil
}

// checkDifferential fails the test on a disagreement that no known difference explains.
func checkDifferential(t *testing.T, raw string) {
	t.Helper()
	o, s := ours([]byte(raw)), std([]byte(raw))
	if agree(o, s) {
		return
	}
	if explain(raw, o, s) == nil {
		t.Errorf("unexplained disagreement on %q:\n  ours:     %v\n  net/http: %v", raw, o, s)
	}
}

// diffCorpus is real traffic and the attack shapes, beyond fuzzSeeds.
var diffCorpus = []string{
	// Real requests.
	"GET /wiki/Main_Page HTTP/1.1\r\nHost: en.wikipedia.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\nCookie: a=b; c=d\r\nUpgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nPriority: u=0, i\r\n\r\n",
	"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: 11\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\n\r\nhello=world",
	"PUT /big HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
	"DELETE /item/7 HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer x.y.z\r\n\r\n",
	"GET /a%20b?c=%2F HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
	// Framing ambiguities.
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n",
	"GET / HTTP/1.1\rHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
	"GET http://a/ HTTP/1.1\r\nHost: A\r\n\r\n",
	"GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET //b/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nExpect: 100-continue\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
}

// TestDifferentialCorpus runs the corpus and the fuzz seeds through both parsers; every
// disagreement must be a known difference, and every known difference must show up.
func TestDifferentialCorpus(t *testing.T) {
	seen := map[string]bool{}
	for _, raw := range append(append([]string(nil), fuzzSeeds...), diffCorpus...) {
		o, s := ours([]byte(raw)), std([]byte(raw))
		if agree(o, s) {
			continue
		}
		d := explain(raw, o, s)
		if d == nil {
			t.Errorf("unexplained disagreement on %q:\n  ours:     %v\n  net/http: %v", raw, o, s)
			continue
		}
		seen[d.name] = true
	}
	for _, d := range knownDifferences {
		if !seen[d.name] && !inTable(d.name) {
			t.Errorf("known difference %q shows up neither in the corpus nor in the table: drop it or add a case", d.name)
		}
	}
}

func inTable(name string) bool {
	for _, c := range differenceTable {
		if c.difference == name {
			return true
		}
	}
	return false
}

// differenceTable has one input per known difference, and what each parser makes of it.
var differenceTable = []struct {
	difference string
	raw        string
	oursOK     bool // whether we accept the head and read the body whole
	stdOK      bool // whether net/http does
}{
	{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", false, true},
	{"space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", false, true},
	{"obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", false, true},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", false, true},
	{"Host and target differ", "GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n", false, true},
	{"Transfer-Encoding refused", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, true},
	{"not HTTP/1.x", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", false, true},
	{"no Host", "GET / HTTP/1.1\r\n\r\n", false, true},
	{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", false, true},
	{"expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", false, true},
	{"target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", false, true},
	{"field name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: v\r\n\r\n", false, true},
	{"request line", "CONNECT  HTTP/1.1\r\nHost: a\r\n\r\n", false, true},
	{"size limits", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", false, true},
	{"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", true, false},
	{"leading empty lines", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", true, false},
	{"chunk extension", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n", false, true},
	{"chunk framing overhead", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
		strings.Repeat("1;"+strings.Repeat("x", 30)+"\r\na\r\n", 2000) + "0\r\n\r\n", true, false},
	{"trailer section", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : y\r\n\r\n", false, true},
}

// TestDifferentialTable pins each known difference on an example: the two parsers disagree on
// it as the table says, and for the reason listed, not another.
func TestDifferentialTable(t *testing.T) {
	for _, c := range differenceTable {
		o, s := ours([]byte(c.raw)), std([]byte(c.raw))
		oOK, sOK := o.ok && o.bodyErr == nil, s.ok && s.bodyErr == nil
		if oOK != c.oursOK || sOK != c.stdOK {
			t.Errorf("%s: got ours ok=%v net/http ok=%v, want %v and %v\n  ours:     %v\n  net/http: %v",
				c.difference, oOK, sOK, c.oursOK, c.stdOK, o, s)
			continue
		}
		d := explain(c.raw, o, s)
		if d == nil || d.name != c.difference {
			t.Errorf("%s: explained as %v, want %q", c.difference, d, c.difference)
		}
	}
}

// FuzzDifferential feeds arbitrary bytes to both parsers and fails on any disagreement the known
// differences do not explain.
func FuzzDifferential(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range diffCorpus {
		f.Add([]byte(s))
	}
	for _, c := range differenceTable {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDifferential(t, string(data))
	})
}
