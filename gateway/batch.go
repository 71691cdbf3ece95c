package gateway

import (
	"context"
	"net/http"

	"muxgate/h1"
	"muxgate/internal/pool"
)

// starter is an upstream that can send a request without waiting for its response head:
// h2.Pool, when Starts says so.
type starter interface {
	Starts() bool
	Start(req *http.Request, pd *pool.Pending)
}

var _ h1.PipelineStarter = (*proxy)(nil)

// started is a pipelined request sent upstream, whose response is written in its turn.
type started struct {
	p   *proxy
	r   *http.Request
	ex  exchange
	rec record
	pd  pool.Pending
}

// StartsPipelined reports whether the upstream can start requests without waiting: h1 then
// starts pipelined requests as they are read and writes their responses in order, without a
// goroutine each.
func (p *proxy) StartsPipelined() bool { return p.routes.starts() }

// StartPipelined does the first half of ServeHTTP for r, a pipelined GET or HEAD without
// content: the outbound request is sent, and the returned exchange writes the answer.
func (p *proxy) StartPipelined(r *http.Request) h1.PipelinedExchange {
	x := &started{p: p, r: r}
	out := p.begin(r, &x.ex, &x.rec)
	x.ex.route.up.(starter).Start(out, &x.pd)
	return x
}

func (x *started) Ready() bool { return x.pd.Ready() }

// Finish waits for the response head and writes the answer to w, as ServeHTTP would. With
// several upstreams, one that did not take the request passes it on first.
func (x *started) Finish(w http.ResponseWriter) {
	resp, err := x.pd.Await()
	if b, ok := x.ex.route.up.(*balancer); ok {
		resp, err = b.finishStarted(&x.ex.out, resp, err)
	}
	x.p.respond(w, x.r, &x.rec, &x.ex, resp, err)
}

// Abort drops an exchange whose request context has ended, because its connection is closing:
// the stream ends with the context's error within the upstream session's watch period, and the
// access log records the request as the client's close (499).
func (x *started) Abort() {
	resp, err := x.pd.Await()
	if err == nil {
		resp.Body.Close()
		err = context.Canceled
	}
	x.rec.bytesIn = x.ex.body.count()
	x.p.fail(unanswered{}, &x.rec, err)
}

// unanswered is the ResponseWriter of an exchange whose answer nobody will read.
type unanswered struct{}

func (unanswered) Header() http.Header         { return http.Header{} }
func (unanswered) Write(b []byte) (int, error) { return len(b), nil }
func (unanswered) WriteHeader(int)             {}
