package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// testLogger logs the server's events into the test's output.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
}

// startServer serves h on a loopback listener until the test ends, then closes the server and
// checks that Serve returned http.ErrServerClosed and that nothing is left open.
func startServer(t *testing.T, cfg Config, h http.Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = testLogger(t)
	s := New(cfg, h)
	serveUntilEnd(t, s, ln, false)
	return s, ln.Addr().String()
}

// startProxiedServer is startServer with a second listener, proxied, whose connections begin
// with a PROXY header (Server.ServeProxyProtocol).
func startProxiedServer(t *testing.T, cfg Config, h http.Handler) (s *Server, plain, proxied string) {
	t.Helper()
	s, plain = startServer(t, cfg, h)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	serveUntilEnd(t, s, ln, true)
	return s, plain, ln.Addr().String()
}

// serveUntilEnd serves ln with s, with ServeProxyProtocol if proxied, until the test ends; then
// it closes s and checks that serving returned http.ErrServerClosed and that nothing is left
// open.
func serveUntilEnd(t *testing.T, s *Server, ln net.Listener, proxied bool) {
	serve := s.Serve
	if proxied {
		serve = s.ServeProxyProtocol
	}
	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
		if st := s.State(); st.Conns != 0 || st.Active != 0 {
			t.Errorf("after Close: got %+v, want no connections or requests", st)
		}
		checkNoServerGoroutines(t)
	})
}

// checkNoServerGoroutines fails the test if a goroutine of the server outlived Close, which
// waits for all of them. A goroutine may still be returning from its last deferred call, so
// the check yields and looks again a bounded number of times before it reports.
func checkNoServerGoroutines(t testing.TB) {
	t.Helper()
	var leaked []string
	for range 1000 {
		leaked = serverGoroutines()
		if len(leaked) == 0 {
			return
		}
		runtime.Gosched()
	}
	t.Errorf("after Close: server goroutines still running:\n%s", strings.Join(leaked, "\n\n"))
}

func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range []string{"h1.(*conn).serve", "h1.(*conn).serveDispatched", "h1.(*connReader).backgroundRead", "h1.(*Server).Serve(", "h1.(*Server).watchLoop"} {
			if strings.Contains(g, f) {
				found = append(found, g)
			}
		}
	}
	return found
}

// client is a raw HTTP/1.x client on one connection.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

// safetyNet bounds every read and write of a loopback test client, so that a server that fails
// to answer fails the test instead of hanging it. Nothing waits for it to pass.
const safetyNet = 30 * time.Second

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(safetyNet))
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func newClient(t testing.TB, conn net.Conn) *client {
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply is a response read whole.
type reply struct {
	*http.Response
	body string
}

// read reads one response to a request with the given method.
func (c *client) read(method string) reply {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read response body: %v", err)
	}
	return reply{resp, string(b)}
}

// roundTrip sends req and reads the response to it.
func (c *client) roundTrip(req string) reply {
	c.t.Helper()
	c.send(req)
	return c.read(strings.SplitN(req, " ", 2)[0])
}

// readLine reads one raw line, CRLF included.
func (c *client) readLine() string {
	c.t.Helper()
	line, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: got %q, %v", line, err)
	}
	return line
}

// expectClosed asserts that the server closed the connection: the next read finds its end.
func (c *client) expectClosed() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("got byte %q (then %q), want the connection closed", b, rest)
	}
	if err != io.EOF && !isReset(err) {
		c.t.Fatalf("got error %v, want io.EOF", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// pipeListener is an in-memory listener for tests under testing/synctest: dial hands one end of
// a net.Pipe to Accept.
type pipeListener struct {
	conns  chan net.Conn // buffered: dials waiting for Accept
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn, 16), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() net.Conn {
	c1, c2 := net.Pipe()
	l.conns <- c2
	return c1
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// servePipe serves h on a pipeListener until the test ends; for use inside a synctest bubble.
func servePipe(t *testing.T, cfg Config, h http.Handler) (*Server, *pipeListener) {
	t.Helper()
	l := newPipeListener()
	cfg.Logger = testLogger(t)
	s := New(cfg, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
	})
	return s, l
}

// text answers every request with its method and path, framed by length.
var text = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body := r.Method + " " + r.URL.Path
	w.Header().Set("Content-Length", itoa(len(body)))
	io.WriteString(w, body)
})

func itoa(n int) string { return strconv.Itoa(n) }

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

var noDeadline time.Time
