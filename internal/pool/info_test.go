package pool

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"testing"
)

// An InfoContext carries its own Info and is its parent in everything else: values,
// cancellation and the cause of it.
func TestInfoContext(t *testing.T) {
	type key struct{}
	cause := errors.New("client gone")
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "v"))
	c := &InfoContext{Context: parent}
	if got := InfoFrom(c); got != &c.Info {
		t.Fatalf("InfoFrom = %p, want the context's own %p", got, &c.Info)
	}
	if got := c.Value(key{}); got != "v" {
		t.Errorf("Value(parent's key) = %v, want v", got)
	}
	child, stop := context.WithCancel(c)
	defer stop()
	cancel(cause)
	<-child.Done()
	if got := context.Cause(c); got != cause {
		t.Errorf("Cause = %v, want the parent's %v", got, cause)
	}
	if InfoFrom(parent) != nil {
		t.Error("the parent carries an Info too")
	}
}

type countInterim struct{ n int }

func (c *countInterim) Got1xx(int, http.Header) { c.n++ }

// TestGot1xxResponse: the hook passes informational responses to the Info's Interim, up to
// max1xx, and fails the request past them or at a 101; without an Interim there is no hook.
func TestGot1xxResponse(t *testing.T) {
	if Got1xxResponse(context.Background()) != nil {
		t.Error("got a hook without an Info, want nil")
	}
	if Got1xxResponse(WithInfo(context.Background(), &Info{})) != nil {
		t.Error("got a hook without an Interim, want nil")
	}
	in := &countInterim{}
	hook := Got1xxResponse(WithInfo(context.Background(), &Info{Interim: in}))
	for i := range max1xx {
		if err := hook(103, textproto.MIMEHeader{}); err != nil {
			t.Fatalf("response %d: %v, want nil", i+1, err)
		}
	}
	if err := hook(103, textproto.MIMEHeader{}); err != errTooMany1xx || in.n != max1xx {
		t.Errorf("past the bound: got %v after %d passed on, want %v after %d", err, in.n, errTooMany1xx, max1xx)
	}
	in = &countInterim{}
	hook = Got1xxResponse(WithInfo(context.Background(), &Info{Interim: in}))
	if err := hook(101, textproto.MIMEHeader{}); err != errSwitchingProtocols || in.n != 0 {
		t.Errorf("101: got %v after %d passed on, want %v after none", err, in.n, errSwitchingProtocols)
	}
}
