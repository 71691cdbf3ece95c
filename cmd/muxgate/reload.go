package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"muxgate/certs"
)

// reloadOnHUP reloads the serving certificates on SIGHUP; a failed reload keeps the old ones.
// Each reload is logged, its failure too. With no certificates (nil: no -listen-tls), the signal
// is only logged: it must not end the process, as it would by default. The goroutine lives as
// long as the process.
func reloadOnHUP(store *certs.Store, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if store == nil {
				log.Info().Msg("SIGHUP: no -listen-tls, no certificates to reload")
			} else if err := store.Reload(); err != nil {
				log.Error().Err(err).Msg("certificate reload failed, keeping the old ones")
			} else {
				log.Info().Msg("certificates reloaded")
			}
		}
	}()
}
