// Package version tells which build of muxgate runs, from what the Go toolchain recorded in the
// binary (runtime/debug.ReadBuildInfo): the module's version, the commit it was built from and
// whether the tree had changes, and the Go version.
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Info is what is known of the running build; a field not recorded is "unknown" (a binary built
// outside a git checkout has no revision, and go run records none).
type Info struct {
	Version  string // the main module's version; "(devel)" for a build of a checkout
	Revision string // the commit, with "+modified" where the tree had uncommitted changes
	Go       string // the Go version it was built with
}

// Get returns the running build's Info.
var Get = sync.OnceValue(func() Info {
	info := Info{Version: "unknown", Revision: "unknown", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && info.Revision != "unknown" {
		info.Revision += "+modified"
	}
	return info
})

// String is the build in one line: "muxgate (devel) 4c5cf93... go1.26.8".
func (i Info) String() string {
	return "muxgate " + i.Version + " " + i.Revision + " " + i.Go
}
