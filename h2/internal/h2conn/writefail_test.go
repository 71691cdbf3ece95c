package h2conn

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

// failingConn is a client end whose writes fail once fail is set: with nothing written, or,
// with partly set too, after the write's first byte went.
type failingConn struct {
	net.Conn
	fail, partly atomic.Bool
}

func (f *failingConn) Write(b []byte) (int, error) {
	if !f.fail.Load() {
		return f.Conn.Write(b)
	}
	if f.partly.Load() {
		n, _ := f.Conn.Write(b[:1])
		return n, syscall.ECONNRESET
	}
	return 0, syscall.ECONNRESET
}

// TestWriteFailedWhole: a write that fails having written nothing (a connection the peer reset)
// sent none of the HEADERS it carried: their requests fail as not processed, and may go on
// another connection (RFC 9113 8.7). A request whose HEADERS an earlier write took to the peer
// may have been processed, and a write that failed after its first byte may have carried them
// whole.
func TestWriteFailedWhole(t *testing.T) {
	for _, partly := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			p := startPeer(t)
			fc := &failingConn{Conn: p.ncClient}
			p.ncClient = fc
			if p.connect(t, Config{}) == nil {
				t.Fatal("New failed")
			}
			sent := p.start(get("/sent"))
			p.expectSkipping(http2.FrameHeaders, http2.FrameSettings, http2.FrameWindowUpdate)
			fc.partly.Store(partly)
			fc.fail.Store(true)
			failed := p.start(get("/failed")).wait()
			if errors.Is(sent.wait().err, ErrUnprocessed) {
				t.Errorf("partly %v: a request whose HEADERS went before the failed write: %v, want it not ErrUnprocessed", partly, sent.err)
			}
			if got := errors.Is(failed.err, ErrUnprocessed); got == partly {
				t.Errorf("partly %v: the request of the failed write: %v; ErrUnprocessed %v, want %v", partly, failed.err, got, !partly)
			}
		})
	}
}
