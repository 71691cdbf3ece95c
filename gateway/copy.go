package gateway

import (
	"io"
	"net/http"
	"sync"
)

// Copy buffers come in two sizes. A body of up to smallCopy bytes (most API answers) takes a
// small one; anything larger or of unknown length a large one, so that what the session holds of
// a 64 KiB body leaves in one or two writes rather than one per 16 KiB DATA frame. Buffers are
// pooled: only responses being copied hold one, which matters when many pipelined responses are
// in flight on one connection.
const (
	smallCopy = 4 << 10
	largeCopy = 64 << 10
)

var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, smallCopy); return &b }}
	largeBufs = sync.Pool{New: func() any { b := make([]byte, largeCopy); return &b }}
)

// copyBody streams resp's body to w. It flushes after each piece unless the piece completes a
// body of known length: then h1 writes it with the rest of the response when the handler
// returns, which saves a write system call for small responses. A slow client stalls only this
// stream: the copy blocks on w, stops reading, and the upstream's flow-control window closes.
func copyBody(w http.ResponseWriter, resp *http.Response) (int64, error) {
	bufs := &largeBufs
	if resp.ContentLength >= 0 && resp.ContentLength <= smallCopy {
		bufs = &smallBufs
	}
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	flusher, _ := w.(http.Flusher)
	var total int64
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if flusher != nil && total != resp.ContentLength && rerr == nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}
