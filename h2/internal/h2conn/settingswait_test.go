package h2conn

import (
	"context"
	"io"
	"net"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

// TestSettingsThenEnd: a peer that sends its SETTINGS and then ends the connection at once
// (as a server shutting down that still accepts does, with a GOAWAY or without) brought the
// session up: awaitSettings, called once both the SETTINGS and the end are in, reports it so
// every time rather than the end half of the time. Many connections, since a wrong choice
// would be a random one.
func TestSettingsThenEnd(t *testing.T) {
	for i := range 32 {
		synctest.Test(t, func(t *testing.T) {
			c, pn := settingsSent(t)
			pn.Close()
			synctest.Wait()
			select {
			case <-c.done:
			default:
				t.Fatal("the connection did not end with the peer's close")
			}
			if err := c.awaitSettings(context.Background()); err != nil {
				t.Errorf("connection %d: awaitSettings = %v, want nil: the SETTINGS came first", i, err)
			}
			c.Close()
			c.wg.Wait()
		})
	}
}

// TestSettingsThenCancel: SETTINGS that came bring the session up even when the dial's context
// ended at the same moment: awaitSettings, called with both in, reports the SETTINGS every time.
// The timeout's branch is the same choice.
func TestSettingsThenCancel(t *testing.T) {
	for i := range 32 {
		synctest.Test(t, func(t *testing.T) {
			c, pn := settingsSent(t)
			synctest.Wait()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := c.awaitSettings(ctx); err != nil {
				t.Errorf("connection %d: awaitSettings = %v, want nil: the SETTINGS came", i, err)
			}
			c.Close()
			pn.Close()
			c.wg.Wait()
		})
	}
}

// settingsSent starts a connection over a pipe whose peer has sent its SETTINGS; the peer's end
// of the pipe is returned, everything written to it read and dropped.
func settingsSent(t *testing.T) (*Conn, net.Conn) {
	cn, pn := net.Pipe()
	c := newConn(cn, Config{}.withDefaults())
	c.queuePreface()
	c.startGoroutines()
	go io.Copy(io.Discard, pn) // the preface and what follows it
	if err := http2.NewFramer(pn, nil).WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c, pn
}
