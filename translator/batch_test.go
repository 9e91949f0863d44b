package translator

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

// A reused Batch gives each batch exactly what a fresh mapping gives,
// whatever the batches before it were (larger, smaller, other conventions),
// in both retentions.
func TestBatchReuseMapsLikeAFreshBatch(t *testing.T) {
	files := otlpfixtures.Files(t, otlpDir)
	inputs := make([]ptrace.Traces, 0, len(files)+1)
	for _, f := range files {
		inputs = append(inputs, otlpfixtures.Load(t, f))
	}
	all := ptrace.NewTraces()
	for _, td := range inputs {
		td.ResourceSpans().CopyTo(all.ResourceSpans())
	}
	for _, td := range inputs {
		td.ResourceSpans().CopyTo(all.ResourceSpans())
	}
	// The large batch first, so the small ones after it reuse more slots
	// and blocks than they fill.
	inputs = append([]ptrace.Traces{all}, inputs...)

	for _, retention := range []Retention{RetentionMetadata, RetentionFull} {
		tr := New(Options{Retention: retention, MaxFieldBytes: 2048})
		var reused Batch
		for round := range 2 {
			for k, td := range inputs {
				tr.Map(&reused, td)
				want := encodeAll(t, tr.ToOpper(td))
				require.Equal(t, string(want), string(encodeAll(t, reused.Spans)),
					"retention %s, round %d, batch %d", retention, round, k)
			}
		}
	}
}

// encodeAll is every span as the exporter sends it and as encoding/json
// writes the whole Span (metrics, usage and cost included).
func encodeAll(t *testing.T, spans []Span) []byte {
	var out []byte
	for i := range spans {
		out = AppendCreateSpanV2(out, &spans[i])
		out = append(out, '\n')
		out = append(out, goldenDocument(t, spans[i:i+1])...)
		out = append(out, '\n')
	}
	return out
}
