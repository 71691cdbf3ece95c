package demo

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3/qlog"
	"github.com/quic-go/quic-go/qlogwriter"
)

// goAwayTrace is a QUIC connection's qlog trace reduced to one fact: its HTTP/3 server created a
// GOAWAY frame. quic-go tells nothing else of a graceful shutdown's progress; its server creates
// the frame in its stream-accept loop once that loop takes no new request stream, and writes it
// right after.
type goAwayTrace struct {
	// armed is set before HTTP/3 serves the connection. Producers added before it are the QUIC
	// layer's, added when the connection is made: they get no recorder, so that quic-go does
	// not build an event for every packet only for it to be dropped here.
	armed atomic.Bool

	goAway chan struct{} // closed, once, by the recorder that sees a GOAWAY frame created
	once   sync.Once
}

// newGoAwayTrace is the quic.Config Tracer of an HTTP3 server.
func newGoAwayTrace(context.Context, bool, quic.ConnectionID) qlogwriter.Trace {
	return &goAwayTrace{goAway: make(chan struct{})}
}

// arm makes the producers added from now on record.
func (t *goAwayTrace) arm() { t.armed.Store(true) }

func (t *goAwayTrace) AddProducer() qlogwriter.Recorder {
	if !t.armed.Load() {
		return nil
	}
	return goAwayRecorder{t}
}

// goAwayRecorder watches one producer's events for a GOAWAY frame.
type goAwayRecorder struct{ t *goAwayTrace }

func (r goAwayRecorder) RecordEvent(ev qlogwriter.Event) {
	f, ok := ev.(qlog.FrameCreated)
	if !ok {
		return
	}
	if _, ok := f.Frame.Frame.(qlog.GoAwayFrame); ok {
		r.t.once.Do(func() { close(r.t.goAway) })
	}
}

func (goAwayRecorder) Close() error { return nil }
