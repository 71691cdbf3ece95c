//go:build unix

package integration

import (
	"testing"

	"muxgate/internal/porttest"
)

// freePort returns a loopback address that was free a moment ago for an upstream of kind k: a
// TCP port, or a UDP port for h3 (see porttest.Free).
func freePort(t testing.TB, k upstreamKind) string {
	t.Helper()
	return porttest.Addr(t, !k.h3, k.h3)
}
