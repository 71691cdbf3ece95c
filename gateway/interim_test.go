package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// headsWriter records each WriteHeader with the fields it carried.
type headsWriter struct {
	mu    sync.Mutex
	h     http.Header
	heads []string
}

func (w *headsWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}

func (w *headsWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.heads = append(w.heads, fmt.Sprintf("%d %v", code, w.h))
}

func (w *headsWriter) Write(b []byte) (int, error) { return len(b), nil }

// TestInterim: informational responses go out in order, without hop-by-hop fields and without
// the upstream's 100 Continue, with the gateway's Via entry after the upstream's unless -no-via, each with nothing else in the header map; before the answer may be
// written they wait for settle; after settle they are dropped.
func TestInterim(t *testing.T) {
	hint := func(v string) http.Header { return http.Header{"Link": {v}, "Connection": {"x"}} }
	t.Run("as they come", func(t *testing.T) {
		w := &headsWriter{}
		ex := new(exchange)
		ex.pw.w = w
		ex.Got1xx(103, hint("a"))
		ex.Got1xx(100, http.Header{})
		ex.Got1xx(103, hint("b"))
		ex.settle(w)
		ex.Got1xx(103, hint("late"))
		want := "103 map[Link:[a] Via:[2 muxgate]] | 103 map[Link:[b] Via:[2 muxgate]]"
		if got := strings.Join(w.heads, " | "); got != want || len(w.h) != 0 {
			t.Errorf("got %q with %v left, want %q and nothing left", got, w.h, want)
		}
	})
	t.Run("before their turn", func(t *testing.T) {
		ex := new(exchange)
		ex.Got1xx(103, hint("a"))
		w := &headsWriter{}
		ex.settle(w)
		if got := strings.Join(w.heads, " | "); got != "103 map[Link:[a] Via:[2 muxgate]]" {
			t.Errorf("got %q, want the queued 103 written by settle", got)
		}
	})
	t.Run("Via", func(t *testing.T) {
		w := &headsWriter{}
		ex := new(exchange)
		ex.pw.w = w
		ex.ctx.Info.Protocol = "h3"
		ex.Got1xx(103, http.Header{"Via": {"1.1 origin"}})
		(*withoutVia)(ex).Got1xx(103, hint("a"))
		ex.settle(w)
		want := "103 map[Via:[1.1 origin 3 muxgate]] | 103 map[Link:[a]]"
		if got := strings.Join(w.heads, " | "); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("none", func(t *testing.T) {
		w := &headsWriter{}
		ex := new(exchange)
		ex.pw.w = w
		ex.settle(w)
		ex.Got1xx(103, hint("late"))
		if len(w.heads) != 0 {
			t.Errorf("got %q, want nothing", w.heads)
		}
	})
}
