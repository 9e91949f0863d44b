//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package opperstorageextension implements the `opper_storage` extension: it
// opens the Opper trace store (embedded SQLite, or memory for tests and
// demos) once per collector and shares it with the components that name it,
// the way Jaeger v2's jaeger_storage shares its backends: the opper exporter
// writes translated spans straight into it, the opper receiver serves it to
// Opper SDKs and forwards what they wrote.
package opperstorageextension // import "github.com/opperotel/bridge/extension/opperstorageextension"
