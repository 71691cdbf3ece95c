package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"muxgate/h1"
	"muxgate/internal/fieldlist"
	"muxgate/internal/pool"
)

// upstream is what the proxy needs of a pool: h2.Pool and h3.Pool satisfy it.
type upstream interface {
	RoundTrip(*http.Request) (*http.Response, error)
	Shutdown(ctx context.Context) error
}

// proxy is the http.Handler that h1 serves: one client request in, one upstream stream out.
type proxy struct {
	routes       *router // where each request goes
	forward      forwarding
	setReq       fieldSet       // Config.SetRequestFields
	setResp      fieldSet       // Config.SetResponseFields
	redirectPort int            // Config.RedirectHTTPS: the HTTPS port clear-text requests are sent to; 0: none
	clientCert   bool           // Config.ClientCertFields
	longLived    *longLived     // the WebSockets and event streams open, for the drain
	log          zerolog.Logger // process log, for the reason of each failure
	access       zerolog.Logger // one line per request
	metrics      *metrics       // nil: requests are counted for no one
	timed        bool           // the access log writes lines or the metrics count, so requests are timed
	draining     func() bool    // reports whether the gateway is draining
	hold         time.Duration  // Config.BodyHold
}

// ServeHTTP forwards r upstream and streams the answer back. Failures before the response head
// become statuses in classify; failures after it abort the connection, since a status line
// cannot be taken back.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.redirects(r) {
		p.redirect(w, r)
		return
	}
	if key, ok := webSocketKey(w, r); ok {
		p.serveWebSocket(w, r, key)
		return
	}
	if extendedConnect(r) {
		p.serveH2WebSocket(w, r)
		return
	}
	hops, bounded := uint64(0), false
	if boundedMethod(r.Method) {
		if hops, bounded = maxForwards(r); bounded && hops == 0 {
			p.answerLastHop(w, r)
			return
		}
	}
	ex := new(exchange)
	var rec record
	out := p.begin(r, ex, &rec)
	if bounded {
		forwardMaxForwards(out, ex.ctx.Info.Request, hops-1)
	}
	ex.pw.w = w // informational responses go out as they come (Got1xx)
	resp, err := ex.route.up.RoundTrip(out)
	p.respond(w, r, &rec, ex, resp, err)
}

// begin readies ex and rec for r and returns the request to send upstream.
func (p *proxy) begin(r *http.Request, ex *exchange, rec *record) *http.Request {
	ex.body = countingBody{r: r.Body}
	ex.route = p.routes.find(r)
	*rec = record{in: r, info: &ex.ctx.Info, route: ex.route}
	if p.timed {
		rec.start = time.Now()
	}
	// The pool bounds the wait for the response head (-upstream-timeout): its sessions know
	// when a head has come, and ours time it without a timer per request.
	ex.ctx.Context = r.Context()
	ex.ctx.Info.List = &ex.list // see writeFields
	ex.ctx.Info.Interim = ex
	if !p.forward.via {
		ex.ctx.Info.Interim = (*withoutVia)(ex)
	}
	return p.outbound(&ex.ctx, r, ex)
}

// respond is the second half of ServeHTTP: the answer to the round trip's outcome.
func (p *proxy) respond(w http.ResponseWriter, r *http.Request, rec *record, ex *exchange, resp *http.Response, err error) {
	p.respondOnce(w, r, rec, ex, resp, err, true)
}

// respondOnce is respond; mayResend lets it send the request again once (see resendable).
func (p *proxy) respondOnce(w http.ResponseWriter, r *http.Request, rec *record, ex *exchange, resp *http.Response, err error, mayResend bool) {
	ex.settle(w)
	if err == nil && failedBody(&ex.body) {
		// The upstream answered a request whose body failed on the client's side (too large,
		// too slow, malformed) before the answer could be passed on: it did not get the request
		// whole. An HTTP/2 session resets such a stream, but an HTTP/3 stream's reset stops only
		// the request's side, and the upstream may still answer. The client gets the body's
		// failure, as over HTTP/2.
		resp.Body.Close()
		resp, err = nil, errClientBody
	}
	if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 599) {
		// A status code is three digits, 100 to 599 (RFC 9110 15), and 1xx are not final: x/net's
		// client takes any number, which h1 cannot write.
		resp.Body.Close()
		resp, err = nil, fmt.Errorf("%w: %d", errUpstreamStatus, resp.StatusCode)
	}
	if err != nil {
		rec.bytesIn = ex.body.count()
		p.fail(w, rec, cause(&ex.body, err))
		return
	}
	defer resp.Body.Close()
	rec.status = resp.StatusCode
	p.head(w, r, resp, ex.list.Fields)
	// A response without content (RFC 9110 6.4.1) gets none, whatever DATA the upstream sends
	// with it: that is not read, and closing the body resets the stream if more was coming.
	var n int64
	if bodyAllowed(r, resp.StatusCode) {
		n, err = p.copyResponse(w, resp, ex)
	}
	rec.bytesOut = n
	rec.bytesIn = ex.body.count()
	if failedBody(&ex.body) {
		// The upstream did not get the request whole: a client that left mid-upload, say. Over
		// HTTP/2 the session resets the stream for it; an HTTP/3 reset stops only the request's
		// side (RFC 9114 4.1.2), and an upstream that echoed what it got may end its response
		// cleanly. Either way the body's failure is what the log gives.
		err = cause(&ex.body, err)
	}
	if err != nil {
		if mayResend && p.resendable(r, ex, err) && h1.Discard(w) {
			p.resend(w, r, rec, ex) // the failed body is closed on return, as deferred
			return
		}
		p.broken(w, rec, err)
		return
	}
	copyTrailers(w, resp)
	p.done(rec)
}

// resendable reports whether a request whose response body failed with err may be sent again: its
// session died under it (pool.ErrSessionFailed), not the stream alone, which says the upstream
// failed this request; the request is idempotent and has no body (RFC 9110 9.2.2: a client may
// send such a request again after a connection failure), and was not sent again already; the
// client is still there, and the gateway is not draining. The caller checks besides that nothing
// of the answer reached the client (h1.Discard): a kill of the upstream, whose connection reset
// loses what the kernel had received of the body, leaves just that.
func (p *proxy) resendable(r *http.Request, ex *exchange, err error) bool {
	var werr *clientWriteError
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	return errors.Is(err, pool.ErrSessionFailed) && !errors.As(err, &werr) && r.Context().Err() == nil &&
		(ex.out.Body == nil || ex.out.Body == http.NoBody) && !ex.ctx.Info.Resent && !(p.draining != nil && p.draining())
}

// resend sends ex's request upstream again, once, and answers with the outcome; the access log
// counts every attempt.
func (p *proxy) resend(w http.ResponseWriter, r *http.Request, rec *record, ex *exchange) {
	info := &ex.ctx.Info
	tried := info.Attempts
	info.Attempts = 0
	resp, err := ex.route.up.RoundTrip(&ex.out)
	info.Attempts = tried + max(info.Attempts, 1) // one that found no session counts too
	info.Resent = true
	p.respondOnce(w, r, rec, ex, resp, err, false)
}

// broken ends a response whose body failed after its head was written. Where nothing of the head
// has reached the client yet (h1 buffers it with the body's first bytes), the client gets the
// status that the failure calls for, as if the head had never come: an upstream that resets the
// stream right after its head is answered 502, not cut off. Otherwise the access log records the
// status sent with the failure's reason, and the connection is closed, since only that tells the
// client the body is short. A client that went away (its request's context ended, which the
// sessions' errors wrap) gets nothing: the log says client_closed, with 499 where nothing of the
// response had reached it.
func (p *proxy) broken(w http.ResponseWriter, rec *record, err error) {
	var werr *clientWriteError
	err = cutByServer(rec.in, err)
	f := classify(err)
	switch {
	case errors.As(err, &werr):
		rec.reason = "client_write"
	case f.status == statusClientClosed:
		if h1.Discard(w) {
			rec.status, rec.bytesOut = statusClientClosed, 0
		}
		rec.reason = f.reason
	case h1.Discard(w):
		rec.bytesOut = 0
		p.fail(w, rec, err)
		return
	default:
		rec.reason = f.reason
	}
	rec.err = err
	p.done(rec)
	panic(http.ErrAbortHandler)
}

// exchange is the proxy's per-request state, allocated once: the upstream URL, what the pool
// reports of the attempt, and the client's body as the pool reads it.
type exchange struct {
	route *route // where the request goes
	url   url.URL
	ctx   pool.InfoContext // the upstream request's context: the client's, carrying the pool's Info
	list  pool.HeadList    // the response head, where the pool gives it as a list
	body  countingBody
	out   http.Request // the upstream request
	pw    pieceWriter  // copyBody's, for a body it passes on without copying
	// hints is the state of the informational responses forwarded, once one came (Got1xx).
	hints atomic.Pointer[interim]
}

// failedBody reports whether reading the client's body failed, short of its end, on the client's
// side: a Read that the session's Close stopped, because the upstream wants no more, is not
// counted (countingBody).
func failedBody(body *countingBody) bool {
	berr := body.readErr()
	return berr != nil && !errors.Is(berr, io.EOF)
}

// cause picks the error that explains a failed round trip: the client's body, or what the pool
// said.
func cause(body *countingBody, err error) error {
	if failedBody(body) {
		return errors.Join(errClientBody, body.readErr())
	}
	return err
}

// outbound builds the upstream request on ctx: the target and authority of r, its fields
// without the hop-by-hop ones, the forwarding fields, and its body streamed through ex.body.
func (p *proxy) outbound(ctx context.Context, r *http.Request, ex *exchange) *http.Request {
	ex.url = *r.URL
	ex.url.Scheme, ex.url.Host = ex.route.scheme, ex.route.address
	ex.url.Opaque = opaquePath(targetPath(r.RequestURI), r, ex.route.address)
	// The client's fields become the upstream's, where h1 read them: as a list (its
	// Config.ListFields, which the gateway sets), which travels as one and becomes a Header only
	// for a session that needs it (pool.Info.Request); else the client's header map itself. h1
	// leaves either to its handler, and nothing reads the client's fields after this. Copying
	// them cost an allocation and a hash per field on every request.
	h := r.Header
	if list, ok := h1.RequestFields(r); ok {
		ex.ctx.Info.Request = p.outboundList(list, r)
	} else {
		if h == nil {
			h = make(http.Header, 3)
		}
		if removeHopHeaders(h) {
			h["Te"] = teTrailers
		}
		p.forward.add(h, r)
		if p.clientCert {
			setClientCert(h, r)
		}
		p.setReq.setHeader(h)
	}
	out := http.Request{
		Method:        r.Method,
		URL:           &ex.url,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		Host:          r.Host, // becomes :authority (RFC 9113 8.3.1)
		ContentLength: r.ContentLength,
		Body:          http.NoBody,
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		out.Body = &ex.body
		if r.ContentLength < 0 {
			// A chunked body may end in trailer fields (RFC 9112 7.1.2), which h1 puts in
			// r.Trailer when the body ends: in this map, which the session reads then, and
			// sends as the stream's last HEADERS (RFC 9113 8.1). It announces the declared
			// names itself; the client's Trailer field, hop-by-hop here, stays behind.
			if r.Trailer == nil {
				r.Trailer = make(http.Header)
			}
			out.Trailer = r.Trailer
		}
	}
	ex.out = *out.WithContext(ctx) // inlined: the copy is on the stack, and ex holds the request
	return &ex.out
}

// targetPath returns the path of a request-target as the client sent it, to go upstream as it is
// (RFC 9110 7.7: a proxy must not change the target's path and query). url.URL.RequestURI, where
// the sessions take :path from (RFC 9113 8.3.1), would escape a path again that
// url.ParseRequestURI kept with bytes it escapes itself: "/a|b" as "/a%7Cb", which breaks a
// signed URL, and for a path that starts with "//" it also decodes what it kept escaped: "%2f"
// into "/". It returns "" where the URL's own serves: for "*" and an absolute-form target without
// a path.
func targetPath(target string) string {
	if len(target) > 0 && target[0] != '/' {
		// The absolute-form (RFC 9112 3.2.2): the path follows the authority.
		_, rest, ok := strings.Cut(target, "://")
		i := strings.IndexAny(rest, "/?")
		if !ok || i < 0 || rest[i] != '/' {
			return ""
		}
		target = rest[i:]
	}
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i] // IndexByte: strings.Cut's general search took twice as long
	}
	return target
}

// opaquePath returns the URL.Opaque that makes the sessions send path (targetPath's) as :path for
// r, or "" for none. A path that starts with "//" goes as "//host//path", net/url's form for it:
// Opaque would read "//path" as an authority, and RequestURI gives "scheme://host//path", from
// which the sessions cut "scheme://" and the authority they send: the request's Host, or the
// upstream's address (the URL's host, upstream) where an HTTP/1.0 client sent none. An OPTIONS
// request whose absolute-form target has neither path nor query asks about the server as a
// whole, and goes as "*" (RFC 9112 3.2.4, RFC 9113 8.3.1).
func opaquePath(path string, r *http.Request, upstream string) string {
	switch {
	case strings.HasPrefix(path, "//"):
		host := r.Host
		if host == "" {
			host = upstream
		}
		return "//" + host + path
	case path == "" && r.Method == http.MethodOptions && r.URL.Path == "" && r.URL.RawQuery == "" && !r.URL.ForceQuery:
		return "*"
	}
	return path
}

// writeHead copies the status and the end-to-end fields of resp to w.
func (p *proxy) writeHead(w http.ResponseWriter, r *http.Request, resp *http.Response) {
	// The upstream's map becomes the client's where h1 takes it: nothing else reads it after
	// the pool returned, and copying it cost a map and a hash per field on every response.
	h := resp.Header
	if !h1.AdoptHeader(w, h) {
		h = w.Header()
		for k, vv := range resp.Header {
			h[k] = vv
		}
	}
	removeHopHeaders(h)
	if len(resp.Trailer) > 0 && r.ProtoAtLeast(1, 1) {
		// Announce the trailers, so h1 sends them after a chunked body (RFC 9110 6.6.2);
		// a length-framed body would have no place for them. An HTTP/1.0 client can get
		// none: its response keeps its length, and with it the connection.
		for k := range resp.Trailer {
			h.Add("Trailer", k)
		}
		delete(h, "Content-Length")
	} else if cl := h["Content-Length"]; resp.ContentLength >= 0 && (len(cl) == 0 || cl[0] == "") && bodyAllowed(r, resp.StatusCode) {
		// Indexed by its canonical key, as h.Get would after checking that the key is canonical.
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	if p.forward.via {
		h["Via"] = appendVia(withoutEmptyLists(h["Via"]), viaResponse(resp))
	}
	p.setResp.setHeader(h)
	w.WriteHeader(resp.StatusCode)
}

// head writes the status and the end-to-end fields of resp to w: from list, where the pool gave
// the head as one (resp.Header nil) and h1 can write it, else from the header map.
func (p *proxy) head(w http.ResponseWriter, r *http.Request, resp *http.Response, list []fieldlist.Field) {
	if resp.Header == nil {
		if p.writeFields(w, r, resp, list) {
			return
		}
		resp.Header = fieldlist.Header(list)
	}
	p.writeHead(w, r, resp)
}

// writeFields is writeHead for a response head that the pool gave as a list (pool.Info.List)
// and resp.Header nil: the same rules, applied to the list, which h1 writes without building a
// header map. It reports false, having written nothing and left list[:len(list)] as it was,
// where the map must serve: for trailers, a hop-by-hop field (which HTTP/2 forbids anyway), an
// empty Via to leave out, a field that Config.SetResponseFields replaces, or a ResponseWriter
// that is not h1's.
func (p *proxy) writeFields(w http.ResponseWriter, r *http.Request, resp *http.Response, list []fieldlist.Field) bool {
	if len(resp.Trailer) > 0 {
		return false
	}
	hasLength := false
	for _, f := range list {
		if f.Name == "content-length" {
			hasLength = true // the pool kept only a valid one
		} else if hopName(f.Name) || p.forward.via && f.Name == "via" && emptyList(f.Value) || p.setResp.names(f.Name) {
			return false
		}
	}
	if !hasLength && resp.ContentLength >= 0 && bodyAllowed(r, resp.StatusCode) {
		list = append(list, fieldlist.Field{Name: "content-length", Value: strconv.FormatInt(resp.ContentLength, 10)})
	}
	if p.forward.via {
		// After the upstream's own Via fields, as appendVia puts it (RFC 9110 7.6.3).
		list = append(list, fieldlist.Field{Name: "via", Value: viaResponse(resp)[0]})
	}
	list = p.setResp.setList(list) // none of the upstream's fields has a set name (above)
	return h1.WriteFields(w, resp.StatusCode, list)
}

// bodyAllowed reports whether a response to r with this status may carry a body
// (RFC 9110 6.4.1).
func bodyAllowed(r *http.Request, status int) bool {
	return r.Method != http.MethodHead && status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// copyTrailers sends the upstream's trailer fields, known only after its body ended: under their
// own names, where h1 takes the names the head declared (writeHead), and under http.TrailerPrefix,
// where it takes any other. A field of the head named as a declared trailer is the trailer's
// (h1 leaves it out of the head): it gets the trailer's value, not the head's.
func copyTrailers(w http.ResponseWriter, resp *http.Response) {
	if len(resp.Trailer) == 0 {
		return // and h1 makes no header map for the response (ResponseWriter.Header)
	}
	h := w.Header()
	for k, vv := range resp.Trailer {
		h[k] = vv
		h[http.TrailerPrefix+k] = vv
	}
}

// fail answers the client with the status that err maps to, and logs why.
func (p *proxy) fail(w http.ResponseWriter, rec *record, err error) {
	err = cutByServer(rec.in, err)
	f := classify(err)
	rec.status, rec.err, rec.reason = f.status, err, f.reason
	if f.status != statusClientClosed {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(f.body)))
		h.Set("X-Muxgate-Error", f.reason)
		p.setResp.setHeader(h)
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	}
	p.log.Warn().Str("reason", f.reason).Str("method", rec.in.Method).Str("target", rec.in.RequestURI).Err(err).Msg("request failed")
	p.done(rec)
}

// countingBody passes the client's body to the upstream and remembers how much was read and
// the read error, so a failure can be blamed on the right side. The pool reads it on a goroutine
// of its own while the handler copies the response, hence the lock.
type countingBody struct {
	r io.ReadCloser

	mu     sync.Mutex // guards n, err and closed
	n      int64
	err    error
	closed bool
}

// Read reads the client's body. An error after Close is not the client's: it is the read that
// Close stopped, and it is not remembered.
func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	if err != nil && !b.closed {
		b.err = err
	}
	b.mu.Unlock()
	return n, err
}

// Close closes the client's body: h1 then stops a read in progress and discards what is left. A
// session closes it when the upstream needs no more of it, as when the upstream answered and
// reset the stream with NO_ERROR before the body's end (RFC 9113 8.1).
func (b *countingBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.r.Close()
}

func (b *countingBody) count() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *countingBody) readErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
