package gateway

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"

	"muxgate/h1"
	"muxgate/internal/fieldlist"
)

// A WebSocket opening handshake (RFC 6455 4) from an HTTP/1.1 client goes upstream as an extended
// CONNECT: over HTTP/2 (RFC 8441 4, 5) and HTTP/3 (RFC 9220) alike, a CONNECT with :protocol
// websocket, whose stream carries the WebSocket's bytes both ways once the upstream has answered
// 2xx. The client then gets 101 Switching Protocols, with the Sec-WebSocket-Accept that its key
// calls for (RFC 6455 4.2.2), and its connection becomes a tunnel to the stream (h1.Tunnel). Any
// other answer goes to the client as an answer to its GET, on a connection that stays HTTP/1.1.
// The sessions take an extended CONNECT as a request whose Method is CONNECT and whose Proto is the
// protocol, as quic-go does.

// webSocketGUID is what RFC 6455 1.3 appends to the client's key.
const webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// webSocketKey returns the Sec-WebSocket-Key of r if r asks, by its Upgrade field, to switch to
// the WebSocket protocol (RFC 6455 4.1), with ok true; key is "" where r asks without a valid key,
// one that decodes to 16 bytes, which is refused with 400 (RFC 6455 4.2.1). Only a GET on a
// connection that can switch (h1.CanUpgrade) asks.
func webSocketKey(w http.ResponseWriter, r *http.Request) (key string, ok bool) {
	if r.Method != http.MethodGet || !h1.CanUpgrade(w) {
		return "", false
	}
	asked := false
	for _, v := range requestValues(r, "upgrade") {
		for p := range strings.SplitSeq(v, ",") {
			// RFC 9110 7.8: protocol-name ["/" protocol-version]; RFC 6455 4.1 names none. A
			// token compares ASCII case-insensitively (RFC 9110 5.6.2), which strings.EqualFold
			// does not: it takes U+017F for s and U+212A for k.
			asked = asked || fieldlist.SameName(textproto.TrimString(p), "websocket")
		}
	}
	if !asked {
		return "", false
	}
	keys := requestValues(r, "sec-websocket-key")
	if len(keys) != 1 {
		return "", true
	}
	if b, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(b) != 16 {
		return "", true
	}
	return keys[0], true
}

// requestValues returns the values of r's fields named name, which is lower case, in the order
// they came.
func requestValues(r *http.Request, name string) []string {
	list, ok := h1.RequestFields(r)
	if !ok {
		return r.Header.Values(name)
	}
	var vv []string
	for _, f := range list {
		if fieldlist.SameName(f.Name, name) {
			vv = append(vv, f.Value)
		}
	}
	return vv
}

// webSocketAccept is the Sec-WebSocket-Accept value for key (RFC 6455 4.2.2).
func webSocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + webSocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// serveWebSocket forwards r, a WebSocket handshake with this key (webSocketKey), as an extended
// CONNECT and, if the upstream accepts it, joins the client's connection to the stream.
func (p *proxy) serveWebSocket(w http.ResponseWriter, r *http.Request, key string) {
	ex := new(exchange)
	var rec record
	out := p.begin(r, ex, &rec)
	if key == "" {
		p.fail(w, &rec, errWebSocketKey)
		return
	}
	ex.ctx.Info.List = nil // the head comes as a Header, which the 101 is made of
	body := &tunnelBody{ready: make(chan struct{}), ended: make(chan struct{})}
	asExtendedConnect(out, &ex.ctx.Info.Request, body)
	ex.pw.w = w
	resp, err := ex.route.up.RoundTrip(out)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Refused (or failed): the stream's request side ends with no byte of the client's,
		// whose connection stays HTTP/1.1 and gets the answer.
		body.open(nil)
		p.respond(w, r, &rec, ex, resp, err)
		return
	}
	defer resp.Body.Close()
	p.tunnel(w, &rec, resp, body, key)
}

// errWebSocketKey is a WebSocket handshake without a valid Sec-WebSocket-Key.
var errWebSocketKey = errors.New("gateway: WebSocket handshake without a valid Sec-WebSocket-Key")

// asExtendedConnect makes out, a GET built by outbound with its fields in out.Header or in *list
// (pool.Info.Request), the extended CONNECT of a WebSocket (RFC 8441 4), whose request body is
// the client's side of the tunnel. Sec-WebSocket-Key stays behind: RFC 8441 5 has no use for it.
// The hop-by-hop Upgrade and Connection fields are already gone.
func asExtendedConnect(out *http.Request, list *[]fieldlist.Field, body *tunnelBody) {
	out.Method, out.Proto = http.MethodConnect, "websocket"
	out.ContentLength, out.Body = -1, body
	if out.Header != nil {
		delete(out.Header, "Sec-Websocket-Key")
		return
	}
	*list = slices.DeleteFunc(*list, func(f fieldlist.Field) bool {
		return fieldlist.SameName(f.Name, "sec-websocket-key")
	})
}

// tunnel answers the client 101 and carries bytes both ways between its connection and the
// stream of resp, until both sides have ended or either fails; it logs the exchange then.
func (p *proxy) tunnel(w http.ResponseWriter, rec *record, resp *http.Response, body *tunnelBody, key string) {
	p.switchHead(w.Header(), resp, key)
	tun, err := h1.Upgrade(w, "websocket")
	if err != nil {
		// The client has gone (the request could switch: webSocketKey).
		body.open(nil)
		rec.status, rec.reason, rec.err = statusClientClosed, "client_closed", err
		p.done(rec)
		return
	}
	rec.status = http.StatusSwitchingProtocols
	if p.metrics != nil {
		p.metrics.tunnels.Add(1)
	}
	body.open(tun)
	dw := &drainWriter{dst: tunnelWriter{tun}}
	p.longLived.add(dw)
	rec.bytesOut, err = copyTunnel(dw, resp.Body)
	p.longLived.remove(dw)
	handshake := err == nil && dw.wentAway()
	switch {
	case handshake:
		// The drain's Close went to the client, and the upstream, having had the client's
		// answer, ended: the closing handshake is over, and the connection closes whole (RFC
		// 6455 7.1.1: the server closes first).
		tun.Close()
	case err == nil:
		// The upstream ended its side (END_STREAM): so does the client's connection, and the
		// client's side goes on until the session has sent its end too, or the tunnel's idle
		// time runs out.
		tun.CloseWrite()
	default:
		body.fail(err)
		tun.Close()
	}
	<-body.ended
	rec.bytesIn, err = body.result()
	if err != nil && !handshake { // a closing handshake's end is no failure, though it closed the client's side too
		rec.err = cutByServer(rec.in, err)
		rec.reason = tunnelReason(rec.err)
	}
	if p.metrics != nil {
		p.metrics.tunnels.Add(-1) // before the line, which a reader may wait for
	}
	p.done(rec)
}

// tunnelReason is the access log's reason for a tunnel that failed with err: as for a response
// body, client_write where writing to the client failed (it stopped reading, say), and otherwise
// the reason classify gives.
func tunnelReason(err error) string {
	var werr *clientWriteError
	if errors.As(err, &werr) {
		return "client_write"
	}
	return classify(err).reason
}

// switchHead fills h, the client's header, for the 101 that answers a WebSocket handshake with
// this key, from resp, the upstream's 2xx to the extended CONNECT: its end-to-end fields
// (Sec-WebSocket-Protocol and Sec-WebSocket-Extensions among them, RFC 8441 5), and the
// Sec-WebSocket-Accept that HTTP/2 leaves out. h1 adds Connection and Upgrade.
func (p *proxy) switchHead(h http.Header, resp *http.Response, key string) {
	for k, vv := range resp.Header {
		h[k] = vv
	}
	removeHopHeaders(h)
	delete(h, "Content-Length")
	h.Set("Sec-Websocket-Accept", webSocketAccept(key))
	if p.forward.via {
		h["Via"] = appendVia(withoutEmptyLists(h["Via"]), viaResponse(resp))
	}
}

// copyTunnel copies src, the stream's side of a tunnel, to dst until src ends, and returns the
// bytes copied. A body that writes itself out (h2's own session) does so. Another (HTTP/3's,
// x/net's) is read into a small pooled buffer, held while the read waits for the upstream, and
// into a large one after a read that filled the small one, until a read leaves it part empty:
// io.Copy's 32 KiB would stay with an idle WebSocket for its whole life.
func copyTunnel(dst io.Writer, src io.Reader) (int64, error) {
	if wt, ok := src.(io.WriterTo); ok {
		return wt.WriteTo(dst)
	}
	var small, large *[]byte
	defer func() {
		if small != nil {
			smallBufs.Put(small)
		}
		if large != nil {
			largeBufs.Put(large)
		}
	}()
	var total int64
	full := false
	for {
		var buf []byte
		if full {
			if large == nil {
				large = largeBufs.Get().(*[]byte)
			}
			buf = *large
		} else {
			if large != nil {
				largeBufs.Put(large)
				large = nil
			}
			if small == nil {
				small = smallBufs.Get().(*[]byte)
			}
			buf = *small
		}
		n, rerr := src.Read(buf)
		full = n == len(buf)
		if n > 0 {
			m, werr := dst.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// tunnelWriter writes the upstream's side of a tunnel to the client, telling its failures from
// the upstream's as copyBody does (clientWriteError).
type tunnelWriter struct{ tun *h1.Tunnel }

func (t tunnelWriter) Write(p []byte) (int, error) {
	n, err := t.tun.Write(p)
	if err != nil {
		err = &clientWriteError{err}
	}
	return n, err
}

// tunnelBody is the request body of an extended CONNECT: the client's side of the tunnel. A
// session's Read waits until the gateway opens it, with the tunnel the client's connection became,
// or with none where the upstream refused (then it is empty). The session reads it on a goroutine
// of its own.
type tunnelBody struct {
	ready chan struct{} // closed by open
	tun   *h1.Tunnel    // set before ready is closed; nil for an empty body

	ended chan struct{} // closed, once, by the session's Close: it has sent the client's side's end, or given up on it
	once  sync.Once

	mu    sync.Mutex
	n     int64 // guarded by mu: bytes read
	first error // guarded by mu: the tunnel's first failure, on either side (fail)
}

// open lets the session's reads go on, from tun, or find the body's end at once where tun is nil.
func (b *tunnelBody) open(tun *h1.Tunnel) {
	b.tun = tun
	close(b.ready)
}

func (b *tunnelBody) Read(p []byte) (int, error) {
	<-b.ready
	if b.tun == nil {
		return 0, io.EOF
	}
	n, err := b.tun.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	b.mu.Unlock()
	if err != nil && err != io.EOF {
		b.fail(clientSide(err))
	}
	return n, err
}

// WaitRead waits, for the session's sender, until a Read would not block (h1.Tunnel.WaitRead), so
// that it holds no buffer while the client sends nothing. It reports false where it cannot tell
// without reading (over TLS).
func (b *tunnelBody) WaitRead() bool {
	<-b.ready
	return b.tun == nil || b.tun.WaitRead()
}

// clientSide is the failure of a tunnel's read from the client, as classify takes it: a cut of
// the server's (an idle tunnel, the drain's deadline) as it is, anything else as the client's
// connection gone.
func clientSide(err error) error {
	if errors.Is(err, h1.ErrTunnelIdle) || errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(errTunnelClient, err)
}

// errTunnelClient marks a failed read from a client whose connection is a tunnel.
var errTunnelClient = errors.New("gateway: the client's connection failed")

// Close is the session's, once it needs no more of the client's bytes: it has sent their end
// (END_STREAM), or the stream was reset, or the session closed. The tunnel waits for it, not for
// the Read that found the end, after which the session may still be sending the END_STREAM that
// closing the response body would turn into a reset. A Read in progress returns; the client's
// connection may still get the upstream's last bytes.
func (b *tunnelBody) Close() error {
	b.once.Do(func() { close(b.ended) })
	select {
	case <-b.ready:
		if b.tun != nil {
			b.tun.CloseRead()
		}
	default:
	}
	return nil
}

// fail records err as the tunnel's failure, unless one came before it: the failure of one side
// ends the other, whose own failure then follows from it.
func (b *tunnelBody) fail(err error) {
	b.mu.Lock()
	if b.first == nil {
		b.first = err
	}
	b.mu.Unlock()
}

// result returns the bytes read from the client and the tunnel's failure, if any.
func (b *tunnelBody) result() (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, b.first
}
