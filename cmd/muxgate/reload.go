package main

import (
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/rs/zerolog"

	"muxgate/certs"
)

// reloadOnHUP reloads the certificates of stores on SIGHUP (those of -listen-tls, and the one
// shown to the upstream), and the session ticket keys of -tls-ticket-keys (tickets, which may be
// nil or of muxgate's own); a failed reload keeps the old ones. Each reload is logged, its
// failure too. With no certificates (no store, or only nil ones), the signal is only logged: it
// must not end the process, as it would by default. The goroutine lives as long as the process.
func reloadOnHUP(log zerolog.Logger, tickets *certs.Tickets, stores ...*certs.Store) {
	stores = slices.DeleteFunc(stores, func(s *certs.Store) bool { return s == nil })
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if tickets != nil && !tickets.Own() {
				if err := tickets.Reload(); err != nil {
					log.Error().Err(err).Msg("session ticket key reload failed, keeping the old ones")
				} else {
					log.Info().Msg("session ticket keys reloaded")
				}
			}
			if len(stores) == 0 {
				log.Info().Msg("SIGHUP: no certificates to reload")
				continue
			}
			var failed bool
			for _, store := range stores {
				if err := store.Reload(); err != nil {
					failed = true
					log.Error().Err(err).Msg("certificate reload failed, keeping the old ones")
				}
			}
			if !failed {
				log.Info().Msg("certificates reloaded")
			}
		}
	}()
}
