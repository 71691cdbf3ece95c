package pool

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// writerToSessionBody is a session's body that writes itself out, as h2's does; closes counts Close.
type writerToSessionBody struct {
	io.Reader
	werr   error // returned by WriteTo instead of writing
	closes int
}

func (b *writerToSessionBody) WriteTo(w io.Writer) (int64, error) {
	if b.werr != nil {
		return 0, b.werr
	}
	return io.Copy(w, b.Reader)
}

func (b *writerToSessionBody) Close() error {
	b.closes++
	return nil
}

// inFlight is the streams in flight on p's only session.
func inFlight(t *testing.T, p *Pool) int {
	t.Helper()
	st := p.State()
	if len(st.Sessions) != 1 {
		t.Fatalf("got %d sessions, want 1", len(st.Sessions))
	}
	return st.Sessions[0].InFlight
}

// TestResponseBodyWriteTo: the pool's response body has WriteTo when the session's body has
// one, and passes it through; the stream is released when the body has been written out, or at
// Close after WriteTo failed, and once only.
func TestResponseBodyWriteTo(t *testing.T) {
	d := &fakeDialer{}
	p := newTestPool(t, Config{}, d)
	body := &writerToSessionBody{Reader: strings.NewReader("hello")}
	var sessionBody io.ReadCloser = body
	d.result = func(id uint64) (*fakeSession, error) {
		return &fakeSession{id: id, max: 100, handler: func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: sessionBody}, nil
		}}, nil
	}

	r := mustGet(t, p)
	wt, ok := r.res.Body.(io.WriterTo)
	if !ok {
		t.Fatalf("%T has no WriteTo, though the session's body has", r.res.Body)
	}
	if n := inFlight(t, p); n != 1 {
		t.Fatalf("InFlight = %d before the body ended, want 1", n)
	}
	var out bytes.Buffer
	if n, err := wt.WriteTo(&out); n != 5 || err != nil || out.String() != "hello" {
		t.Errorf("WriteTo: got %d, %v, %q; want 5, nil, hello", n, err, out.String())
	}
	if n := inFlight(t, p); n != 0 {
		t.Errorf("InFlight = %d after WriteTo returned nil, want 0", n)
	}
	r.res.Body.Close()
	if n := inFlight(t, p); n != 0 || body.closes != 1 {
		t.Errorf("after Close: InFlight %d, closes %d; want 0, 1", n, body.closes)
	}

	// A failed WriteTo leaves the stream to Close, which the caller owes.
	gone := errors.New("client gone")
	body = &writerToSessionBody{Reader: strings.NewReader("hello"), werr: gone}
	sessionBody = body
	r = mustGet(t, p)
	if _, err := r.res.Body.(io.WriterTo).WriteTo(io.Discard); err != gone {
		t.Errorf("WriteTo: %v, want %v", err, gone)
	}
	if n := inFlight(t, p); n != 1 {
		t.Errorf("InFlight = %d after WriteTo failed, want 1 until Close", n)
	}
	r.res.Body.Close()
	r.res.Body.Close()
	if n := inFlight(t, p); n != 0 {
		t.Errorf("InFlight = %d after Close, want 0", n)
	}

	// A session's body without WriteTo gets none.
	sessionBody = io.NopCloser(struct{ io.Reader }{strings.NewReader("x")})
	r = mustGet(t, p)
	if _, ok := r.res.Body.(io.WriterTo); ok {
		t.Errorf("%T has WriteTo, though the session's body has none", r.res.Body)
	}
	r.res.Body.Close()
}

// TestBodyFailureNamesDeadSession: a response body that fails because its session died says so
// (ErrSessionFailed), so that the caller may send an idempotent request again; one that fails on
// a live session (its stream reset) does not.
func TestBodyFailureNamesDeadSession(t *testing.T) {
	boom := errors.New("read: connection reset by peer")
	failing := func(id uint64) (*fakeSession, error) {
		return &fakeSession{id: id, max: 10, handler: func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(iotest.ErrReader(boom))}, nil
		}}, nil
	}
	for _, dies := range []bool{true, false} {
		d := &fakeDialer{result: failing}
		p := newTestPool(t, Config{}, d)
		r := mustGet(t, p)
		d.session(0).set(func(s *fakeSession) { s.closed = dies })
		_, err := r.res.Body.Read(make([]byte, 1))
		r.res.Body.Close()
		if !errors.Is(err, boom) || errors.Is(err, ErrSessionFailed) != dies {
			t.Errorf("session died %v: body error %v, want %v wrapped, ErrSessionFailed %v", dies, err, boom, dies)
		}
	}
}
