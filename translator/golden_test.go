package translator

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/opper from the current output")

const (
	otlpDir   = "../testdata/otlp"
	goldenDir = "../testdata/opper"
)

// goldenDocument renders what a fixture becomes: every span as its v2
// create body (what the exporter sends), metrics, and each trace's roll-up.
func goldenDocument(t *testing.T, spans []Span) []byte {
	type traceDoc struct {
		ID          string           `json:"id"`
		Name        string           `json:"name"`
		Status      string           `json:"status"`
		Summary     string           `json:"summary"`
		SpanCount   int64            `json:"span_count"`
		TypeCounts  map[string]int64 `json:"type_counts"`
		TotalTokens int64            `json:"total_tokens"`
		Cost        float64          `json:"cost"`
		DurationMS  int64            `json:"duration_ms"`
	}
	var doc struct {
		Spans   []json.RawMessage `json:"spans"`
		Metrics map[string]any    `json:"metrics,omitempty"`
		Traces  []traceDoc        `json:"traces"`
	}
	byTrace := map[string][]Span{}
	var order []string
	for i := range spans {
		body := AppendCreateSpanV2(nil, &spans[i])
		require.True(t, json.Valid(body))
		doc.Spans = append(doc.Spans, body)
		if len(spans[i].Metrics) > 0 {
			if doc.Metrics == nil {
				doc.Metrics = map[string]any{}
			}
			doc.Metrics[spans[i].ID] = spans[i].Metrics
		}
		if _, seen := byTrace[spans[i].TraceID]; !seen {
			order = append(order, spans[i].TraceID)
		}
		byTrace[spans[i].TraceID] = append(byTrace[spans[i].TraceID], spans[i])
	}
	for _, id := range order {
		r := RollUp(byTrace[id])
		doc.Traces = append(doc.Traces, traceDoc{ID: r.TraceID, Name: r.Name, Status: r.Status, Summary: r.Summary(),
			SpanCount: r.SpanCount, TypeCounts: r.TypeCounts, TotalTokens: r.TotalTokens, Cost: r.Cost,
			DurationMS: r.Duration().Milliseconds()})
	}
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, raw, "", "  "))
	out.WriteByte('\n')
	return out.Bytes()
}

// TestGolden translates every real payload in testdata/otlp and compares
// with testdata/opper. Regenerate with `go test ./translator -run
// TestGolden -update` and read the diff before committing it.
func TestGolden(t *testing.T) {
	tr := New(Options{Retention: RetentionFull})
	for _, file := range otlpfixtures.Files(t, otlpDir) {
		name := strings.TrimSuffix(filepath.Base(file), ".otlp.json")
		t.Run(name, func(t *testing.T) {
			checkGolden(t, filepath.Join(goldenDir, name+".opper.json"), goldenDocument(t, tr.ToOpper(otlpfixtures.Load(t, file))))
		})
	}
}

// checkGolden compares got with the golden file at path, or with -update
// writes it there.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run with -update")
	assert.Equal(t, string(want), string(got))
}

// TestNoGoldenWithoutFixture keeps testdata/opper and testdata/messages in
// step with the inputs.
func TestNoGoldenWithoutFixture(t *testing.T) {
	var inputs []string
	for _, f := range otlpfixtures.Files(t, otlpDir) {
		inputs = append(inputs, strings.TrimSuffix(filepath.Base(f), ".otlp.json"))
	}
	for dir, suffix := range map[string]string{goldenDir: ".opper.json", messagesDir: ".messages.json"} {
		goldens, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
		require.NoError(t, err)
		for _, g := range goldens {
			if strings.HasSuffix(g, joinedSuffix) {
				name := strings.TrimSuffix(filepath.Base(g), joinedSuffix)
				assert.True(t, slices.Contains(logCaptures(t), name), "joined golden %s has no log capture", g)
				continue
			}
			name := strings.TrimSuffix(filepath.Base(g), suffix)
			assert.True(t, slices.Contains(inputs, name), "golden %s has no fixture", g)
		}
	}
}
