//go:build unix

package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// h2specdLimit bounds one run of h2specd: about 27 s here, most of it the cases whose broken
// frames end the session.
const h2specdLimit = 3 * time.Minute

// TestH2specdClient: h2specd, the HTTP/2 client conformance suite, finds nothing wrong with
// muxgate's own upstream session (the h2 pool on h2/internal/h2conn), strict cases included,
// over h2c and over TLS. h2specd runs integration/h2client once per case, against a server of its
// own that answers with correct or broken frames, and checks what the session sends back.
func TestH2specdClient(t *testing.T) {
	h2specd := needTool(t, "h2specd")
	client := filepath.Join(t.TempDir(), "h2client")
	if b, err := exec.Command("go", "build", "-o", client, "muxgate/integration/h2client").CombinedOutput(); err != nil {
		t.Fatalf("go build ./integration/h2client: %v\n%s", err, b)
	}
	for _, tc := range []struct {
		name     string
		tls      bool
		fromPort int // h2specd listens on one port per case from here; below the ephemeral range
	}{
		{"h2c", false, 21000},
		{"tls", true, 21200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--strict", "--exec", client, "--timeout", "2", "--from-port", strconv.Itoa(tc.fromPort)}
			if tc.tls {
				crt, key := writePEM(t)
				args = append(args, "--tls", "--cert-file", crt, "--cert-key-file", key)
			}
			tests, failed, report := runH2specd(t, h2specd, args)
			if failed > 0 && tc.tls {
				// Over TLS, one case ("Sends an invalid PING frame for connection close")
				// failed in about one run in eight with "tls: bad record MAC" on h2specd's side,
				// until the session stopped cutting its GOAWAY short when it fails (see
				// TestGoAwayAfterProtocolErrorWhileWriteBlocked in h2conn). Should such a
				// flake come back, the first run's failures are logged, and the suite runs
				// again once and must then pass whole.
				t.Logf("h2specd: %d of %d cases failed; running the suite again:\n%s", failed, tests, h2specdFailures(report))
				tests, failed, report = runH2specd(t, h2specd, args)
			}
			if failed > 0 {
				t.Errorf("h2specd: %d of %d cases failed:\n%s", failed, tests, h2specdFailures(report))
			}
			t.Logf("h2specd: %d cases, %d failed", tests, failed)
		})
	}
}

// runH2specd runs h2specd with args and returns its count of cases, of failed ones, and its
// report. It fails the test if h2specd ran no case or printed no summary.
func runH2specd(t *testing.T, h2specd string, args []string) (tests, failed int, report string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h2specdLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, h2specd, args...).CombinedOutput()
	report = stripANSI(string(out))
	tests, failed, ok := h2specdSummary(report)
	switch {
	case !ok:
		t.Fatalf("h2specd printed no summary (%v):\n%s", err, lastLines(report, 40))
	case tests == 0:
		t.Fatalf("h2specd ran no case:\n%s", lastLines(report, 40))
	}
	return tests, failed, report
}

var (
	ansiEscape      = regexp.MustCompile("\x1b\\[[0-9;]*m")
	h2specdSummaryR = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)
)

func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }

// h2specdSummary reads the closing line of an h2specd report.
func h2specdSummary(report string) (tests, failed int, ok bool) {
	m := h2specdSummaryR.FindStringSubmatch(report)
	if m == nil {
		return 0, 0, false
	}
	tests, _ = strconv.Atoi(m[1])
	failed, _ = strconv.Atoi(m[4])
	return tests, failed, true
}

// h2specdFailures keeps the report's failed cases and what they expected, without the lines
// h2specd's servers log as they close.
func h2specdFailures(report string) string {
	var b strings.Builder
	in := false
	// h2specd redraws a case's line in place with a carriage return as it finishes.
	for _, line := range strings.FieldsFunc(report, func(r rune) bool { return r == '\n' || r == '\r' }) {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "×"):
			in = true
		case strings.HasPrefix(trimmed, "✔"), strings.Contains(line, "use of closed network connection"):
			in = false
			continue
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
