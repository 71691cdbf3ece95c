package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"muxgate/certs"
)

// TestRotateTickets: keys of muxgate's own get a new key within ticketCheck of each
// certs.TicketRotation, and the rotation stops with its context.
func TestRotateTickets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk, err := certs.NewTickets("")
		if err != nil {
			t.Fatal(err)
		}
		keys := func() int { return bytes.Count(tk.Export(), []byte("\n")) }
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { rotateTickets(ctx, tk, zerolog.Nop()) })
		time.Sleep(certs.TicketRotation - time.Nanosecond)
		synctest.Wait()
		if n := keys(); n != 1 {
			t.Fatalf("%d keys before a day had passed, want 1", n)
		}
		time.Sleep(ticketCheck)
		synctest.Wait()
		if n := keys(); n != 2 {
			t.Fatalf("%d keys a day and an hour in, want 2", n)
		}
		cancel()
		wg.Wait()
	})
}
