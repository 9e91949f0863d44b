//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package opperexporter exports OTLP spans to an Opper-compatible trace API:
// the hosted Opper platform (API v2 by default, v3 as an option) or this
// project's own receiver, which also offers a bulk endpoint. Spans are
// translated by the translator package, sent with client-chosen ids so that
// retries and replays are idempotent, and linked to their parents even when
// children arrive first.
package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"
