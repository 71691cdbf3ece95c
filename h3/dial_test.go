package h3

import (
	"context"
	"testing"
)

// TestAwaitSettings: SETTINGS that came count however else the wait could end at the same
// moment; otherwise the connection's end, then the context's. Many times each, since a wrong
// choice would be a random one.
func TestAwaitSettings(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		settings, ended, timed bool
		want                   settingsWait
	}{
		{"settings", true, false, false, settingsIn},
		{"settings and end", true, true, false, settingsIn},
		{"settings and timeout", true, false, true, settingsIn},
		{"all three", true, true, true, settingsIn},
		{"end", false, true, false, settingsEnded},
		{"end and timeout", false, true, true, settingsEnded},
		{"timeout", false, false, true, settingsTimedOut},
	} {
		for i := range 32 {
			settings, ended := make(chan struct{}), make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			if tc.settings {
				close(settings)
			}
			if tc.ended {
				close(ended)
			}
			if tc.timed {
				cancel()
			}
			if got := awaitSettings(ctx, settings, ended); got != tc.want {
				t.Fatalf("%s, wait %d: %d, want %d", tc.name, i, got, tc.want)
			}
			cancel()
		}
	}
}
