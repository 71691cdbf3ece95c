package h2conn

import (
	"golang.org/x/net/http2"
)

// Flow control (RFC 9113 5.2, 6.9).
//
// Send side: the peer grants windows per stream and for the connection; a
// request body sender takes bytes from both before it queues DATA and
// waits on its stream's sendc when either is empty.
//
// Receive side, per stream: recvWindow + buffered + unacked is
// Config.StreamWindow at all times, so a stream whose Body is not read
// buffers at most one stream window and then stops its peer. Bytes move
// from buffered to unacked as Body.Read consumes them and from unacked
// back to recvWindow when the stream's WINDOW_UPDATE is queued.
//
// Receive side, connection: recvWindow + recvUnacked is Config.ConnWindow.
// A DATA frame's bytes become unacked as soon as the reader has taken
// them: into a stream's buffer, which the stream window bounds already,
// or dropped. So the connection window bounds the bytes in flight, not
// the buffered ones, and a stream whose reader stalls holds none of it:
// it stalls itself through its own window, never its neighbours. Were the
// connection credited as bodies are read (as x/net's transport does),
// ConnWindow / StreamWindow stalled readers would stall every stream.
// Memory stays bounded all the same: at most the open streams times
// Config.StreamWindow.
//
// Credit is coalesced: a WINDOW_UPDATE is queued only once half a window
// is unacked, and always by the writer, so the updates for many streams
// and the connection leave together in the writer's next Write.

// takeSendWindow waits until s may send and takes up to n bytes from the
// stream's and the connection's send windows. It returns errStreamDone
// once s may send nothing more (reset, closed, or the connection failed).
func (c *Conn) takeSendWindow(s *stream, n int) (int, error) {
	c.mu.Lock()
	for {
		if s.closed || s.localDone {
			c.mu.Unlock()
			return 0, errStreamDone
		}
		if w := min(int64(s.sendWindow), int64(c.sendWindow), int64(n)); w > 0 {
			s.sendWindow -= int32(w)
			c.sendWindow -= int32(w)
			c.mu.Unlock()
			return int(w), nil
		}
		c.mu.Unlock()
		<-s.sendc
		c.mu.Lock()
	}
}

// onWindowUpdate applies the peer's WINDOW_UPDATE.
func (c *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if int64(c.sendWindow)+inc > maxWindow {
			return connError(http2.ErrCodeFlowControl, "connection window overflow")
		}
		c.sendWindow += int32(inc)
		for s := range c.streams.all() {
			s.signalSend()
		}
		return nil
	}
	s, err := c.lookupLocked(f.StreamID)
	if s == nil || err != nil {
		return err
	}
	if int64(s.sendWindow)+inc > maxWindow {
		// RFC 9113 6.9.1: a stream error FLOW_CONTROL_ERROR.
		return &streamReset{s: s, code: http2.ErrCodeFlowControl}
	}
	s.sendWindow += int32(inc)
	s.signalSend()
	return nil
}

// acceptedLocked credits n bytes of DATA that the reader took off the
// connection (buffered for a stream, or dropped) to the connection window.
// It reports whether the writer has a WINDOW_UPDATE to send.
func (c *Conn) acceptedLocked(n int) bool {
	c.recvUnacked += int32(n)
	return c.recvUnacked >= int32(c.cfg.ConnWindow/2)
}

// consumedLocked credits n bytes of s's response body that were read, or
// dropped on arrival, to s's window. It reports whether the writer has a
// WINDOW_UPDATE to send. The connection's share was credited on arrival.
func (c *Conn) consumedLocked(s *stream, n int) bool {
	if n == 0 || s.closed || s.remoteDone {
		return false
	}
	s.unacked += int32(n)
	if s.creditQueued || s.unacked < int32(c.cfg.StreamWindow/2) {
		return false
	}
	s.creditQueued = true
	c.credit = append(c.credit, s)
	return true
}

// queueCreditLocked queues the WINDOW_UPDATE frames that are due. The
// writer calls it holding wmu and mu.
func (c *Conn) queueCreditLocked() {
	for i, s := range c.credit {
		c.credit[i] = nil
		s.creditQueued = false
		if s.closed || s.remoteDone || s.unacked <= 0 {
			continue
		}
		_ = c.wfr.WriteWindowUpdate(s.id, uint32(s.unacked))
		s.recvWindow += s.unacked
		s.unacked = 0
	}
	c.credit = c.credit[:0]
	if c.recvUnacked >= int32(c.cfg.ConnWindow/2) && !c.closed.Load() {
		_ = c.wfr.WriteWindowUpdate(0, uint32(c.recvUnacked))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
	}
}
