//go:build !unix

package main

import (
	"net"
	"os"

	"github.com/rs/zerolog"

	"muxgate/certs"
	"muxgate/gateway"
)

// handover: no process hands over sockets where there is no SIGUSR2.
type handover struct{}

func startedByUpgrade() bool                                  { return false }
func takeOver(zerolog.Logger) *handover                       { return nil }
func (*handover) listen(string, string) (net.Listener, error) { return nil, nil }
func (*handover) takeTickets(*certs.Tickets)                  {}
func (*handover) finish(bool)                                 {}
func notifyUpgrade() <-chan os.Signal                         { return nil }

func upgradeOn(<-chan os.Signal, *gateway.Gateway, *certs.Tickets, func(), zerolog.Logger) func() {
	return func() {}
}
