package gateway

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// holdBody returns req with its body, if it has one, lent as a heldBody, and that body (nil for
// none).
func holdBody(req *http.Request) (*http.Request, *heldBody) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body := &heldBody{rc: req.Body}
	r := new(http.Request)
	*r = *req
	r.Body = body
	return r, body
}

// heldBody is a request body lent to one upstream that may still have to go to another (the
// fallback's secondary, the balancer's next member): the pools close the body they are given,
// also on error, so its Close is held back until the caller knows the request goes nowhere
// else (commit); detach takes the body back if the first upstream never read from it.
type heldBody struct {
	rc io.ReadCloser

	mu       sync.Mutex
	read     int64 // guarded by mu; bytes the first upstream read
	reading  int   // guarded by mu; reads in progress
	closed   bool  // guarded by mu; the first upstream closed it
	final    bool  // guarded by mu; the first upstream keeps the body: closes go through
	detached bool  // guarded by mu; the body went to another upstream: the first reads no more
}

var errBodyDetached = errors.New("gateway: request body was handed to another upstream")

func (b *heldBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.detached {
		b.mu.Unlock()
		return 0, errBodyDetached
	}
	b.reading++
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.reading--
	b.read += int64(n)
	b.mu.Unlock()
	return n, err
}

func (b *heldBody) Close() error {
	b.mu.Lock()
	closeNow := b.final && !b.closed
	b.closed = true
	b.mu.Unlock()
	if closeNow {
		return b.rc.Close()
	}
	return nil
}

// WaitRead passes on the wait of a body that can wait for its next bytes without a buffer (a
// WebSocket's, tunnelBody.WaitRead), so that lending it costs an idle WebSocket no buffer; false
// where the body cannot wait.
func (b *heldBody) WaitRead() bool {
	w, ok := b.rc.(interface{ WaitRead() bool })
	return ok && w.WaitRead()
}

// commit leaves the body to the first upstream: a close it made already happens now.
func (b *heldBody) commit() {
	if b == nil {
		return
	}
	b.mu.Lock()
	closeNow := b.closed && !b.final
	b.final = true
	b.mu.Unlock()
	if closeNow {
		b.rc.Close()
	}
}

// detach takes the body back for another upstream. It reports false when the first upstream
// read from it, or is reading: the body can then go nowhere else. A nil body always detaches.
func (b *heldBody) detach() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.final || b.read > 0 || b.reading > 0 {
		return false
	}
	b.detached = true
	return true
}
