package translator

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

// joinedSuffix names the golden of a trace joined with its log companion.
const joinedSuffix = ".joined.opper.json"

// logCaptures are the fixtures with a log companion, by name.
func logCaptures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(otlpDir, "*.otlp-logs.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".otlp-logs.json"))
	}
	return names
}

// TestLogsGolden joins every real trace that has a log companion with its
// records, as the exporter does (LogContents, then Fill on the span of
// each content), and compares with testdata/opper/<name>.joined.opper.json.
// Every content names a span of the trace, and every generation whose call
// answered has its input and output after the join. Regenerate with `go
// test ./translator -run TestLogsGolden -update` and read the diff.
func TestLogsGolden(t *testing.T) {
	tr := New(Options{Retention: RetentionFull})
	for _, name := range logCaptures(t) {
		t.Run(name, func(t *testing.T) {
			spans := tr.ToOpper(otlpfixtures.Load(t, filepath.Join(otlpDir, name+".otlp.json")))
			contents, counts := tr.LogContents(loadLogs(t, name))
			assert.Zero(t, counts.NotGenAI+counts.NoSpan, "every record is a GenAI event of a span")
			for _, lc := range contents {
				i := slices.IndexFunc(spans, func(s Span) bool { return s.ID == lc.SpanID })
				require.GreaterOrEqual(t, i, 0, "content of span %s, which the trace does not have", lc.SpanID)
				lc.Fill(&spans[i])
			}
			for _, s := range spans {
				if s.Type != TypeGeneration {
					continue
				}
				assert.NotNil(t, s.Input, "%s: input", s.Name)
				if s.Error == nil {
					assert.NotNil(t, s.Output, "%s: output", s.Name)
				}
			}
			checkGolden(t, filepath.Join(goldenDir, name+joinedSuffix), goldenDocument(t, spans))
		})
	}
}
