//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

// reopenOnUSR1 reopens the access-log file f on SIGUSR1, as nginx and nghttpx do, so that
// logrotate can rename it and signal. With no file (nil), the signal is only logged: it must not
// end the process, as it would by default. The goroutine lives as long as the process.
func reopenOnUSR1(f *logFile, log zerolog.Logger) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			if f == nil {
				log.Info().Msg("SIGUSR1: the access log is not a file, nothing to reopen")
				continue
			}
			if err := f.Reopen(); err != nil {
				log.Error().Err(err).Str("path", f.path).Msg("access log: reopen failed, writing to the old file")
				continue
			}
			log.Info().Str("path", f.path).Msg("access log reopened")
		}
	}()
}
