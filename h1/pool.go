package h1

import (
	"bufio"
	"io"
	"sync"
)

// Buffers are pooled so that a connection holds them only while it needs them: the writer for
// one exchange, the reader from the first bytes of a request until the connection waits for the
// next one, and a stash for what that wait read. Pooled buffers never leave this package.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufferSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferSize) }}
	stashPool  = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}
)

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
func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}
