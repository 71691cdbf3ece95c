package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	v := Get()
	if v.Go != runtime.Version() || v.Version == "" || v.Revision == "" {
		t.Errorf("Get() = %+v", v)
	}
	if s := v.String(); !strings.HasPrefix(s, "muxgate ") || !strings.HasSuffix(s, " "+runtime.Version()) {
		t.Errorf("String() = %q", s)
	}
}
