// Package otlpfixtures reads the project's real OTLP trace payloads
// (testdata/otlp) for the tests of every package that uses them.
package otlpfixtures // import "github.com/opperotel/bridge/internal/otlpfixtures"

import (
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Files lists the trace payloads in dir (*.otlp.json, not the log
// captures some instrumentations emit beside them); none is a failure.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.otlp.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no OTLP fixtures (*.otlp.json) in %s: %v", dir, err)
	}
	return files
}

// Read returns a payload's bytes and its traces.
func Read(t testing.TB, path string) ([]byte, ptrace.Traces) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return raw, td
}

// Load returns a payload's traces.
func Load(t testing.TB, path string) ptrace.Traces {
	t.Helper()
	_, td := Read(t, path)
	return td
}
