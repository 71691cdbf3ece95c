package gateway

import (
	"net/http"
)

// A WebSocket from an HTTP/2 client (the -tls-h2 front) comes as an extended CONNECT already
// (RFC 8441 4), which goes upstream as it is, with the client's stream for its body: the
// upstream's 2xx becomes the client's 200 (RFC 8441 5), and the two streams carry each other's
// bytes until each side has ended, as over HTTP/1.1 (see serveWebSocket). Any other answer goes
// to the client as an answer to its CONNECT. A drain closes it with a Close of status 1001, as
// any WebSocket (wsdrain.go).

// extendedConnect reports whether r is an HTTP/2 client's extended CONNECT for a WebSocket: the
// front end leaves its :protocol among the fields (x/net's server does).
func extendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect && r.ProtoMajor == 2 && r.Header.Get(":protocol") == "websocket"
}

// serveH2WebSocket forwards r, an HTTP/2 client's WebSocket (extendedConnect), upstream.
func (p *proxy) serveH2WebSocket(w http.ResponseWriter, r *http.Request) {
	ex := new(exchange)
	var rec record
	delete(r.Header, ":protocol") // becomes out.Proto, which the sessions send as :protocol
	out := p.begin(r, ex, &rec)
	ex.ctx.Info.List = nil // the head comes as a Header, which the 200 is made of
	out.Method, out.Proto = http.MethodConnect, "websocket"
	out.ContentLength, out.Body = -1, &ex.body
	ex.pw.w = w
	resp, err := ex.route.up.RoundTrip(out)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		p.respond(w, r, &rec, ex, resp, err)
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	p.switchHead(h, resp, "")
	delete(h, "Sec-Websocket-Accept") // RFC 8441 5: none over HTTP/2
	w.WriteHeader(http.StatusOK)
	flushWriter{w}.Flush()
	rec.status = http.StatusOK
	if p.metrics != nil {
		p.metrics.tunnels.Add(1)
		defer p.metrics.tunnels.Add(-1)
	}
	dw := &drainWriter{dst: flushWriter{w}}
	p.longLived.add(dw)
	rec.bytesOut, err = copyTunnel(dw, resp.Body)
	p.longLived.remove(dw)
	rec.bytesIn = ex.body.count()
	if err != nil && !dw.wentAway() {
		rec.err = cutByServer(rec.in, err)
		rec.reason = tunnelReason(rec.err)
	}
	p.done(&rec)
}

// flushWriter writes to a ResponseWriter and flushes each write: a WebSocket's bytes go to the
// client as they come. A failed write is the client's.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, &clientWriteError{err}
	}
	f.Flush()
	return n, nil
}

func (f flushWriter) Flush() {
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
}
