package pool

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestHeadTimer: a round trip whose head is late fails with ErrResponseTimeout at the deadline;
// one whose head comes in time keeps its context until its body is closed; no timeout, no timer.
func TestHeadTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://upstream.test/", nil)

		sent, timer := StartHeadTimer(req, time.Second, 0)
		start := time.Now()
		<-sent.Context().Done() // the upstream never answers
		if _, err := timer.Headed(nil, sent.Context().Err()); !errors.Is(err, ErrResponseTimeout) {
			t.Errorf("late head: %v, want ErrResponseTimeout", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("timed out after %v, want 1s", d)
		}

		sent, timer = StartHeadTimer(req, time.Second, 0)
		res, err := timer.Headed(&http.Response{Body: io.NopCloser(strings.NewReader("body"))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if err := sent.Context().Err(); err != nil {
			t.Errorf("context ended (%v) while the body was open", err)
		}
		res.Body.Close()
		if !errors.Is(sent.Context().Err(), context.Canceled) {
			t.Errorf("context %v after the body closed, want canceled", sent.Context().Err())
		}

		if sent, timer := StartHeadTimer(req, 0, 0); sent != req || timer != nil {
			t.Errorf("no timeout: got a new request or a timer")
		}
	})
}
