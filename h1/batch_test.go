package h1

import (
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// starterHandler is a PipelineStarter whose exchanges answer with their path once the test
// releases them (a path not held is ready at once). It records where each half ran and which
// exchanges were aborted.
type starterHandler struct {
	mu          sync.Mutex
	held        map[string]chan struct{} // guarded by mu: paths whose answer waits for release
	aborted     []string                 // guarded by mu
	started     []string                 // guarded by mu: the stack frame StartPipelined ran under
	finishedOn  []string                 // guarded by mu: the goroutine each Finish ran on
	panics      map[string]bool          // paths whose Finish panics before it writes
	startPanics map[string]bool          // paths whose StartPipelined panics
	off         bool                     // StartsPipelined reports false
}

func newStarter(held ...string) *starterHandler {
	h := &starterHandler{held: map[string]chan struct{}{}, panics: map[string]bool{}, startPanics: map[string]bool{}}
	for _, p := range held {
		h.held[p] = make(chan struct{})
	}
	return h
}

// hold makes path's next exchanges wait for release.
func (h *starterHandler) hold(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held[path] = make(chan struct{})
}

func (h *starterHandler) release(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.held[path])
}

func (h *starterHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.StartPipelined(r).Finish(w)
}

func (h *starterHandler) StartsPipelined() bool { return !h.off }

func (h *starterHandler) StartPipelined(r *http.Request) PipelinedExchange {
	if h.startPanics[r.URL.Path] {
		panic("start failed")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started = append(h.started, caller())
	return &heldExchange{h: h, r: r, gate: h.held[r.URL.Path]}
}

// caller names where the exchange's half runs: "finisher", "dispatched" or "serve".
func caller() string {
	buf := make([]byte, 64<<10)
	stack := string(buf[:runtime.Stack(buf, false)])
	switch {
	case strings.Contains(stack, "finishLoop"):
		return "finisher"
	case strings.Contains(stack, "serveDispatched"):
		return "dispatched"
	}
	return "serve"
}

type heldExchange struct {
	h    *starterHandler
	r    *http.Request
	gate chan struct{} // nil: ready at once
}

func (x *heldExchange) Ready() bool {
	if x.gate == nil {
		return true
	}
	select {
	case <-x.gate:
		return true
	default:
		return false
	}
}

func (x *heldExchange) Finish(w http.ResponseWriter) {
	if x.gate != nil {
		select {
		case <-x.gate:
		case <-x.r.Context().Done():
			panic(http.ErrAbortHandler)
		}
	}
	if x.h.panics[x.r.URL.Path] {
		panic("finish failed")
	}
	x.h.mu.Lock()
	x.h.finishedOn = append(x.h.finishedOn, goroutineID())
	x.h.mu.Unlock()
	body := x.r.URL.Path + " " + caller()
	w.Header().Set("Content-Length", itoa(len(body)))
	io.WriteString(w, body)
	// As a proxy flushes before it waits for the end of its upstream's stream: the answer is
	// complete by its length, and the flush must not take it out of the batch.
	w.(http.Flusher).Flush()
}

func (x *heldExchange) Abort() {
	x.h.mu.Lock()
	defer x.h.mu.Unlock()
	if x.r.Context().Err() == nil {
		panic("Abort with a live request context")
	}
	x.h.aborted = append(x.h.aborted, x.r.URL.Path)
}

// TestBatchAnswersInOrderOnTheFinisher: pipelined requests of a PipelineStarter are started on
// the serve goroutine and answered in order on the finisher, also when later ones are ready
// first; requests sent one at a time still run inline.
func TestBatchAnswersInOrderOnTheFinisher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter("/1", "/2")
		_, l := servePipe(t, Config{}, h)
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/2", "/3"))
		synctest.Wait() // all three started; /3 is ready, /1 and /2 are not
		h.release("/2")
		synctest.Wait()
		h.release("/1")
		for _, p := range []string{"/1", "/2", "/3"} {
			if r := c.read("GET"); r.body != p+" finisher" {
				t.Errorf("got %q, want %q answered by the finisher", r.body, p)
			}
		}
		h.mu.Lock()
		started := strings.Join(h.started, ",")
		h.mu.Unlock()
		// The last of the pipeline is dispatched too: /1 and /2 were unwritten when it came.
		if started != "serve,serve,serve" {
			t.Errorf("StartPipelined ran on %s, want the serve goroutine each time", started)
		}
		synctest.Wait() // the pipeline has drained
		if r := c.roundTrip(getRoot); r.body != "/ serve" {
			t.Errorf("a request alone: got %q, want it answered inline", r.body)
		}
	})
}

// TestBatchFinisherKept: the finisher of a pipelined batch waits for the next one and answers
// it too, so that it does not start a goroutine and grow its stack again; once the connection
// has waited ParkAfter for its next request, the finisher ends, and the next batch gets a new
// one.
func TestBatchFinisherKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter()
		_, l := servePipe(t, Config{ParkAfter: time.Second}, h)
		c := newClient(t, l.dial())
		batch := func() {
			t.Helper()
			paths := []string{"/1", "/2", "/3"}
			// /1 waits until all three are started, so that none is alone when it comes.
			h.hold("/1")
			c.send(pipelineOf(paths...))
			synctest.Wait()
			h.release("/1")
			for _, p := range paths {
				if r := c.read("GET"); r.body != p+" finisher" {
					t.Errorf("got %q, want %q answered by the finisher", r.body, p)
				}
			}
			synctest.Wait() // the finisher has written all and waits, or has ended
		}
		finishers := func() []string {
			h.mu.Lock()
			defer h.mu.Unlock()
			return slices.Compact(slices.Clone(h.finishedOn))
		}
		batch()
		batch()
		if got := finishers(); len(got) != 1 {
			t.Errorf("two batches in a row were answered on goroutines %v, want one", got)
		}
		time.Sleep(2 * time.Second) // past ParkAfter: the connection goes idle
		synctest.Wait()
		batch()
		if got := finishers(); len(got) != 2 {
			t.Errorf("a batch after the connection went idle was answered on goroutines %v, want a second one", got)
		}
	})
}

// TestBatchOneWrite: answers that are ready together reach the socket in one write, also when
// each flushes once complete by its length.
func TestBatchOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter("/1")
		var writes atomic.Int32
		_, l := servePipe(t, Config{}, h)
		client, server := net.Pipe()
		l.conns <- countingConn{server, &writes}
		c := newClient(t, client)
		paths := []string{"/1", "/2", "/3", "/4", "/5", "/6", "/7", "/8"}
		c.send(pipelineOf(paths...))
		synctest.Wait() // all eight started; the finisher waits for /1
		if n := writes.Load(); n != 0 {
			t.Fatalf("got %d writes before the first answer, want 0", n)
		}
		h.release("/1")
		for _, p := range paths {
			if r := c.read("GET"); !strings.HasPrefix(r.body, p+" ") {
				t.Errorf("got %q, want %q", r.body, p)
			}
		}
		if n := writes.Load(); n != 1 {
			t.Errorf("got %d writes for %d answers ready together, want 1", n, len(paths))
		}
	})
}

// TestBatchFlushesWhatIsReady: an answer that is not ready does not hold back those before it.
func TestBatchFlushesWhatIsReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter("/3")
		_, l := servePipe(t, Config{}, h)
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/2", "/3"))
		for _, p := range []string{"/1", "/2"} {
			if r := c.read("GET"); !strings.HasPrefix(r.body, p+" ") {
				t.Errorf("got %q, want %q while /3 is not ready", r.body, p)
			}
		}
		h.release("/3")
		if r := c.read("GET"); !strings.HasPrefix(r.body, "/3 ") {
			t.Errorf("got %q, want /3", r.body)
		}
	})
}

// TestBatchAbortsWhenTheClientLeaves: a client that closes with answers pending gets its
// requests' contexts ended, and each pending exchange is aborted or finishes failing.
func TestBatchAbortsWhenTheClientLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter("/1", "/2", "/3")
		_, l := servePipe(t, Config{}, h)
		conn := l.dial()
		c := newClient(t, conn)
		c.send(pipelineOf("/1", "/2", "/3"))
		synctest.Wait()
		conn.Close()
		synctest.Wait()
		h.mu.Lock()
		defer h.mu.Unlock()
		// /1 is the finisher's when the close comes: its Finish ends with the context; the
		// others are aborted.
		if got := strings.Join(h.aborted, ","); got != "/2,/3" {
			t.Errorf("aborted %q, want /2,/3", got)
		}
	})
}

// TestBatchFinishPanic: a Finish that panics before it writes is answered 500 in its place,
// after the answers before it, and the connection closes; the exchanges after it are aborted.
func TestBatchFinishPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter("/1", "/3")
		h.panics["/boom"] = true
		_, l := servePipe(t, Config{}, h)
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/boom", "/3"))
		synctest.Wait() // all three started: /3 is queued when /boom panics
		h.release("/1")
		if r := c.read("GET"); !strings.HasPrefix(r.body, "/1 ") {
			t.Errorf("got %q, want /1", r.body)
		}
		if r := c.read("GET"); r.StatusCode != 500 || !r.Close {
			t.Errorf("got %d close %v, want 500 with Connection: close", r.StatusCode, r.Close)
		}
		c.expectClosed()
		synctest.Wait()
		h.mu.Lock()
		defer h.mu.Unlock()
		if got := strings.Join(h.aborted, ","); got != "/3" {
			t.Errorf("aborted %q, want /3", got)
		}
	})
}

// TestBatchStartPanic: a StartPipelined that panics on the serve goroutine is answered 500 in
// its turn and the connection closes; the server goes on serving other connections.
func TestBatchStartPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter()
		h.startPanics["/boom"] = true
		_, l := servePipe(t, Config{}, h)
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/boom", "/3"))
		if r := c.read("GET"); !strings.HasPrefix(r.body, "/1 ") {
			t.Errorf("got %q, want /1", r.body)
		}
		if r := c.read("GET"); r.StatusCode != 500 || !r.Close {
			t.Errorf("got %d close %v, want 500 with Connection: close", r.StatusCode, r.Close)
		}
		c.expectClosed()
		if r := newClient(t, l.dial()).roundTrip(getRoot); r.StatusCode != 200 {
			t.Errorf("another connection: got %d, want 200", r.StatusCode)
		}
	})
}

// TestBatchConnectionClose: an answer with Connection: close ends the connection after it; the
// exchanges after it are aborted.
func TestBatchConnectionClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter("/after")
		_, l := servePipe(t, Config{}, h)
		c := newClient(t, l.dial())
		c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read("GET"); !strings.HasPrefix(r.body, "/1 ") || r.Close {
			t.Errorf("got %q close %v, want /1 kept alive", r.body, r.Close)
		}
		if r := c.read("GET"); !strings.HasPrefix(r.body, "/last ") || !r.Close {
			t.Errorf("got %q close %v, want /last with Connection: close", r.body, r.Close)
		}
		c.expectClosed()
		synctest.Wait()
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.started) != 2 {
			t.Errorf("started %d exchanges, want 2: nothing after the one that closes", len(h.started))
		}
	})
}

// TestBatchOffUsesHandlers: a PipelineStarter whose StartsPipelined is false is served as any
// handler: pipelined requests get goroutines of their own.
func TestBatchOffUsesHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newStarter()
		h.off = true
		_, l := servePipe(t, Config{}, h)
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/2"))
		if r := c.read("GET"); r.body != "/1 dispatched" {
			t.Errorf("got %q, want /1 answered by a dispatched handler", r.body)
		}
		c.read("GET")
	})
}

// echoStarter is a PipelineStarter whose answer is its request's target and X-Tag values, read
// in Finish.
type echoStarter struct{}

func (echoStarter) ServeHTTP(w http.ResponseWriter, r *http.Request) { echoExchange{r}.Finish(w) }
func (echoStarter) StartsPipelined() bool                            { return true }
func (echoStarter) StartPipelined(r *http.Request) PipelinedExchange { return echoExchange{r} }

type echoExchange struct{ r *http.Request }

func (x echoExchange) Ready() bool { return true }
func (x echoExchange) Abort()      {}
func (x echoExchange) Finish(w http.ResponseWriter) {
	io.WriteString(w, x.r.RequestURI+" "+strings.Join(x.r.Header["X-Tag"], ","))
}

// TestBatchRecycledRequests: the finisher recycles each answered request (see recycle), and
// the requests read after it, in the same batch or the next, carry nothing of it.
func TestBatchRecycledRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, l := servePipe(t, Config{}, echoStarter{})
		c := newClient(t, l.dial())
		batch := "GET /1 HTTP/1.1\r\nHost: a\r\nX-Tag: one\r\nX-Tag: two\r\n\r\n" +
			"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n" +
			"GET /3?q HTTP/1.1\r\nHost: a\r\nX-Tag: three\r\n\r\n"
		for range 3 {
			c.send(batch)
			for _, want := range []string{"/1 one,two", "/2 ", "/3?q three"} {
				if r := c.read("GET"); r.body != want {
					t.Errorf("got %q, want %q", r.body, want)
				}
			}
			synctest.Wait()
		}
	})
}
