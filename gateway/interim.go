package gateway

import (
	"net/http"
	"sync"
)

// The gateway forwards a request's informational (1xx) responses, such as 103 Early Hints, to its
// client in order and before the final response (RFC 9110 15.2: a proxy forwards them). A session
// reports them on a goroutine that must not wait for a client, so they are written on a goroutine
// of their own, which the final response waits for (settle). A pipelined request started ahead of
// its turn has no ResponseWriter until then: its informational responses wait in the queue and go
// out just before its final response.
//
// Few responses have any, so an exchange holds only a pointer (exchange.hints), set at the first.
// An exchange that held this state itself, 64 bytes larger, cost the pipelined path 2.4% more
// instructions per request under callgrind (integration/bench -callgrind, Go upstream), two
// thirds of them in the garbage collector; with the pointer, 0.998x the build before.

// interim is the state of an exchange that got an informational response.
type interim struct {
	mu      sync.Mutex
	w       http.ResponseWriter // guarded by mu: nil until the answer may be written
	queue   []informational     // guarded by mu: not yet written
	busy    chan struct{}       // guarded by mu: closed once the writing goroutine ends; nil while none runs
	settled bool                // guarded by mu: the final response is being written; later ones are dropped
}

// settledHints marks an exchange settled before any informational response came.
var settledHints = &interim{settled: true}

type informational struct {
	code int
	h    http.Header // the session's; not changed
	via  []string    // the Via entry to append; nil for none (-no-via)
}

// Got1xx is pool.Interim's: it queues an informational response, with the gateway's Via entry
// (RFC 9110 7.6.3: a proxy adds one to each message it forwards), as got1xx says.
func (ex *exchange) Got1xx(code int, h http.Header) {
	// The pool set Info.Protocol before the stream went upstream, and a session reports the
	// stream's informational responses only after that.
	ex.got1xx(code, h, viaProtocol(ex.ctx.Info.Protocol))
}

// withoutVia is an exchange whose informational responses go out without Via (-no-via): a
// second Interim for the same state, which costs the exchange no field.
type withoutVia exchange

func (x *withoutVia) Got1xx(code int, h http.Header) {
	(*exchange)(x).got1xx(code, h, nil)
}

// got1xx queues an informational response and starts its writing goroutine if the answer may be
// written (ServeHTTP put the ResponseWriter in ex.pw.w) and none runs. A 100 Continue stays
// behind: h1 sends its own when the gateway first reads the request body. So does a 101, which
// HTTP/2 and HTTP/3 do not have (the sessions fail the request) and h1 would take as final.
func (ex *exchange) got1xx(code int, h http.Header, via []string) {
	if code == http.StatusContinue || code == http.StatusSwitchingProtocols {
		return
	}
	in := ex.hints.Load()
	if in == nil {
		in = new(interim)
		if !ex.hints.CompareAndSwap(nil, in) {
			in = ex.hints.Load() // settled meanwhile
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.settled {
		return // and ex.pw is the handler's again
	}
	if in.w == nil {
		in.w = ex.pw.w
	}
	in.queue = append(in.queue, informational{code, h, via})
	if in.w != nil && in.busy == nil {
		in.busy = make(chan struct{})
		go in.drain(in.w, in.busy)
	}
}

// drain writes the queue to w until it is empty, then closes busy.
func (in *interim) drain(w http.ResponseWriter, busy chan struct{}) {
	for {
		in.mu.Lock()
		if len(in.queue) == 0 {
			in.busy = nil
			in.mu.Unlock()
			close(busy)
			return
		}
		x := in.queue[0]
		in.queue = in.queue[1:]
		in.mu.Unlock()
		x.writeTo(w)
	}
}

// settle is called before the final response (or the failure's status) is written to w: it
// waits for the informational responses under way and writes those still queued. Any that come
// later are dropped, and Got1xx no longer reads ex.pw.
func (ex *exchange) settle(w http.ResponseWriter) {
	if ex.hints.CompareAndSwap(nil, settledHints) {
		return
	}
	in := ex.hints.Load()
	for {
		in.mu.Lock()
		if busy := in.busy; busy != nil {
			in.mu.Unlock()
			<-busy
			continue
		}
		queue := in.queue
		in.queue, in.settled = nil, true
		in.mu.Unlock()
		for _, x := range queue {
			x.writeTo(w)
		}
		return
	}
}

// writeTo sends x through w's header map, which holds nothing else before the final response,
// and leaves it empty again.
func (x informational) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, vv := range x.h {
		h[k] = vv
	}
	removeHopHeaders(h)
	if x.via != nil {
		h["Via"] = appendVia(h["Via"], x.via)
	}
	w.WriteHeader(x.code)
	clear(h)
}
