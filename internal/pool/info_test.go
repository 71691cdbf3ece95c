package pool

import (
	"context"
	"errors"
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
