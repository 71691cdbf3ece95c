package pool

import (
	"errors"
	"net/http"
)

// Started is a request that a StartSession sent without waiting for its
// response head.
type Started interface {
	// Ready reports whether the response head (or the stream's failure) is
	// there, so that Await would not wait. It never blocks.
	Ready() bool
}

// StartSession is a Session that can send a request and wait for its
// response head in two steps, so that one caller may start several
// requests before it waits for the first.
type StartSession interface {
	Session
	// Start sends req on the stream that Reserve reserved. Its errors are
	// RoundTrip's.
	Start(req *http.Request) (Started, error)
	// Await waits for the response head of a request Start sent; it is
	// called once for each. Its results are RoundTrip's.
	Await(st Started, req *http.Request) (*http.Response, error)
}

// Pending is a request that Pool.Start sent. Await it once: the response
// body it returns must be closed, as RoundTrip's; the stream counts against
// its session until then, or until Await fails.
type Pending struct {
	p   *Pool
	e   *entry
	ss  StartSession
	st  Started
	req *http.Request
	// Without a stream (the pool or Start failed, or the session cannot
	// start): the round trip's outcome.
	res *http.Response
	err error
}

// Start acquires a stream as RoundTrip does and sends req on it, returning
// once req is queued to be sent; pd.Await returns its response. Start
// waits only when the pool queues req for a stream. On a session that is
// not a StartSession, and for a request with a body, Start is RoundTrip.
func (p *Pool) Start(req *http.Request, pd *Pending) {
	*pd = Pending{p: p, req: req}
	if req.Body != nil && req.Body != http.NoBody {
		pd.res, pd.err = p.RoundTrip(req)
		return
	}
	ctx := req.Context()
	e, err := p.acquire(ctx, nil)
	if err != nil {
		pd.err = err
		return
	}
	info := InfoFrom(ctx)
	if info != nil {
		info.begin(e.id, p.cfg.Protocol, 1)
	}
	ss, ok := e.s.(StartSession)
	if !ok {
		pd.res, pd.err = p.roundTrip(req, e, nil) // on the stream reserved for it
		return
	}
	st, err := ss.Start(forSession(ss, req, info))
	if err != nil {
		p.release(e)
		pd.res, pd.err = p.retry(req, e, err)
		return
	}
	pd.e, pd.ss, pd.st = e, ss, st
}

// Ready reports whether Await would not wait for the response head (it may
// still wait for a retry).
func (pd *Pending) Ready() bool {
	return pd.st == nil || pd.st.Ready()
}

// Await waits for the response head. A request the upstream provably did
// not process is sent again, as RoundTrip would.
func (pd *Pending) Await() (*http.Response, error) {
	if pd.st == nil {
		return pd.res, pd.err
	}
	p, e := pd.p, pd.e
	res, err := pd.ss.Await(pd.st, pd.req)
	pd.st, pd.ss, pd.e = nil, nil, nil
	if err != nil {
		p.release(e)
		return p.retry(pd.req, e, err)
	}
	return p.answer(pd.req, res, e), nil
}

// retry sends again, as RoundTrip would and on another session than e's, a
// started request that failed on e's stream with err, if the upstream
// provably did not process it; otherwise it returns err. The started
// attempt counts against RoundTrip's limit.
func (p *Pool) retry(req *http.Request, e *entry, err error) (*http.Response, error) {
	if !errors.Is(err, ErrNotProcessed) || req.Context().Err() != nil {
		return nil, err
	}
	p.log.Debug().Err(err).Uint64("session", e.id).Int("attempt", 1).Msg("retrying request")
	return p.roundTrip(req, nil, []*entry{e})
}
