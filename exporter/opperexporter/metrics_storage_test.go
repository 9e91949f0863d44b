package opperexporter

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/extension/opperstorageextension"
)

// TestStorageModeReplayStoresMetricsOnce: in storage mode the exporter
// writes spans with their metrics straight into the store; the same export
// three times gives each evaluation one metric, and two equal evaluations
// of one span stay two.
func TestStorageModeReplayStoresMetricsOnce(t *testing.T) {
	h, st := startStorageExtension(t, &opperstorageextension.Config{
		SQLite: &opperstorageextension.SQLiteConfig{Path: filepath.Join(t.TempDir(), "opper.db")},
	})
	cfg := storageConfig()
	exp := startStorageExporter(t, cfg, h)

	one, two := oneSpan("chat"), oneSpan("judged twice")
	addEvaluation(one)
	addEvaluation(two)
	addEvaluation(two)
	for _, td := range []ptrace.Traces{one, two} {
		for range 3 {
			require.NoError(t, exp.ConsumeTraces(t.Context(), td))
		}
	}

	want := expectedSpans(t, cfg, []ptrace.Traces{one, two})
	require.Len(t, want, 2)
	for id, s := range want {
		ms, total, err := st.ListMetrics(t.Context(), cfg.Project, id, 0, 0)
		require.NoError(t, err)
		require.EqualValues(t, len(s.Metrics), total, s.Name)
		for i, m := range ms {
			assert.Equal(t, s.Metrics[i].ID, m.ID, s.Name)
			assert.Equal(t, "relevance", m.Dimension)
			assert.Equal(t, "on topic", *m.Comment)
		}
	}
}
