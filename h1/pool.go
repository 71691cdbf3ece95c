package h1

import (
	"bufio"
	"io"
	"sync"
)

// Buffers are pooled so that a connection holds them only while it needs them: the writer for
// one exchange, the reader from the first bytes of a request until the connection waits for the
// next one, and a stash for what that wait read. Pooled buffers never leave this package.
//
// Responses are pooled too (see recycle): a request's response, which holds its Request and
// parsed head, is about 1.4 KiB, most of what a proxied request allocates.
var (
	readerPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufferSize) }}
	writerPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferSize) }}
	stashPool    = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}
	responsePool = sync.Pool{New: func() any { return new(response) }}
)

// newResponse returns a zeroed response for a request read from c.
func newResponse(c *conn) *response {
	w := responsePool.Get().(*response)
	w.c = c
	return w
}

// recycle zeroes w and pools it for a later request, on any connection. The caller must know
// that nothing reaches w any more: the handler has returned (a handler must not use its
// ResponseWriter or Request after that, as net/http says), and no one else holds the request
// (see serveRequest). The request's context is not in w, so that it stays valid for whatever
// kept it.
func recycle(w *response) {
	*w = response{}
	responsePool.Put(w)
}

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// putReader returns br to the pool; the caller must not use it again.
func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// putWriter returns bw to the pool, dropping anything unflushed; the caller must not use it again.
// A writer of another size than the pool's (a tunnel's, see Upgrade) is dropped.
func putWriter(bw *bufio.Writer) {
	if bw.Size() != bufferSize {
		return
	}
	bw.Reset(nil)
	writerPool.Put(bw)
}
