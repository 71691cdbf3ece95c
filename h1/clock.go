package h1

import (
	"net/http"
	"sync/atomic"
	"time"
)

// clock is a Server's coarse clock: the time the watch goroutine read at its last tick, with the
// Date field line for it. Reading it is an atomic load, where reading the clock is a call into
// the vDSO that a busy server would otherwise pay several times per request. It serves what needs
// no more than about a tick's precision: the Date field, which has a second's (RFC 9110 5.6.7),
// and long timeouts (see now). While the watch goroutine does not run (before the first Serve,
// after shutdown has begun) it reads the clock itself.
//
// Timeouts that tests and contracts measure exactly (HeaderTimeout, IdleTimeout) are not taken
// from it.
type clock struct {
	v       atomic.Pointer[clockTick] // set by the watch goroutine; nil while it does not run
	precise dateCache                 // the Date field lines while v is nil
}

// clockTick is one reading of the clock; never modified once stored.
type clockTick struct {
	now  time.Time
	line []byte // the Date field line for now (see appendDateLine)
}

// coarseSlack is how far behind the clock a coarse reading may be: a tick, and as much again for
// a watch goroutine that the scheduler runs late.
const coarseSlack = 2 * watchTick

// set stores now as the clock's reading. Only the watch goroutine calls it.
func (k *clock) set(now time.Time) {
	t := &clockTick{now: now}
	if prev := k.v.Load(); prev != nil && prev.now.Unix() == now.Unix() {
		t.line = prev.line
	} else {
		t.line = appendDateLine(nil, now)
	}
	k.v.Store(t)
}

// stop makes the clock read the clock itself again. Only the watch goroutine calls it, as it
// returns.
func (k *clock) stop() { k.v.Store(nil) }

// now returns the time to measure a timeout of d from, and how far behind the clock that time may
// be: the last tick's and coarseSlack for a timeout of at least minCoarseTimeout (so that it is
// cut short by a twentieth at most), else the clock's and zero.
func (k *clock) now(d time.Duration) (time.Time, time.Duration) {
	if d >= minCoarseTimeout {
		if t := k.v.Load(); t != nil {
			return t.now, coarseSlack
		}
	}
	return time.Now(), 0
}

// minCoarseTimeout is the shortest timeout measured from the coarse clock.
const minCoarseTimeout = 20 * coarseSlack

// dateLine returns the Date field line (RFC 9110 6.6.1) for now, which may be a tick behind the
// clock: "Date: " IMF-fixdate CRLF. Callers must not modify it.
func (k *clock) dateLine() []byte {
	if t := k.v.Load(); t != nil {
		return t.line
	}
	return k.precise.get(time.Now())
}

// dateCache holds the Date field line for the current second.
type dateCache struct {
	v atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	b   []byte // the Date field line (see appendDateLine); never modified once stored
}

// get returns the Date field line for now; callers must not modify it.
func (d *dateCache) get(now time.Time) []byte {
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.b
	}
	v := &dateValue{sec: sec, b: appendDateLine(nil, now)}
	d.v.Store(v)
	return v.b
}

const datePrefix = "Date: "

// appendDateLine appends the Date field line for t to b: "Date: ", the IMF-fixdate of t
// (RFC 9110 5.6.7), CRLF.
func appendDateLine(b []byte, t time.Time) []byte {
	if b == nil {
		b = make([]byte, 0, len(datePrefix)+len(http.TimeFormat)+len("\r\n"))
	}
	b = append(b, datePrefix...)
	b = t.UTC().AppendFormat(b, http.TimeFormat)
	return append(b, "\r\n"...)
}
