package pool

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"muxgate/internal/fieldlist"
)

// listingSession is a fakeSession that sends request lists itself.
type listingSession struct{ *fakeSession }

func (listingSession) SendsRequestList() {}

// TestRequestList: a request whose fields travel in Info.Request reaches a session that does
// not send lists as a copy with a Header made of them, and a RequestListSession as it was.
func TestRequestList(t *testing.T) {
	list := []fieldlist.Field{{Name: "user-agent", Value: "t"}, {Name: "X-A", Value: "1"}, {Name: "x-a", Value: "2"}}
	want := http.Header{"User-Agent": {"t"}, "X-A": {"1", "2"}}
	for _, lists := range []bool{false, true} {
		var got *http.Request
		fake := &fakeSession{id: 1, max: 100, handler: func(r *http.Request) (*http.Response, error) {
			got = r
			return okResponse(), nil
		}}
		var s Session = fake
		if lists {
			s = listingSession{fake}
		}
		p := newPoolDialing(t, Config{}, func(ctx context.Context, id, _ uint64) (Session, error) { return s, nil })
		var info InfoContext
		info.Context = context.Background()
		info.Info.Request = list
		req, _ := http.NewRequestWithContext(&info, "GET", "http://upstream/", nil)
		req.Header = nil

		res, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch {
		case lists && got != req:
			t.Errorf("a RequestListSession got another request: %+v", got)
		case !lists && (got == req || req.Header != nil || !reflect.DeepEqual(got.Header, want)):
			t.Errorf("a session without lists got Header %v (the caller's request: %v), want %v on a copy", got.Header, got == req, want)
		}
		if !reflect.DeepEqual(info.Info.Request, list) {
			t.Errorf("Info.Request %v after the round trip, want %v kept", info.Info.Request, list)
		}
	}
}
