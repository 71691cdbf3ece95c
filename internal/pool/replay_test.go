package pool

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
)

func TestLimit(t *testing.T) {
	tests := []struct {
		peer, local, want int
	}{
		{100, 0, 100},
		{100, 10, 10},
		{5, 10, 5},
		{0, 10, 0}, // the peer allows no stream now
		{NoLimit, 10, 10},
		{NoLimit, 0, int(^uint(0) >> 1)},
	}
	for _, tt := range tests {
		p := &Pool{cfg: Config{Limits: Limits{MaxStreamsPerSession: tt.local}}}
		if got := p.limit(SessionState{MaxStreams: tt.peer}); got != tt.want {
			t.Errorf("limit(peer %d, local %d) = %d, want %d", tt.peer, tt.local, got, tt.want)
		}
	}
}

func TestReplayStaleViewAndBufferedBytes(t *testing.T) {
	body := &closeCounter{Reader: strings.NewReader("abcdef")}
	r := newReplay(body, 4)
	first := r.view()
	buf := make([]byte, 3)
	if n, err := first.Read(buf); n != 3 || err != nil {
		t.Fatalf("first read: %d %v", n, err)
	}
	first.Close() // a failed attempt's transport closes its body
	if body.closes != 0 {
		t.Fatalf("body closed by a view before the request was over")
	}
	if !r.rewind() {
		t.Fatalf("rewind refused with 3 of 4 bytes kept")
	}
	if _, err := first.Read(buf); !errors.Is(err, errStaleBody) {
		t.Errorf("stale view read: %v, want errStaleBody", err)
	}
	second := r.view()
	got, err := io.ReadAll(second)
	if string(got) != "abcdef" || err != nil {
		t.Errorf("second view read %q %v, want abcdef", got, err)
	}
	// 6 bytes read now exceed the 4 kept: no third attempt.
	if r.rewind() {
		t.Errorf("rewind allowed after 6 bytes read with a 4-byte buffer")
	}
	r.finish()
	if body.closes != 0 {
		t.Errorf("body closed at finish before the successful view was closed")
	}
	second.Close()
	second.Close()
	if body.closes != 1 {
		t.Errorf("body closed %d times, want 1", body.closes)
	}
}

func TestReplayAbortClosesOnce(t *testing.T) {
	body := &closeCounter{Reader: strings.NewReader("x")}
	r := newReplay(body, 0)
	v := r.view()
	r.abort()
	v.Close()
	if body.closes != 1 {
		t.Errorf("body closed %d times, want 1", body.closes)
	}
	if _, err := v.Read(make([]byte, 1)); !errors.Is(err, errStaleBody) {
		t.Errorf("read after abort: %v, want errStaleBody", err)
	}
	if r.rewind() {
		t.Errorf("rewind allowed after abort")
	}
}

// TestReplayKeepsNothingAfterFinish: once an attempt succeeded, the bytes it reads are not kept,
// but those kept before still reach it.
func TestReplayKeepsNothingAfterFinish(t *testing.T) {
	r := newReplay(&closeCounter{Reader: strings.NewReader("abcdefgh")}, 64)
	first := r.view()
	buf := make([]byte, 2)
	first.Read(buf)
	if !r.rewind() {
		t.Fatal("rewind failed")
	}
	second := r.view()
	r.finish()
	got, err := io.ReadAll(second)
	if string(got) != "abcdefgh" || err != nil {
		t.Fatalf("got %q, %v; want abcdefgh", got, err)
	}
	if r.buf != nil {
		t.Errorf("kept %q after the attempt succeeded, want nothing", r.buf)
	}
}

// TestGatedReplay: an extended CONNECT's body is read by no attempt before one has succeeded,
// and then only by that one; a failed attempt's read ends when its view is closed.
func TestGatedReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type result struct {
			got string
			err error
		}
		read := func(v io.Reader) <-chan result {
			ch := make(chan result, 1)
			go func() {
				b := make([]byte, 8)
				n, err := v.Read(b)
				ch <- result{string(b[:n]), err}
			}()
			return ch
		}
		r := newGatedReplay(&closeCounter{Reader: strings.NewReader("abc")})
		first := r.view()
		if _, ok := first.(interface{ WaitRead() bool }); !ok {
			t.Fatal("a gated view cannot wait for bytes without a buffer")
		}
		firstRead := read(first)
		if !r.rewind() {
			t.Fatal("rewind failed")
		}
		second := r.view()
		secondRead := read(second)
		synctest.Wait()
		select {
		case res := <-secondRead:
			t.Fatalf("read before any attempt succeeded: %+v", res)
		default:
		}
		first.Close() // the failed attempt's session
		if res := <-firstRead; !errors.Is(res.err, errStaleBody) {
			t.Errorf("failed attempt's read: got %+v, want errStaleBody", res)
		}
		r.finish()
		if res := <-secondRead; res.got != "abc" || res.err != nil {
			t.Errorf("succeeded attempt's read: got %+v, want abc", res)
		}
		if r.buf != nil {
			t.Errorf("kept %q, want nothing", r.buf)
		}
	})
}

// TestReplayRewindDuringRead: an attempt abandoned while its Read waits for the client's bytes
// gives way to a new view at once; the bytes that Read returns are kept for the new view, also
// once the new attempt has its answer (finish) before it sent the body.
func TestReplayRewindDuringRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, send := io.Pipe()
		r := newReplay(client, 16)
		first := r.view()
		go first.Read(make([]byte, 8))
		synctest.Wait() // the Read waits for the client
		if !r.rewind() {
			t.Fatal("rewind refused while a Read was in progress")
		}
		second := r.view()
		r.finish()
		send.Write([]byte("abc"))
		send.Close()
		got, err := io.ReadAll(second)
		if string(got) != "abc" || err != nil {
			t.Errorf("the new view read %q, %v; want abc", got, err)
		}
	})
}
