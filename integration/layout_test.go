//go:build unix

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "muxgate"

// leafPackages are the packages below gateway: each knows only the standard library, x/net,
// quic-go, zerolog and the leaves under internal/ (DESIGN.md, "Layout and direction of imports").
var leafPackages = []string{"h1", "h2", "h3", "certs"}

// goPackage is what the layout rules need of `go list -json`.
type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// within reports whether path is the package dir of the module or one below it.
func within(path, dir string) bool {
	p := module + "/" + dir
	return path == p || strings.HasPrefix(path, p+"/")
}

// layoutViolations checks the direction of imports and says, for each breach, which package
// depends on which and the rule it breaks.
func layoutViolations(pkgs []goPackage) []string {
	var bad []string
	for _, p := range pkgs {
		direct := map[string]bool{}
		for _, imp := range p.Imports {
			direct[imp] = true
		}
		how := func(dep string) string {
			if direct[dep] {
				return "imports"
			}
			return "depends (through another package) on"
		}
		for _, dep := range p.Deps {
			if dep != module && !strings.HasPrefix(dep, module+"/") {
				continue
			}
			for _, leaf := range leafPackages {
				if within(p.ImportPath, leaf) && !within(dep, leaf) && !within(dep, "internal") {
					bad = append(bad, p.ImportPath+" "+how(dep)+" "+dep+": "+leaf+" may import only the standard library, x/net, quic-go, zerolog and muxgate/internal/...; what it shares with a sibling goes into a leaf under internal/")
				}
			}
			if within(p.ImportPath, "internal") && !within(dep, "internal") {
				bad = append(bad, p.ImportPath+" "+how(dep)+" "+dep+": packages under internal/ are leaves and import no other muxgate package")
			}
			if within(p.ImportPath, "gateway") && within(dep, "cmd") {
				bad = append(bad, p.ImportPath+" "+how(dep)+" "+dep+": gateway must not import cmd (cmd -> gateway, never back)")
			}
		}
	}
	return bad
}

// TestLayoutRules: the rules find what they should, so that TestLayout can fail.
func TestLayoutRules(t *testing.T) {
	cases := []struct {
		name string
		pkg  goPackage
		want int
	}{
		{"leaf on internal", goPackage{ImportPath: "muxgate/h2", Imports: []string{"muxgate/internal/pool"}, Deps: []string{"muxgate/internal/pool", "net/http"}}, 0},
		{"leaf on gateway", goPackage{ImportPath: "muxgate/h1", Imports: []string{"muxgate/gateway"}, Deps: []string{"muxgate/gateway"}}, 1},
		{"leaf on a sibling", goPackage{ImportPath: "muxgate/h3", Imports: []string{"muxgate/h2"}, Deps: []string{"muxgate/h2"}}, 1},
		{"leaf on certs through internal", goPackage{ImportPath: "muxgate/h1", Imports: []string{"muxgate/internal/x"}, Deps: []string{"muxgate/certs", "muxgate/internal/x"}}, 1},
		{"certs on cmd", goPackage{ImportPath: "muxgate/certs", Deps: []string{"muxgate/cmd/muxgate"}}, 1},
		{"internal on h2", goPackage{ImportPath: "muxgate/internal/pool", Deps: []string{"muxgate/h2"}}, 1},
		{"gateway on cmd", goPackage{ImportPath: "muxgate/gateway", Deps: []string{"muxgate/cmd/muxgate"}}, 1},
		{"gateway on leaves", goPackage{ImportPath: "muxgate/gateway", Deps: []string{"muxgate/h1", "muxgate/h2", "muxgate/certs"}}, 0},
		{"cmd on all", goPackage{ImportPath: "muxgate/cmd/muxgate", Deps: []string{"muxgate/gateway", "muxgate/h1", "muxgate/certs"}}, 0},
		{"prefix is not a package", goPackage{ImportPath: "muxgate/h2", Deps: []string{"muxgate/h2x"}}, 1},
	}
	for _, c := range cases {
		if got := layoutViolations([]goPackage{c.pkg}); len(got) != c.want {
			t.Errorf("%s: %d violations %q, want %d", c.name, len(got), got, c.want)
		}
	}
}

// TestLayout: no package of the module imports against the direction
// cmd -> gateway -> {h1, h2, h3, certs} -> internal.
func TestLayout(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps,Error", module+"/...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			goPackage
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p.goPackage)
	}
	found := map[string]bool{}
	for _, p := range pkgs {
		found[p.ImportPath] = true
	}
	for _, want := range []string{"gateway", "h1", "h2", "certs", "cmd/muxgate"} {
		if !found[module+"/"+want] {
			t.Errorf("go list did not report %s/%s: the layout check would miss it", module, want)
		}
	}
	for _, v := range layoutViolations(pkgs) {
		t.Error(v)
	}
}
