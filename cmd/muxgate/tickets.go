package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"muxgate/certs"
)

// ticketCheck is how often rotateTickets looks at the keys' age: a key comes at most this late.
const ticketCheck = time.Hour

// rotateTickets rotates session ticket keys of muxgate's own (certs.TicketRotation) until ctx
// ends.
func rotateTickets(ctx context.Context, t *certs.Tickets, log zerolog.Logger) {
	tick := time.NewTicker(ticketCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			changed, err := t.Rotate(now)
			if err != nil {
				log.Error().Err(err).Msg("session ticket key rotation failed; the keys stay")
			} else if changed {
				log.Info().Msg("session ticket keys rotated")
			}
		}
	}
}
