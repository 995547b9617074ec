package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// productBinaries are the binaries an operator deploys; they must not
// link the simulator, the benchmarks or the test harnesses.
var productBinaries = []string{"./cmd/tandem-router", "./cmd/tandem-controller", "./cmd/tandem-scheduler"}

const module = "github.com/tandem-serving/tandem/"

var forbidden = []string{module + "benchmarks/", module + "test/"}

// go list -deps of every product binary names no package under benchmarks/
// or test/ (docs/architecture.md: dependency direction).
func TestProductBinariesLinkNoBenchmarksOrTests(t *testing.T) {
	// From PATH: under -trimpath (the Makefile's GOFLAGS) runtime.GOROOT
	// is empty.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range productBinaries {
		cmd := exec.Command(gobin, append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, bin)...)
		cmd.Dir = "../.."
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go list -deps %s: %v\n%s", bin, err, msg)
		}
		pkgs := strings.Fields(string(out))
		if len(pkgs) < 10 {
			t.Fatalf("go list -deps %s listed %d packages: %q", bin, len(pkgs), pkgs)
		}
		for _, p := range pkgs {
			for _, bad := range forbidden {
				if strings.HasPrefix(p, bad) {
					t.Errorf("%s links %s (product binaries must not import benchmarks/ or test/)", bin, p)
				}
			}
		}
	}
}
