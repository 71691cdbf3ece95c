package h2

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"muxgate/internal/pool"
)

// TestPoolStarts: Starts is true with our own session (the default engine), false with x/net's.
func TestPoolStarts(t *testing.T) {
	for _, tt := range []struct {
		engine Engine
		want   bool
	}{
		{"", true},
		{EngineOwn, true},
		{EngineXNet, false},
	} {
		p, err := New(Config{Address: "upstream.test:80", Engine: tt.engine})
		if err != nil {
			t.Fatalf("Engine %q: %v", tt.engine, err)
		}
		if got := p.Starts(); got != tt.want {
			t.Errorf("Engine %q: Starts() = %v, want %v", tt.engine, got, tt.want)
		}
		p.Shutdown(context.Background())
	}
}

// newStartGet is a GET whose context carries a fresh Info.
func newStartGet(path string) (*http.Request, *pool.Info) {
	info := new(pool.Info)
	req, _ := http.NewRequestWithContext(pool.WithInfo(context.Background(), info), "GET", "http://upstream.test"+path, nil)
	return req, info
}

// TestPoolStartOwn: with our own session, requests started before any is awaited all reach the
// peer, are not Ready until it answers, and Await returns each its own response with its stream
// in the Info.
func TestPoolStartOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := &peers{onRequest: func(*fakePeer, uint32, []hpack.HeaderField) {}} // answered below
		p := newFakePool(t, Config{Engine: EngineOwn}, ps)
		pds := make([]pool.Pending, 3)
		infos := make([]*pool.Info, 3)
		for i := range pds {
			var req *http.Request
			req, infos[i] = newStartGet("/x")
			p.Start(req, &pds[i])
		}
		synctest.Wait()
		if reqs, _ := ps.get(0).stats(); len(reqs) != 3 {
			t.Fatalf("peer saw %d requests before any Await, want 3", len(reqs))
		}
		for i := range pds {
			if pds[i].Ready() {
				t.Fatalf("request %d Ready before the peer answered", i)
			}
		}
		if st := p.State(); len(st.Sessions) != 1 || st.Sessions[0].InFlight != 3 {
			t.Fatalf("State sessions %+v, want 1 with 3 in flight", st.Sessions)
		}
		for _, stream := range []uint32{5, 1, 3} {
			ps.get(0).respond(stream, 200, "body"+strconv.Itoa(int(stream)))
			synctest.Wait()
			if i := int(stream / 2); !pds[i].Ready() {
				t.Errorf("request %d not Ready after its stream %d was answered", i, stream)
			}
		}
		for i := range pds {
			res, err := pds[i].Await()
			r := want(t, result{res, infos[i], err}, 1, uint64(2*i+1))
			if body := readAll(t, r.res); body != "body"+strconv.Itoa(2*i+1) {
				t.Errorf("request %d: body %q", i, body)
			}
		}
		synctest.Wait()
		if st := p.State(); st.Sessions[0].InFlight != 0 {
			t.Errorf("State sessions %+v, want none in flight", st.Sessions)
		}
	})
}

// TestPoolStartXNet: with x/net's session, Start is a RoundTrip, done when Start returns.
func TestPoolStartXNet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := &peers{}
		p := newFakePool(t, Config{Engine: EngineXNet}, ps)
		req, info := newStartGet("/x")
		var pd pool.Pending
		p.Start(req, &pd)
		if !pd.Ready() {
			t.Error("Ready false after Start on x/net")
		}
		res, err := pd.Await()
		if body := readAll(t, want(t, result{res, info, err}, 1, 1).res); body != "ok" {
			t.Errorf("body %q, want ok", body)
		}
	})
}

// TestPoolStartXNetReservesOnce: requests started one after the other on x/net's session, each
// answered and closed before the next, all go on its first session even with a peer limit of 2
// streams: Start must not leave a stream reserved on the ClientConn (with
// StrictMaxConcurrentStreams, x/net counts reservations against the limit and makes a
// RoundTrip wait for a free stream).
func TestPoolStartXNetReservesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := &peers{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 2}}}
		p := newFakePool(t, Config{Engine: EngineXNet, Limits: pool.Limits{MaxSessions: 1}}, ps)
		for i := range 4 {
			// A leaked reservation makes x/net wait for a free stream that never comes: the
			// request's deadline (in the bubble's time) turns the hang into a failure.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			info := new(pool.Info)
			req, _ := http.NewRequestWithContext(pool.WithInfo(ctx, info), "GET", "http://upstream.test/x", nil)
			var pd pool.Pending
			p.Start(req, &pd)
			res, err := pd.Await()
			if err != nil {
				t.Fatalf("request %d: %v (%d sessions dialled)", i, err, ps.count())
			}
			readAll(t, res)
			if info.SessionID != 1 {
				t.Errorf("request %d on session %d, want 1: %d sessions dialled for sequential requests", i, info.SessionID, ps.count())
			}
		}
	})
}
