package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"muxgate/h1"
)

// piecesWriter is a ResponseWriter with WriteBuffers, as h1's, that records what it gets: each
// write and flush in order in log ("w5" for 5 bytes, "f" for a flush).
type piecesWriter struct {
	h      http.Header
	got    bytes.Buffer
	log    []string
	failAt int // the write (from 1) that fails; 0: none
}

var errClientGone = errors.New("client gone")

func (w *piecesWriter) Header() http.Header { return w.h }
func (w *piecesWriter) WriteHeader(int)     {}
func (w *piecesWriter) Flush()              { w.log = append(w.log, "f") }

func (w *piecesWriter) Write(p []byte) (int, error) {
	n, err := w.WriteBuffers([][]byte{p})
	return int(n), err
}

func (w *piecesWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	w.log = append(w.log, "w"+strconv.FormatInt(n, 10))
	if w.writes() == w.failAt {
		return 0, errClientGone
	}
	for _, b := range bufs {
		w.got.Write(b)
	}
	return n, nil
}

func (w *piecesWriter) writes() int {
	k := 0
	for _, e := range w.log {
		if e != "f" {
			k++
		}
	}
	return k
}

// piecesBody is a response body that writes itself out in the given pieces, each in one
// WriteBuffers call when the writer has it, as h2's does; err ends it after the pieces. As h2's,
// it flushes the writer before it waits: before each piece after the first, and before err.
type piecesBody struct {
	pieces [][][]byte
	err    error
	reads  int // Read calls: copyBody must not use Read when WriteTo serves
}

func (b *piecesBody) Read(p []byte) (int, error) {
	b.reads++
	return 0, io.EOF
}

func (b *piecesBody) Close() error { return nil }

func (b *piecesBody) WriteTo(w io.Writer) (int64, error) {
	bw := w.(buffersWriter)
	flush := w.(interface{ Flush() }).Flush
	var total int64
	for i, p := range b.pieces {
		if i > 0 {
			flush()
		}
		n, err := bw.WriteBuffers(p)
		total += n
		if err != nil {
			return total, err
		}
	}
	if b.err != nil && len(b.pieces) > 0 {
		flush()
	}
	return total, b.err
}

func piece(sizes ...int) [][]byte {
	var p [][]byte
	for _, n := range sizes {
		p = append(p, bytes.Repeat([]byte{'x'}, n))
	}
	return p
}

// TestCopyBodyWriteTo: a body that writes itself out goes to a buffersWriter without Read,
// flushed when the body asks before it waits, and the count and error
// that decide between a clean end and an aborted response, a failed write marked as the client's.
func TestCopyBodyWriteTo(t *testing.T) {
	bodyErr := errors.New("upstream reset")
	cases := []struct {
		name    string
		length  int64
		pieces  [][][]byte
		bodyErr error
		failAt  int
		want    []string
		wantN   int64
		wantErr error
	}{
		{"known length", 30, [][][]byte{piece(5, 5), piece(10), piece(4, 6)}, nil, 0,
			[]string{"w10", "f", "w10", "f", "w10"}, 30, nil},
		{"unknown length", -1, [][][]byte{piece(5, 5), piece(10)}, nil, 0,
			[]string{"w10", "f", "w10"}, 20, nil},
		{"empty", 0, nil, nil, 0, nil, 0, nil},
		{"upstream fails", 30, [][][]byte{piece(10)}, bodyErr, 0,
			[]string{"w10", "f"}, 10, bodyErr},
		{"client fails", 30, [][][]byte{piece(10), piece(10), piece(10)}, nil, 2,
			[]string{"w10", "f", "w10"}, 10, errClientGone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &piecesWriter{h: http.Header{}, failAt: tc.failAt}
			body := &piecesBody{pieces: tc.pieces, err: tc.bodyErr}
			n, err := copyBody(w, &http.Response{ContentLength: tc.length, Body: body}, new(pieceWriter), testHold)
			if n != tc.wantN || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("got %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			// The proxy tells the client's failure from the upstream's by the mark.
			var cw *clientWriteError
			if client := errors.As(err, &cw); client != (tc.wantErr == errClientGone) {
				t.Errorf("got %v marked as the client's: %v, want %v", err, client, !client)
			}
			if strings.Join(w.log, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got writes and flushes %q, want %q", w.log, tc.want)
			}
			if body.reads != 0 {
				t.Errorf("got %d Read calls, want none", body.reads)
			}
		})
	}
}

// TestCopyBodyReadPath: without WriteBuffers on the writer, a body that writes itself out is
// still copied through Read, as any other body.
func TestCopyBodyReadPath(t *testing.T) {
	w := &discardWriter{h: http.Header{}}
	body := &piecesBody{pieces: [][][]byte{piece(10)}}
	if n, err := copyBody(w, &http.Response{ContentLength: -1, Body: body}, new(pieceWriter), testHold); n != 0 || err != nil || body.reads != 1 {
		t.Errorf("got %d, %v after %d reads; want 0, nil after 1", n, err, body.reads)
	}
}

// TestH1WriterTakesBuffers: h1's ResponseWriter is the buffersWriter copyBody looks for.
func TestH1WriterTakesBuffers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := h1.New(h1.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(buffersWriter); !ok {
			t.Errorf("h1's %T has no WriteBuffers", w)
		}
		w.(buffersWriter).WriteBuffers([][]byte{[]byte("a"), []byte("b")})
	}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	defer func() {
		s.Close()
		<-served
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if string(b) != "ab" {
		t.Errorf("got %q, want ab", b)
	}
}

// TestCopyBodyFlushesBeforeTrailers: through Read without a hold, the head is flushed before the
// body is awaited, and a body complete by its length is left for the response's end to write,
// unless trailers follow it: then it is flushed before they are awaited.
func TestCopyBodyFlushesBeforeTrailers(t *testing.T) {
	for _, tc := range []struct {
		trailer http.Header
		want    string
	}{{nil, "f w5"}, {http.Header{"X-T": nil}, "f w5 f"}} {
		w := &piecesWriter{h: http.Header{}}
		body := io.NopCloser(struct{ io.Reader }{strings.NewReader("hello")})
		resp := &http.Response{ContentLength: 5, Body: body, Trailer: tc.trailer}
		if _, err := copyBody(w, resp, new(pieceWriter), 0); err != nil || strings.Join(w.log, " ") != tc.want {
			t.Errorf("trailers %v: got %q, %v; want %q", tc.trailer, w.log, err, tc.want)
		}
	}
}

// headerCounter is a ResponseWriter that counts its Header calls.
type headerCounter struct {
	discardWriter
	calls int
}

func (w *headerCounter) Header() http.Header { w.calls++; return w.discardWriter.Header() }

// TestCopyTrailersWithoutTrailers: a response without trailers leaves the ResponseWriter's
// header map alone, which h1 makes only when asked for it: one map per response otherwise.
func TestCopyTrailersWithoutTrailers(t *testing.T) {
	w := &headerCounter{discardWriter: discardWriter{h: http.Header{}}}
	copyTrailers(w, &http.Response{})
	if w.calls != 0 {
		t.Errorf("Header called %d times for a response without trailers, want 0", w.calls)
	}
	copyTrailers(w, &http.Response{Trailer: http.Header{"X-T": {"v"}}})
	if w.h.Get("X-T") != "v" || w.h.Get(http.TrailerPrefix+"X-T") != "v" {
		t.Errorf("trailers %v, want X-T under its name and http.TrailerPrefix's", w.h)
	}
}

// chunkReader returns its chunks one Read at a time, each cut to the caller's buffer, and records
// the buffer sizes it was given.
type chunkReader struct {
	chunks [][]byte
	sizes  []int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestCopyTunnel: a tunnel's stream side is read into the small buffer while it trickles, into
// the large one while reads fill the small one, and back; every byte arrives, in order.
func TestCopyTunnel(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 20000) // 200,000 bytes: fills the small buffer
	src := &chunkReader{chunks: [][]byte{[]byte("hi"), big, []byte("bye")}}
	var dst bytes.Buffer
	n, err := copyTunnel(&dst, src)
	want := "hi" + string(big) + "bye"
	if err != nil || n != int64(len(want)) || dst.String() != want {
		t.Fatalf("copied %d bytes, %v; want %d bytes in order", n, err, len(want))
	}
	if src.sizes[0] != smallCopy || src.sizes[1] != smallCopy || src.sizes[2] != largeCopy {
		t.Errorf("read sizes %v: want the small buffer, the small one again, then the large one", src.sizes[:3])
	}
	if last := src.sizes[len(src.sizes)-1]; last != smallCopy {
		t.Errorf("the wait for more after the burst used %d bytes, want the small buffer's %d", last, smallCopy)
	}
}
