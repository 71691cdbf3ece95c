package demo

import (
	"context"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// TestEvents: /events sends an event at once and one a second after, numbered on from the
// client's Last-Event-ID, as an event stream, and ends when the client leaves.
func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequest("GET", "/events", nil).WithContext(ctx)
		r.Header.Set("Last-Event-ID", "41")
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			Handler().ServeHTTP(rec, r)
			close(done)
		}()
		time.Sleep(2*eventInterval + eventInterval/2)
		synctest.Wait()
		want := "id: 42\ndata: tick 42\n\nid: 43\ndata: tick 43\n\nid: 44\ndata: tick 44\n\n"
		if got := rec.Body.String(); got != want || rec.Header().Get("Content-Type") != "text/event-stream" || !rec.Flushed {
			t.Errorf("%q, %q, flushed %v; want %q as text/event-stream, flushed", got, rec.Header().Get("Content-Type"), rec.Flushed, want)
		}
		cancel()
		<-done
	})
}
