package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestE2ETestsListed: every test of this package is in e2eTests, so
// `go test -run TestE2EX ./e2e/` builds the collector before it runs.
func TestE2ETestsListed(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "TestE2E") || fn.Name.Name == "TestE2ETestsListed" {
				continue
			}
			if !slices.Contains(e2eTests, fn.Name.Name) {
				t.Errorf("%s (%s) is not in e2eTests: under -run it would use a stale bin/otelcol-opper", fn.Name.Name, f)
			}
		}
	}
}
