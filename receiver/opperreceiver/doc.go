//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package opperreceiver implements the `opper` receiver: an HTTP server that
// speaks the Opper trace API (v2 and v3) to Opper SDKs, keeps every span in
// a trace store (embedded SQLite by default), serves the trace tree back,
// and hands the spans to the next consumer of its pipeline as OTLP.
package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"
