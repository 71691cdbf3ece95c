package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"muxgate/certs"
)

// reloadOnHUP reloads the serving certificates on SIGHUP; a failed reload keeps the old ones.
// The goroutine lives as long as the process.
func reloadOnHUP(store *certs.Store) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := store.Reload(); err != nil {
				fmt.Fprintf(os.Stderr, "muxgate: certificate reload failed, keeping the old ones: %v\n", err)
			}
		}
	}()
}
