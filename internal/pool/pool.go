// Package pool holds the protocol-neutral logic of an upstream pool: it
// reserves streams on the least-loaded of a few multiplexed sessions, opens
// another session only when all are full, one dial at a time, queues requests
// (bounded in count and time) when it may open no more, drops sessions that
// drain or die, closes the ones a burst opened once it is over, and retries at once a request that the upstream provably did
// not process. h2 and h3 supply the sessions.
package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for Limits' zero values, and the fixed policies.
const (
	DefaultMaxSessions  = 4
	DefaultQueueLength  = 1024
	DefaultQueueTimeout = 5 * time.Second

	// maxAttempts bounds the streams one request may use when the upstream
	// did not process it.
	maxAttempts = 3

	// Dial back-off after a failed dial: it doubles from minBackoff up to
	// maxBackoff and is reset by a successful dial.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Limits bound a Pool's sessions, streams, queue and retries. Zero values
// are documented per field; negative ones make New fail.
type Limits struct {
	// MaxSessions bounds the sessions that take new streams. 0: 4.
	MaxSessions int

	// MaxStreamsPerSession caps the streams the pool puts on one session,
	// below the peer's limit. 0: only the peer's limit.
	MaxStreamsPerSession int

	// QueueLength bounds the requests waiting for a stream; one more fails
	// with ErrQueueFull. 0: 1024.
	QueueLength int

	// QueueTimeout bounds the time a request waits for a stream; then it
	// fails with ErrQueueTimeout. 0: 5s.
	QueueTimeout time.Duration

	// ReplayBuffer is how many bytes of each request body the pool keeps so
	// that the request can be retried on another session. 0: none; a request
	// is then retried only if no byte of its body was read.
	ReplayBuffer int

	// MinSessions is how many sessions the pool keeps once a request has come, up to
	// MaxSessions, however few streams the requests need, and spreads the requests over (the
	// fewest in flight, ties taken in turn): for an upstream name with several addresses,
	// each of which should take requests (the pods of a headless Kubernetes Service), set it to
	// their number. Each session keeps a slot, from 0, and its dial tries the slot-th address
	// first (DialFunc's turn). 0 or 1: sessions are added only when the others are full.
	MinSessions int

	// MaxSessionAge retires a session this long after its dial, less up to a tenth at random,
	// so that sessions dialed together do not retire together: it takes no new streams once
	// another session is up, which it has dialed for, and is shut down (GOAWAY) once its
	// streams have ended. A new session dials the upstream's name anew, so that a change of its
	// addresses, or of the host a load balancer in front of it picks, is followed. 0: sessions
	// are kept while they work.
	MaxSessionAge time.Duration

	// SessionIdleTimeout closes the sessions a burst made the pool open once it has passed: when
	// for this long the pool's streams in flight stayed within half of what the other sessions
	// can take, the session with the fewest streams takes no more and is shut down (GOAWAY) once
	// they end; one session per period, never below MinSessions, or one. 0: sessions are kept
	// while they work.
	SessionIdleTimeout time.Duration

	// FailWhileUnreachable makes every request fail at once while the last dial failed and
	// no session is up; one past the back-off only starts the next dial, in the background.
	// For a pool that has a fallback, which serves the request meanwhile without waiting for
	// a dial that may take its whole timeout. false: a request past the back-off waits for
	// the dial it starts.
	FailWhileUnreachable bool
}

// Config configures a Pool. Zero values are documented per field.
type Config struct {
	// Dial opens a session. Required.
	Dial DialFunc

	// Protocol names the sessions' protocol in Info and State ("h2", "h3").
	Protocol string

	// Limits bound the sessions, the streams on each, the queue and the
	// request body kept for retries; zero values as documented on Limits.
	Limits

	// Logger receives session and dial events. The zero value is silent.
	Logger zerolog.Logger
}

// Pool spreads requests over sessions to one upstream. Its methods are safe
// for concurrent use.
//
// Lock order: Pool.mu, then any lock a Session takes in State. The pool calls
// no other Session method with mu held.
type Pool struct {
	cfg Config
	log zerolog.Logger

	ctx    context.Context // ends at Shutdown; dials run under it
	cancel context.CancelFunc

	// wg counts the pool's goroutines: dials and session closes. They are
	// started only with mu held and closed false, so Shutdown's Wait sees
	// them all.
	wg sync.WaitGroup

	mu         sync.Mutex
	sessions   []*entry    // guarded by mu; sessions that take new streams
	dropped    []*entry    // guarded by mu; draining or dead sessions that still carry streams
	waiters    []*waiter   // guarded by mu; requests waiting for a stream, oldest first
	queueTimer *time.Timer // guarded by mu; sweeps the queue (see armQueueLocked); nil until a request waited
	nextID     uint64      // guarded by mu; the last session ID handed out
	picks      uint64      // guarded by mu; streams counted on sessions, for entry.picked
	dialing    bool        // guarded by mu; a dial goroutine is running
	dialSlot   int         // guarded by mu; the slot of the session being dialed, while dialing
	dial       dialState   // guarded by mu
	unusedEnds int         // guarded by mu; sessions in a row that ended unused just after their dial (judgeEndedLocked)
	streams    int         // guarded by mu; streams counted on all sessions, dropped ones included
	peak       int         // guarded by mu; the most streams since the spare period began (armSpareLocked)
	spareTimer *time.Timer // guarded by mu; ends a spare period (Limits.SessionIdleTimeout); nil until one began
	spareArmed bool        // guarded by mu; a spare period runs
	opened     uint64      // guarded by mu; sessions dialed
	ends       Ends        // guarded by mu; sessions dropped, by reason
	closed     bool        // guarded by mu; set once by Shutdown
}

// entry is the pool's record of one session.
type entry struct {
	id       uint64
	s        Session
	inflight int         // guarded by Pool.mu
	lastIdle time.Time   // guarded by Pool.mu
	dropped  bool        // guarded by Pool.mu; out of sessions, takes no new streams
	full     bool        // guarded by Pool.mu; refused a reservation while live: passed over until a stream ends
	slot     int         // set at the dial: the lowest number no other session took (Limits.MinSessions)
	picked   uint64      // guarded by Pool.mu; Pool.picks when it last took a stream, for ties
	retireAt time.Time   // set at the dial; zero: never (Limits.MaxSessionAge)
	retired  bool        // guarded by Pool.mu; dropped for its age, so shut down rather than closed
	dialed   time.Time   // set at the dial
	used     atomic.Bool // it carried a stream the upstream did not refuse (carried)
	// ended: dropped for its upstream's GOAWAY or close, to be judged once its streams end
	// (endedLocked); endedEarly: that was within unusedWithin of its dial. Guarded by Pool.mu.
	ended, endedEarly bool
}

// carried records the outcome of a stream of e: a response head (err nil) or a failure. Any
// but ErrNotProcessed means the upstream took a stream on e (judgeEndedLocked).
func (e *entry) carried(err error) {
	if !e.used.Load() && (err == nil || !errors.Is(err, ErrNotProcessed)) {
		e.used.Store(true)
	}
}

// State is a snapshot of a Pool.
type State struct {
	Protocol     string
	Sessions     []SessionState // taking streams first, then draining ones
	Queued       int            // requests waiting for a stream
	Dialing      bool           // a dial is in progress
	DialError    error          // the last dial error (or ErrPeerSilent); nil after a successful dial
	DialFailures int            // failed dials since the last success, and sessions dropped for a silent peer (Limits.FailWhileUnreachable)
	Opened       uint64         // sessions dialed since New
	Ends         Ends           // sessions that stopped taking streams since New, by reason
	Closed       bool           // Shutdown was called
}

// New returns a Pool that dials nothing until the first request.
func New(cfg Config) (*Pool, error) {
	if cfg.Dial == nil {
		return nil, errors.New("pool: Config.Dial is nil")
	}
	if cfg.MaxSessions < 0 || cfg.MinSessions < 0 || cfg.MaxStreamsPerSession < 0 || cfg.QueueLength < 0 ||
		cfg.QueueTimeout < 0 || cfg.ReplayBuffer < 0 || cfg.MaxSessionAge < 0 || cfg.SessionIdleTimeout < 0 {
		return nil, errors.New("pool: negative limit in Config")
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	cfg.MinSessions = min(cfg.MinSessions, cfg.MaxSessions)
	if cfg.QueueLength == 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.QueueTimeout == 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	p := &Pool{cfg: cfg, log: cfg.Logger}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// State returns a snapshot of the pool and its sessions.
func (p *Pool) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := State{
		Protocol:     p.cfg.Protocol,
		Queued:       len(p.waiters),
		Dialing:      p.dialing,
		DialError:    p.dial.err,
		DialFailures: p.dial.failures,
		Closed:       p.closed,
		Opened:       p.opened,
		Ends:         p.ends,
		Sessions:     make([]SessionState, 0, len(p.sessions)+len(p.dropped)),
	}
	for _, e := range p.sessions {
		st.Sessions = append(st.Sessions, p.sessionStateLocked(e))
	}
	for _, e := range p.dropped {
		s := p.sessionStateLocked(e)
		s.Draining = true
		st.Sessions = append(st.Sessions, s)
	}
	return st
}

// Load is how many requests the pool carries now: streams in flight on its sessions, draining
// ones included, and requests waiting for a stream. It is cheaper than State, for a caller that
// spreads requests over several pools by their load.
func (p *Pool) Load() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.waiters)
	for _, e := range p.sessions {
		n += e.inflight
	}
	for _, e := range p.dropped {
		n += e.inflight
	}
	return n
}

func (p *Pool) sessionStateLocked(e *entry) SessionState {
	s := e.s.State()
	s.ID = e.id
	s.InFlight = e.inflight
	s.LastIdle = e.lastIdle
	return s
}

// Shutdown stops taking requests (they fail with ErrClosed), fails the
// queued ones, and shuts every session down gracefully. When ctx ends first
// it closes the sessions that remain and returns an error wrapping ctx.Err().
// It returns after every goroutine the pool started has ended.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	p.failWaitersLocked(ErrClosed)
	if p.queueTimer != nil {
		p.queueTimer.Stop()
	}
	if p.spareTimer != nil {
		p.spareTimer.Stop()
	}
	all := append(p.sessions, p.dropped...)
	p.sessions, p.dropped = nil, nil
	p.mu.Unlock()
	p.cancel()

	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(func() {
			if err := e.s.Shutdown(ctx); err != nil {
				e.s.Close()
			}
		})
	}
	wg.Wait()
	p.wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pool: shutdown: %w", err)
	}
	return nil
}
