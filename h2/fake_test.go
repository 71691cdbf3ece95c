package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"muxgate/internal/pool"
)

// result is one request's outcome.
type result struct {
	res  *http.Response
	info *pool.Info
	err  error
}

func get(p *Pool) result {
	info := new(pool.Info)
	req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", "http://upstream.test/x", nil)
	res, err := p.RoundTrip(req)
	return result{res, info, err}
}

func goGet(p *Pool) <-chan result {
	c := make(chan result, 1)
	go func() { c <- get(p) }()
	return c
}

// mustGet sends a GET and wants it on the given session and stream.
func mustGet(t *testing.T, p *Pool, session, stream uint64) result {
	t.Helper()
	return want(t, get(p), session, stream)
}

func want(t *testing.T, r result, session, stream uint64) result {
	t.Helper()
	if r.err != nil {
		t.Fatalf("RoundTrip: %v", r.err)
	}
	if r.info.SessionID != session || r.info.StreamID != stream || r.info.Protocol != "h2" {
		t.Errorf("request on session %d stream %d (%s), want session %d stream %d (h2)",
			r.info.SessionID, r.info.StreamID, r.info.Protocol, session, stream)
	}
	return r
}

// readAll reads and closes a response body.
func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// engines are the sessions every pool test runs on, where the behaviour
// is the same.
var engines = []Engine{EngineOwn, EngineXNet}

// name is an engine's name as a subtest name, without a slash.
func (e Engine) name() string {
	if e == EngineXNet {
		return "xnet"
	}
	return "own"
}

// forEngines runs f once per engine, each in a synctest bubble.
func forEngines(t *testing.T, f func(t *testing.T, e Engine)) {
	for _, e := range engines {
		t.Run(e.name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { f(t, e) })
		})
	}
}

func TestSettingsWindowsAndFrameSize(t *testing.T) {
	tests := []struct {
		name                   string
		stream, conn, frame    int32
		wantStream, wantUpdate uint32
		wantFrame              uint32
	}{
		{"defaults", 0, 0, 0, 256 << 10, 16<<20 - 65535, 64 << 10},
		{"configured", 100_000, 500_000, 100_000, 100_000, 500_000 - 65535, 100_000},
		{"connection window raised to the minimum", 20_000, 1000, 20_000, 20_000, 65535, 20_000},
		{"frame size raised to the minimum", 0, 0, 1000, 256 << 10, 16<<20 - 65535, 16 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEngines(t, func(t *testing.T, e Engine) {
				ps := &peers{}
				p := newFakePool(t, Config{Engine: e, StreamWindow: tt.stream, ConnWindow: tt.conn, MaxFrameSize: tt.frame}, ps)
				if body := readAll(t, mustGet(t, p, 1, 1).res); body != "ok" {
					t.Errorf("body %q, want ok", body)
				}
				pr := ps.get(0)
				pr.mu.Lock()
				settings, inc := pr.clientSettings, pr.connIncrement
				pr.mu.Unlock()
				got := map[http2.SettingID]uint32{http2.SettingMaxFrameSize: 16 << 10} // RFC 9113 6.5.2's default
				for _, s := range settings {
					got[s.ID] = s.Val
				}
				if v := got[http2.SettingInitialWindowSize]; v != tt.wantStream {
					t.Errorf("SETTINGS_INITIAL_WINDOW_SIZE %d, want %d; settings %v", v, tt.wantStream, settings)
				}
				if v := got[http2.SettingMaxFrameSize]; v != tt.wantFrame {
					t.Errorf("SETTINGS_MAX_FRAME_SIZE %d, want %d; settings %v", v, tt.wantFrame, settings)
				}
				if inc != tt.wantUpdate {
					t.Errorf("connection WINDOW_UPDATE %d, want %d", inc, tt.wantUpdate)
				}
			})
		})
	}
}

// holdOpen answers with headers and keeps the stream open.
func holdOpen(p *fakePeer, stream uint32, _ []hpack.HeaderField) { p.headers(stream, 200, false) }

func TestPeerMaxConcurrentStreams(t *testing.T) {
	maxTwo := []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 2}}
	t.Run("second session allowed", func(t *testing.T) {
		forEngines(t, func(t *testing.T, e Engine) {
			ps := &peers{settings: maxTwo, onRequest: holdOpen}
			p := newFakePool(t, Config{Engine: e, Limits: pool.Limits{MaxSessions: 2}}, ps)
			mustGet(t, p, 1, 1)
			mustGet(t, p, 1, 3)
			mustGet(t, p, 2, 1)
			st := p.State()
			if len(st.Sessions) != 2 || st.Sessions[0].MaxStreams != 2 || st.Sessions[0].InFlight != 2 {
				t.Errorf("State sessions %+v, want 2, the first with 2 of 2 streams", st.Sessions)
			}
		})
	})
	t.Run("one session: queued", func(t *testing.T) {
		forEngines(t, func(t *testing.T, e Engine) {
			ps := &peers{settings: maxTwo, onRequest: holdOpen}
			p := newFakePool(t, Config{Engine: e, Limits: pool.Limits{MaxSessions: 1}}, ps)
			first := mustGet(t, p, 1, 1)
			mustGet(t, p, 1, 3)
			third := goGet(p)
			synctest.Wait()
			if st := p.State(); st.Queued != 1 || ps.count() != 1 {
				t.Fatalf("third request: %d queued, %d sessions dialled; want 1 and 1", st.Queued, ps.count())
			}
			if reqs, _ := ps.get(0).stats(); len(reqs) != 2 {
				t.Fatalf("peer saw %d streams, want 2 (its limit)", len(reqs))
			}
			first.res.Body.Close()
			want(t, <-third, 1, 5)
		})
	})
}

func TestRefusedStreamRetried(t *testing.T) {
	forEngines(t, func(t *testing.T, e Engine) {
		ps := &peers{}
		ps.onRequest = func(pr *fakePeer, stream uint32, _ []hpack.HeaderField) {
			if pr == ps.get(0) {
				pr.refuse(stream)
				return
			}
			pr.respond(stream, 200, "second")
		}
		p := newFakePool(t, Config{Engine: e, Limits: pool.Limits{MaxSessions: 2}}, ps)
		r := mustGet(t, p, 2, 1)
		if body := readAll(t, r.res); body != "second" || r.info.Attempts != 2 {
			t.Errorf("body %q after %d attempts, want second after 2", body, r.info.Attempts)
		}
	})
}

func TestGoAwayDrains(t *testing.T) {
	forEngines(t, func(t *testing.T, e Engine) {
		ps := &peers{}
		p := newFakePool(t, Config{Engine: e}, ps)
		readAll(t, mustGet(t, p, 1, 1).res)
		ps.get(0).goAway(1)
		synctest.Wait()
		if st := p.State(); len(st.Sessions) != 1 || !st.Sessions[0].Draining {
			t.Fatalf("State sessions %+v, want session 1 draining", st.Sessions)
		}
		r := mustGet(t, p, 2, 1)
		if r.info.Attempts != 1 {
			t.Errorf("%d attempts, want 1: a drained session takes no stream", r.info.Attempts)
		}
		readAll(t, r.res)
		synctest.Wait()
		if st := p.State(); len(st.Sessions) != 1 || st.Sessions[0].ID != 2 {
			t.Errorf("State sessions %+v, want only session 2", st.Sessions)
		}
	})
}

func TestGoAwayAboveLastStreamRetried(t *testing.T) {
	forEngines(t, func(t *testing.T, e Engine) {
		ps := &peers{}
		ps.onRequest = func(pr *fakePeer, stream uint32, _ []hpack.HeaderField) {
			if pr == ps.get(0) && stream > 1 {
				pr.goAway(1) // stream 3 arrived after the peer decided to go away
				return
			}
			pr.respond(stream, 200, "ok")
		}
		p := newFakePool(t, Config{Engine: e}, ps)
		first := mustGet(t, p, 1, 1)
		r := mustGet(t, p, 2, 1)
		if r.info.Attempts != 2 {
			t.Errorf("%d attempts, want 2", r.info.Attempts)
		}
		readAll(t, r.res)
		if body := readAll(t, first.res); body != "ok" {
			t.Errorf("stream below the GOAWAY: body %q, want ok", body)
		}
	})
}

func TestPeerClosesIdleSession(t *testing.T) {
	for _, settle := range []bool{true, false} {
		name := "noticed"
		if !settle {
			name = "racing"
		}
		t.Run(name, func(t *testing.T) {
			forEngines(t, func(t *testing.T, e Engine) {
				ps := &peers{}
				p := newFakePool(t, Config{Engine: e}, ps)
				readAll(t, mustGet(t, p, 1, 1).res)
				ps.get(0).conn.Close()
				if settle {
					synctest.Wait()
				}
				r := get(p)
				if r.err != nil || r.info.SessionID != 2 {
					t.Fatalf("request after the peer closed: session %d err %v, want session 2", r.info.SessionID, r.err)
				}
				readAll(t, r.res)
			})
		})
	}
}

func TestUnansweredPingDropsSession(t *testing.T) {
	forEngines(t, func(t *testing.T, e Engine) {
		ps := &peers{}
		p := newFakePool(t, Config{Engine: e, PingInterval: 30 * time.Second, PingTimeout: 5 * time.Second}, ps)
		readAll(t, mustGet(t, p, 1, 1).res)
		pr := ps.get(0)
		pr.setSilent()

		time.Sleep(30*time.Second + time.Millisecond)
		synctest.Wait()
		// x/net's session PINGs once as it dials; ours knows the peer from its SETTINGS.
		want := 2
		if e == EngineOwn {
			want = 1
		}
		if _, pings := pr.stats(); pings != want {
			t.Fatalf("peer got %d PINGs after 30s idle, want %d (the dial's, if any, then the interval's)", pings, want)
		}
		if st := p.State(); st.Sessions[0].Closed {
			t.Fatalf("session closed before its PING timed out")
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := p.State(); len(st.Sessions) != 1 || !st.Sessions[0].Closed {
			t.Fatalf("State sessions %+v, want session 1 closed after the PING timeout", st.Sessions)
		}
		readAll(t, mustGet(t, p, 2, 1).res)
		if st := p.State(); len(st.Sessions) != 1 || st.Sessions[0].ID != 2 {
			t.Errorf("State sessions %+v, want only session 2", st.Sessions)
		}
	})
}

// TestDialFailsWithoutPingAnswer: x/net's session is not used until the peer has answered a
// first PING, so a peer that never answers fails the dial after DialTimeout. (Ours is ready once
// the peer's SETTINGS arrived; h2conn's TestNewSettingsTimeout covers a peer that sends none.)
func TestDialFailsWithoutPingAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := &peers{silent: true}
		p := newFakePool(t, Config{Engine: EngineXNet, DialTimeout: 2 * time.Second}, ps)
		start := time.Now()
		r := get(p)
		if !errors.Is(r.err, pool.ErrUnavailable) || !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("err %v, want ErrUnavailable wrapping the dial timeout", r.err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("failed after %v, want the 2s dial timeout", d)
		}
	})
}

// TestSessionDiesAfterEveryRequest: an upstream that closes the connection for
// this very request, as one whose handler fails it each time, would run it at
// every try: a GET goes twice, never a third time, and its error says it may
// have been processed, not that it was not.
func TestSessionDiesAfterEveryRequest(t *testing.T) {
	forEngines(t, func(t *testing.T, e Engine) {
		ps := &peers{}
		var mu sync.Mutex
		requests := 0
		ps.onRequest = func(pr *fakePeer, _ uint32, _ []hpack.HeaderField) {
			mu.Lock()
			requests++
			mu.Unlock()
			pr.conn.Close()
		}
		p := newFakePool(t, Config{Engine: e}, ps)
		info := new(pool.Info)
		req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", "http://upstream.test/x", nil)
		_, err := p.RoundTrip(req)
		if !errors.Is(err, pool.ErrMaybeProcessed) || errors.Is(err, pool.ErrNotProcessed) {
			t.Errorf("err %v, want ErrMaybeProcessed without ErrNotProcessed", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if requests != 2 || info.Attempts != 2 || !info.Resent {
			t.Errorf("upstream got %d requests, Info %+v; want 2, in 2 attempts, Resent", requests, *info)
		}
	})
}

// TestSessionDiesAfterRequestSent: the upstream closes the connection once
// it has read a request's HEADERS, without GOAWAY, so the request may have
// been processed. A GET may go again on another session (RFC 9110 9.2.2);
// a POST, even without a body, must not.
func TestSessionDiesAfterRequestSent(t *testing.T) {
	for _, tt := range []struct {
		method string
		retry  bool
	}{
		{"GET", true},
		{"POST", false},
	} {
		t.Run(tt.method, func(t *testing.T) {
			forEngines(t, func(t *testing.T, e Engine) {
				ps := &peers{}
				ps.onRequest = func(pr *fakePeer, stream uint32, _ []hpack.HeaderField) {
					if pr == ps.get(0) {
						pr.conn.Close()
						return
					}
					pr.respond(stream, 200, "second")
				}
				p := newFakePool(t, Config{Engine: e}, ps)
				info := new(pool.Info)
				req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), tt.method, "http://upstream.test/x", nil)
				res, err := p.RoundTrip(req)
				if !tt.retry {
					if err == nil || errors.Is(err, pool.ErrNotProcessed) || info.Attempts != 1 {
						t.Fatalf("err %v after %d attempts, want a processed-maybe error after 1", err, info.Attempts)
					}
					return
				}
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				if body := readAll(t, res); body != "second" || info.Attempts != 2 || info.SessionID != 2 {
					t.Errorf("body %q after %d attempts on session %d, want second after 2 on session 2",
						body, info.Attempts, info.SessionID)
				}
			})
		})
	}
}
