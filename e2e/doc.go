// Package e2e holds the end-to-end tests of the collector distribution
// (bin/otelcol-opper, built by `make build` with ocb): each test starts the
// real binary with a shipped configuration from config/ on free ports, in a
// temporary working directory, and talks to it over HTTP as users do. See
// main_test.go for the shared harness.
//
// They run with `go test ./e2e/` (and so in `make test`); -short skips them.
// A failed test prints the collector's log; with E2E_GOROUTINES=1 the
// collector is stopped with SIGQUIT instead, so the log ends with a stack
// dump of its goroutines (for a hang).
package e2e
