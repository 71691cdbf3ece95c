package h1

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// gate holds the handler of each path until the test opens that path's gate, and tells the test
// which paths have entered their handler.
type gate struct {
	mu      sync.Mutex
	gates   map[string]chan struct{} // guarded by mu
	entered chan string
}

func newGate() *gate {
	return &gate{gates: map[string]chan struct{}{}, entered: make(chan string, 64)}
}

func (g *gate) ch(path string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.gates[path]
	if !ok {
		ch = make(chan struct{})
		g.gates[path] = ch
	}
	return ch
}

func (g *gate) open(path string) { close(g.ch(path)) }

// wait blocks the handler of r until its gate opens or its request is cancelled.
func (g *gate) wait(r *http.Request) {
	g.entered <- r.URL.Path
	select {
	case <-g.ch(r.URL.Path):
	case <-r.Context().Done():
	}
}

// waitEntered waits for n handlers to enter and returns their paths, sorted by arrival.
func (g *gate) waitEntered(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(safetyNet)
	for range n {
		select {
		case p := <-g.entered:
			got = append(got, p)
		case <-timeout:
			t.Fatalf("got %d handlers entered (%q), want %d", len(got), got, n)
		}
	}
	return got
}

func pipelineOf(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", p)
	}
	return b.String()
}

func TestPipelineKeepsOrderWhenLaterHandlersFinishFirst(t *testing.T) {
	g := newGate()
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	c := dial(t, addr)
	paths := []string{"/1", "/2", "/3", "/4", "/5"}
	c.send(pipelineOf(paths...))
	// All five run at once (the depth is 8): none can finish before the test opens its gate.
	if got := g.waitEntered(t, len(paths)); len(got) != len(paths) {
		t.Fatalf("got %q entered, want all of %q", got, paths)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		g.open(paths[i])
	}
	for _, p := range paths {
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "body of "+p {
			t.Errorf("got %d %q, want 200 %q", r.StatusCode, r.body, "body of "+p)
		}
	}
}

func TestPipelineDepthBoundsConcurrency(t *testing.T) {
	var running, most atomic.Int32
	g := newGate()
	_, addr := startServer(t, Config{PipelineDepth: 3}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		g.wait(r)
		running.Add(-1)
		io.WriteString(w, r.URL.Path)
	}))
	c := dial(t, addr)
	paths := []string{"/1", "/2", "/3", "/4", "/5", "/6"}
	c.send(pipelineOf(paths...))
	g.waitEntered(t, 3)
	select {
	case p := <-g.entered:
		t.Fatalf("handler of %s entered while 3 ran, want at most 3 at once", p)
	default:
	}
	for _, p := range paths {
		g.open(p)
	}
	for _, p := range paths {
		if r := c.read("GET"); r.body != p {
			t.Errorf("got %q, want %q", r.body, p)
		}
	}
	if m := most.Load(); m != 3 {
		t.Errorf("got at most %d handlers at once, want 3", m)
	}
}

func TestPipelineDepthOneIsSerial(t *testing.T) {
	var running, most atomic.Int32
	_, addr := startServer(t, Config{PipelineDepth: 1}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		if n > most.Load() {
			most.Store(n)
		}
		runtime.Gosched()
		running.Add(-1)
		io.WriteString(w, r.URL.Path)
	}))
	c := dial(t, addr)
	c.send(pipelineOf("/1", "/2", "/3", "/4"))
	for _, p := range []string{"/1", "/2", "/3", "/4"} {
		if r := c.read("GET"); r.body != p {
			t.Errorf("got %q, want %q", r.body, p)
		}
	}
	if m := most.Load(); m != 1 {
		t.Errorf("got %d handlers at once with depth 1, want 1", m)
	}
}

// TestPipelineUnsafeRequestWaits: a POST waits until every response before it is written, runs
// alone, and what follows it starts only after it.
func TestPipelineUnsafeRequestWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running atomic.Int32
		g := newGate()
		type seen struct {
			path    string
			running int32
		}
		var mu sync.Mutex
		var order []seen
		_, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := running.Add(1)
			defer running.Add(-1)
			mu.Lock()
			order = append(order, seen{r.URL.Path, n})
			mu.Unlock()
			if r.Method == http.MethodGet {
				g.wait(r)
			}
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
		}))
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/2") +
			"POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy" +
			pipelineOf("/4", "/5"))
		synctest.Wait()
		g.open("/2")
		synctest.Wait()
		mu.Lock()
		started := len(order)
		mu.Unlock()
		if started != 2 {
			t.Errorf("got %d handlers started while /1 was held, want 2: the POST waits", started)
		}
		c.conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.br.Peek(1); err == nil {
			t.Fatal("got a response byte while /1 was held, want none: /1 comes first")
		}
		c.conn.SetReadDeadline(time.Time{})
		g.open("/1")
		g.open("/4")
		g.open("/5")
		for _, want := range []string{"GET /1 ", "GET /2 ", "POST /3 xy", "GET /4 ", "GET /5 "} {
			if r := c.read("GET"); r.body != want {
				t.Errorf("got %q, want %q", r.body, want)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for i, s := range order {
			if s.path == "/3" && (s.running != 1 || i != 2) {
				t.Errorf("POST /3 started %d-th with %d handlers running, want 3rd and alone", i+1, s.running)
			}
		}
	})
}

// TestPipelineBufferBound: a held-back response buffers up to MaxPipelineBuffer, then its
// handler's Write blocks until its turn; a Flush sends nothing before that turn.
func TestPipelineBufferBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 10 << 10
		release := make(chan struct{})
		var accepted atomic.Int64
		chunk := strings.Repeat("z", 1000)
		_, l := servePipe(t, Config{MaxPipelineBuffer: limit}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/first" {
				<-release
				io.WriteString(w, "first")
				return
			}
			w.Header().Set("Content-Length", itoa(100*len(chunk)))
			for range 100 {
				n, err := io.WriteString(w, chunk)
				if err != nil {
					return
				}
				accepted.Add(int64(n))
				w.(http.Flusher).Flush()
			}
		}))
		c := newClient(t, l.dial())
		c.send(pipelineOf("/first", "/big"))
		synctest.Wait()
		// Held back: at most the bound plus one chunk, which waits in the handler's buffer.
		if got := accepted.Load(); got > limit+int64(len(chunk)) || got < limit-int64(len(chunk)) {
			t.Errorf("held-back handler wrote %d bytes before blocking, want about %d", got, limit)
		}
		// Nothing reaches the client before /first is answered, flushes included.
		c.conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.br.Peek(1); err == nil {
			t.Errorf("got response bytes before the first response, want none")
		}
		c.conn.SetReadDeadline(time.Time{})
		close(release)
		if r := c.read("GET"); r.body != "first" {
			t.Errorf("got %q, want %q", r.body, "first")
		}
		if r := c.read("GET"); r.body != strings.Repeat(chunk, 100) {
			t.Errorf("got %d bytes, want %d", len(r.body), 100*len(chunk))
		}
	})
}

// TestPipelineStreamsHeadOfLine: the response at the head of the line reaches the client as it
// flushes, while the responses after it are held back.
func TestPipelineStreamsHeadOfLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := make(chan struct{})
		_, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/second" {
				io.WriteString(w, "second")
				return
			}
			io.WriteString(w, "part one;")
			w.(http.Flusher).Flush()
			<-next
			io.WriteString(w, "part two")
		}))
		c := newClient(t, l.dial())
		c.send(pipelineOf("/first", "/second"))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len("9\r\npart one;"))
		if _, err := io.ReadFull(resp.Body, buf[:len("part one;")]); err != nil || string(buf[:9]) != "part one;" {
			t.Fatalf("got %q, %v; want the flushed part before the handler returns", buf[:9], err)
		}
		close(next)
		if rest, _ := io.ReadAll(resp.Body); string(rest) != "part two" {
			t.Errorf("got %q, want %q", rest, "part two")
		}
		if r := c.read("GET"); r.body != "second" {
			t.Errorf("got %q, want %q", r.body, "second")
		}
	})
}

// TestPipelineConnectionClose: a response that closes the connection is the last one sent; the
// requests after it are not answered and their handlers are cancelled.
func TestPipelineConnectionClose(t *testing.T) {
	cancelled := make(chan error, 1)
	g := newGate()
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/close":
			g.wait(r)
			w.Header().Set("Connection", "close")
		case "/after":
			g.entered <- r.URL.Path
			<-r.Context().Done()
			cancelled <- r.Context().Err()
			return
		}
		io.WriteString(w, r.URL.Path)
	}))
	c := dial(t, addr)
	c.send(pipelineOf("/1", "/close", "/after"))
	g.waitEntered(t, 2)
	g.open("/close")
	if r := c.read("GET"); r.body != "/1" || r.Close {
		t.Errorf("got %q close %v, want /1 kept alive", r.body, r.Close)
	}
	if r := c.read("GET"); r.body != "/close" || !r.Close {
		t.Errorf("got %q close %v, want /close with Connection: close", r.body, r.Close)
	}
	c.expectClosed()
	if err := <-cancelled; err == nil {
		t.Errorf("handler after the close: got no cancellation")
	}
}

// TestPipelineHandlerPanic: a held-back handler that panics is answered 500 in its place, and the
// connection closes after it.
func TestPipelineHandlerPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		_, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/1":
				<-release
			case "/boom":
				w.Header().Set("X-Partial", "1")
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				panic("held back")
			}
			io.WriteString(w, r.URL.Path)
		}))
		c := newClient(t, l.dial())
		c.send(pipelineOf("/1", "/boom", "/3"))
		synctest.Wait() // /boom has panicked while /1 holds the line
		close(release)
		if r := c.read("GET"); r.body != "/1" {
			t.Errorf("got %q, want /1", r.body)
		}
		if r := c.read("GET"); r.StatusCode != 500 || !r.Close || r.Header.Get("X-Partial") != "" {
			t.Errorf("got %d close %v X-Partial %q, want 500 with Connection: close and nothing of the handler's", r.StatusCode, r.Close, r.Header.Get("X-Partial"))
		}
		c.expectClosed()
	})
}

// TestNoGoroutinePerRequestWithoutPipelining: requests sent one at a time run on the connection's
// goroutine; only pipelined ones get goroutines of their own.
func TestNoGoroutinePerRequestWithoutPipelining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 64<<10)
			stack := string(buf[:runtime.Stack(buf, false)])
			if strings.Contains(stack, "serveDispatched") {
				io.WriteString(w, "dispatched")
			} else {
				io.WriteString(w, "inline")
			}
		}))
		c := newClient(t, l.dial())
		for i := range 3 {
			if r := c.roundTrip(getRoot); r.body != "inline" {
				t.Errorf("request %d alone: got %q, want inline", i, r.body)
			}
		}
		c.send(pipelineOf("/1", "/2", "/3"))
		for i := range 3 {
			if r := c.read("GET"); i < 2 && r.body != "dispatched" {
				t.Errorf("pipelined request %d: got %q, want dispatched", i, r.body)
			}
		}
		synctest.Wait() // the pipeline has drained
		if r := c.roundTrip(getRoot); r.body != "inline" {
			t.Errorf("after the pipeline: got %q, want inline", r.body)
		}
	})
}

// countingConn counts the writes made to it.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelineOneWrite: the complete responses of one pipeline reach the socket in one write.
func TestPipelineOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var writes atomic.Int32
		_, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/1" {
				<-release
			}
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, r.URL.Path)
		}))
		client, server := net.Pipe()
		l.conns <- countingConn{server, &writes}
		c := newClient(t, client)
		paths := []string{"/1", "/2", "/3", "/4", "/5", "/6", "/7", "/8"}
		c.send(pipelineOf(paths...))
		synctest.Wait() // /2 to /8 are complete and held back behind /1
		if n := writes.Load(); n != 0 {
			t.Fatalf("got %d writes before the first response was complete, want 0", n)
		}
		close(release)
		for _, p := range paths {
			if r := c.read("GET"); r.body != p {
				t.Errorf("got %q, want %q", r.body, p)
			}
		}
		if n := writes.Load(); n != 1 {
			t.Errorf("got %d writes for %d complete responses, want 1", n, len(paths))
		}
	})
}

// TestPipelineDrain: a drain that begins while pipelined requests are in flight answers every
// request read so far, the last with Connection: close, and reads none after it.
func TestPipelineDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate()
		s, l := servePipe(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.wait(r)
			io.WriteString(w, "body of "+r.URL.Path)
		}))
		c := newClient(t, l.dial())
		paths := []string{"/1", "/2", "/3"}
		c.send(pipelineOf(paths...))
		synctest.Wait() // all three read and in their handlers
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		synctest.Wait()
		c.send(pipelineOf("/after"))
		for _, p := range paths {
			g.open(p)
		}
		for i, p := range paths {
			r := c.read("GET")
			if r.StatusCode != 200 || r.body != "body of "+p || r.Close != (i == len(paths)-1) {
				t.Errorf("got %d %q close %v, want 200 %q with Connection: close on the last only", r.StatusCode, r.body, r.Close, "body of "+p)
			}
		}
		if b, err := io.ReadAll(c.br); len(b) != 0 || err != nil {
			t.Errorf("after the last answer: got %q, %v; want the connection closed", b, err)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}
