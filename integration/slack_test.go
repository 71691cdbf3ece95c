//go:build linux

package integration

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestBinaryTimerSlack: muxgate runs with the timer slack of -timer-slack, 1 ms by default, which
// it gets by executing itself once more under the same process ID; -timer-slack 0 keeps the
// slack it was started with. Each serves a request.
func TestBinaryTimerSlack(t *testing.T) {
	own := readSlack(t, "self")
	cases := []struct {
		flag string // "": not given
		want int64
	}{{"", 1_000_000}, {"250us", 250_000}, {"0", own}}
	for _, c := range cases {
		t.Run("timer-slack="+c.flag, func(t *testing.T) {
			args := []string{"-demo", "-listen", "127.0.0.1:0", "-log-format", "json", "-access-log", "off"}
			if c.flag != "" {
				args = append(args, "-timer-slack", c.flag)
			}
			p := startBinary(t, args...)
			addrs, _ := p.waitServing(1)
			if got := readSlack(t, strconv.Itoa(p.cmd.Process.Pid)); got != c.want {
				t.Errorf("timer slack %d ns, want %d", got, c.want)
			}
			resp, _ := get(t, http.DefaultClient, "http://"+addrs[0]+"/")
			wantStatus(t, resp, "200 OK")
			if log := p.stderrText(); strings.Contains(log, "timer slack") {
				t.Errorf("the process log speaks of the timer slack:\n%s", log)
			}
		})
	}
}

// readSlack reads the timer slack of a process's first thread, in nanoseconds.
func readSlack(t *testing.T, pid string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
