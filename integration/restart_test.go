//go:build unix

package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadOutcome is what restartUnderLoad saw.
type loadOutcome struct {
	served      int64 // requests answered as expected
	failedPosts int64 // POSTs answered 502, for the caller to judge
	failedGets  int64 // GETs answered 502, for the caller to judge
}

// restartUnderLoad has 32 clients send requests for path through f, GETs and POSTs of a small
// body, each to be answered 200 with want, while it restarts the upstream n times (restart,
// which returns once the upstream says it restarted), each once 300 more requests were served.
// A request that fails other than with 502 fails the test at once. The load is bounded in count
// and time, and stops once 300 requests were served after the last restart.
func restartUnderLoad(t *testing.T, f *front, path, want string, n int, restart func() error) loadOutcome {
	t.Helper()
	c := newClient(t)
	var served, failed, failedPosts, failedGets atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 32 {
		post := i%2 == 1
		wg.Go(func() {
			for range 5000 { // bounded: the test stops them well before
				select {
				case <-stop:
					return
				default:
				}
				switch status, err := requestOnce(c, f.url(false)+path, post, want); {
				case err == nil:
					served.Add(1)
				case post && status == http.StatusBadGateway:
					failedPosts.Add(1)
				case status == http.StatusBadGateway:
					failedGets.Add(1)
				default:
					failed.Add(1)
					t.Errorf("post %v: %v", post, err)
					return
				}
			}
		})
	}
	var stopOnce sync.Once
	stopClients := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopClients()
	// awaitServed returns once m requests have been served in all, polling the count.
	awaitServed := func(m int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for served.Load() < m && failed.Load() == 0 && time.Now().Before(deadline) {
			<-tick.C
		}
		if served.Load() < m {
			t.Fatalf("%d requests served, %d failed; waited for %d", served.Load(), failed.Load(), m)
		}
	}
	for round := range n {
		awaitServed(served.Load() + 300)
		if err := restart(); err != nil {
			t.Fatalf("restart %d: %v", round+1, err)
		}
	}
	awaitServed(served.Load() + 300) // served after the last restart
	stopClients()
	return loadOutcome{served: served.Load(), failedPosts: failedPosts.Load(), failedGets: failedGets.Load()}
}

// requestOnce sends a GET to url, or with post a POST of a small body, and returns the status,
// and an error unless the answer was 200 with want.
func requestOnce(c *http.Client, url string, post bool, want string) (int, error) {
	var resp *http.Response
	var err error
	if post {
		resp, err = c.Post(url, "text/plain", strings.NewReader("posted"))
	} else {
		resp, err = c.Get(url)
	}
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != want || err != nil {
		return resp.StatusCode, fmt.Errorf("%s, %q, %v", resp.Status, body, err)
	}
	return 200, nil
}

// awaitLines returns once read's text has more than before lines that contain line, checking
// every 10 ms for at most 10 s: a server's log says it restarted.
func awaitLines(read func() string, line string, before int) error {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for strings.Count(read(), line) <= before {
		if time.Now().After(deadline) {
			return fmt.Errorf("no new %q in the log within 10s", line)
		}
		<-tick.C
	}
	return nil
}
