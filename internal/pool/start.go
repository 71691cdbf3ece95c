package pool

import (
	"net/http"
	"sync/atomic"
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
	// RoundTrip's. If f is not nil, the session calls its HeadFailed when
	// the stream's response head will not come, as soon as it knows.
	Start(req *http.Request, f HeadFailer) (Started, error)
	// Await waits for the response head of a request Start sent; it is
	// called once for each. Its results are RoundTrip's.
	Await(st Started, req *http.Request) (*http.Response, error)
}

// HeadFailer learns that a started stream's response head will not come
// (the stream or its session failed), before Await returns, on whichever
// goroutine failed the stream: it must not keep that goroutine waiting.
type HeadFailer interface {
	HeadFailed()
}

// Pending is a request that Pool.Start sent. Await it once: the response
// body it returns must be closed, as RoundTrip's; the stream counts against
// its session until then, or until Await fails.
//
// A started stream whose head fails is dealt with at once, on a goroutine of
// its own (HeadFailed), rather than when it is awaited: when a session ends
// many started streams at once (a GOAWAY below them), a caller that awaits
// them in turn would otherwise send each again only after the one before had
// its answer.
type Pending struct {
	p   *Pool
	e   *entry  // its session is a StartSession where st is set
	st  Started // nil: res and err are the outcome
	req *http.Request
	// Without a stream (the pool or Start failed, or the session cannot
	// start), and after an early outcome: the round trip's outcome.
	res *http.Response
	err error

	state atomic.Int32  // who concludes the stream: see the pending* states
	early chan struct{} // closed once the early outcome is in res and err
}

// Who concludes a started stream: Await, or the goroutine HeadFailed starts.
const (
	pendingStarting int32 = iota // Start has not yet set e and st
	pendingStarted               // started; no one has concluded it yet
	pendingFailed                // its head failed while Start ran: Start starts the early outcome
	pendingEarly                 // the early outcome is being found; Await waits for it
	pendingAwaited               // Await concludes it
)

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
		pd.res, pd.err = p.roundTrip(req, e, nil, false) // on the stream reserved for it
		return
	}
	st, err := ss.Start(forSession(ss, req, info), pd)
	if err != nil {
		e.carried(err)
		p.release(e)
		pd.res, pd.err = p.retry(req, e, err)
		return
	}
	pd.e, pd.st = e, st
	if !pd.state.CompareAndSwap(pendingStarting, pendingStarted) {
		pd.concludeEarly(pendingFailed) // the head failed already
	}
}

// HeadFailed is called by the session, on a goroutine of its own that must
// not wait, when the stream's response head will not come: the stream's
// outcome, and the request's retry if the upstream provably did not process
// it, are then found at once on another goroutine. Later calls, from the
// streams of retries, do nothing.
func (pd *Pending) HeadFailed() {
	if pd.state.CompareAndSwap(pendingStarting, pendingFailed) {
		return // Start concludes it early once it has set the stream
	}
	if pd.state.Load() == pendingStarted {
		pd.concludeEarly(pendingStarted)
	}
}

// concludeEarly starts the early outcome of a stream in state from, unless
// Await took it first.
func (pd *Pending) concludeEarly(from int32) {
	early := make(chan struct{})
	pd.early = early // read only by those who see pendingEarly
	if !pd.state.CompareAndSwap(from, pendingEarly) {
		return
	}
	go func() {
		pd.res, pd.err = pd.conclude()
		close(early)
	}()
}

// Ready reports whether Await would not wait for the response head (it may
// still wait for a retry).
func (pd *Pending) Ready() bool {
	if pd.st == nil {
		return true
	}
	if pd.state.Load() == pendingEarly {
		select {
		case <-pd.early:
			return true
		default:
			return false
		}
	}
	return pd.st.Ready()
}

// Await waits for the response head. A request the upstream provably did
// not process, or an idempotent one it may have, is sent again, as RoundTrip
// would.
func (pd *Pending) Await() (*http.Response, error) {
	if pd.st == nil {
		return pd.res, pd.err
	}
	if !pd.state.CompareAndSwap(pendingStarted, pendingAwaited) {
		<-pd.early
		return pd.res, pd.err
	}
	return pd.conclude()
}

// conclude waits for the stream's head and returns the request's outcome,
// retrying the request where RoundTrip would. Exactly one of Await and the
// early outcome calls it.
func (pd *Pending) conclude() (*http.Response, error) {
	p, e := pd.p, pd.e
	res, err := pd.e.s.(StartSession).Await(pd.st, pd.req)
	if err != nil {
		e.carried(err)
		p.release(e)
		return p.retry(pd.req, e, err)
	}
	return p.answer(pd.req, res, e), nil
}

// retry sends again, as RoundTrip would and on another session than e's, a
// started request that failed on e's stream with err, if retryable says it
// may go again; otherwise it returns err. The started attempt counts against
// RoundTrip's limits.
func (p *Pool) retry(req *http.Request, e *entry, err error) (*http.Response, error) {
	again, maybe := retryable(err, false)
	if !again || req.Context().Err() != nil {
		return nil, err
	}
	p.log.Debug().Err(err).Uint64("session", e.id).Int("attempt", 1).Msg("retrying request")
	return p.roundTrip(req, nil, []*entry{e}, maybe)
}
