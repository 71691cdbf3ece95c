//go:build !linux

package h1

import "net"

// Connections park only on Linux (park_linux.go); elsewhere an idle connection keeps a goroutine.

type parkingLot struct{}

type parkState struct{}

func (s *Server) park(*conn) bool { return false }

func parkable(net.Conn) bool { return false }

func (*parkingLot) unpark(*conn) bool { return false }

func (*parkingLot) close() {}
