package h1

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// buffersWriter is how a handler finds WriteBuffers (the gateway declares the same).
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// pieces is a body in the pieces a handler holds it in: one that fits the write buffer, then
// several larger than it in all, then one again larger than the buffer on its own.
func pieces() (bufs [][][]byte, whole []byte) {
	mk := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + (seed+byte(i%251))%26
		}
		return b
	}
	bufs = [][][]byte{
		{mk(100, 1)},
		{mk(16<<10, 2), mk(1000, 3), mk(4<<10, 4), mk(16<<10, 5)},
		{mk(3*bufferSize+7, 6)},
	}
	for _, p := range bufs {
		for _, b := range p {
			whole = append(whole, b...)
		}
	}
	return bufs, whole
}

// buffersHandler writes the body of pieces with WriteBuffers, by Content-Length on /length and
// chunked otherwise. On a clear-text connection (direct) it checks that a write larger than the
// buffer left nothing in it: the head, the chunk's framing and the buffers went out in one
// writev.
func buffersHandler(t *testing.T, direct bool) http.Handler {
	bufs, whole := pieces()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", strconv.Itoa(len(whole)))
		}
		bw, ok := w.(buffersWriter)
		if !ok {
			t.Fatalf("%T has no WriteBuffers", w)
		}
		for i, p := range bufs {
			total := 0
			for _, b := range p {
				total += len(b)
			}
			n, err := bw.WriteBuffers(p)
			if err != nil || n != int64(total) {
				t.Errorf("%s: WriteBuffers of piece %d: got %d, %v; want %d, nil", r.URL.Path, i, n, err, total)
			}
			if left := w.(*response).bw.Buffered(); direct && total > bufferSize && left != 0 {
				t.Errorf("%s: piece %d of %d bytes left %d bytes in the buffer, want 0", r.URL.Path, i, total, left)
			}
			w.(http.Flusher).Flush()
		}
	})
}

// checkBuffersResponse reads one response of buffersHandler from resp.
func checkBuffersResponse(t *testing.T, resp *http.Response, path string) {
	t.Helper()
	_, whole := pieces()
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, whole) {
		t.Errorf("%s: got %d bytes (err %v), want the %d bytes written, in order", path, len(got), err, len(whole))
	}
	chunked := len(resp.TransferEncoding) > 0
	if want := path != "/length"; chunked != want {
		t.Errorf("%s: chunked is %v, want %v", path, chunked, want)
	}
}

// TestWriteBuffers: the buffers of each WriteBuffers arrive whole and in order with either
// framing, on a kept-alive connection, where they go out in one writev (clear text) and where
// they go through the write buffer (TLS).
func TestWriteBuffers(t *testing.T) {
	paths := []string{"/length", "/chunked", "/length", "/chunked"}
	t.Run("clear text", func(t *testing.T) {
		s, addr := startServer(t, Config{}, buffersHandler(t, true))
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		for _, path := range paths {
			resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			checkBuffersResponse(t, resp, path)
		}
		if st := s.State(); st.Conns != 1 {
			t.Errorf("got %d connections, want all requests on one", st.Conns)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		cert, pool := selfSigned(t)
		inner, err := netListen()
		if err != nil {
			t.Fatal(err)
		}
		ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}})
		s := New(Config{Logger: testLogger(t)}, buffersHandler(t, false))
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		defer func() {
			s.Close()
			<-served
		}()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		for _, path := range paths {
			resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + path)
			if err != nil {
				t.Fatal(err)
			}
			checkBuffersResponse(t, resp, path)
		}
	})
}

// TestWriteBuffersPipelined: a dispatched exchange's buffers go through its own writer, and the
// pipelined responses arrive in order.
func TestWriteBuffersPipelined(t *testing.T) {
	_, addr := startServer(t, Config{}, buffersHandler(t, false))
	c := dial(t, addr)
	paths := []string{"/length", "/chunked", "/length"}
	var req strings.Builder
	for _, p := range paths {
		req.WriteString("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	c.send(req.String())
	_, whole := pieces()
	for _, p := range paths {
		if r := c.read("GET"); r.body != string(whole) {
			t.Errorf("%s: got %d bytes, want the %d written, in order", p, len(r.body), len(whole))
		}
	}
}

// TestWriteBuffersContentLength: buffers past the declared length are refused whole, and the
// response goes on.
func TestWriteBuffersContentLength(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2*bufferSize)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)+3))
		bw := w.(buffersWriter)
		if n, err := bw.WriteBuffers([][]byte{big, []byte("abcd")}); n != 0 || !errors.Is(err, http.ErrContentLength) {
			t.Errorf("overrun: got %d, %v; want 0, %v", n, err, http.ErrContentLength)
		}
		if n, err := bw.WriteBuffers([][]byte{big, []byte("abc")}); n != int64(len(big)+3) || err != nil {
			t.Errorf("exact length: got %d, %v; want %d, nil", n, err, len(big)+3)
		}
		if n, err := bw.WriteBuffers([][]byte{[]byte("z")}); n != 0 || !errors.Is(err, http.ErrContentLength) {
			t.Errorf("one byte more: got %d, %v; want 0, %v", n, err, http.ErrContentLength)
		}
	}))
	c := dial(t, addr)
	for range 2 {
		r := c.roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if want := string(big) + "abc"; r.body != want || r.Close {
			t.Errorf("got %d bytes, close %v; want %d and the connection kept", len(r.body), r.Close, len(want))
		}
	}
}
