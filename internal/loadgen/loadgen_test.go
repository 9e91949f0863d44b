package loadgen

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/opperotel/bridge/translator"
)

func decode(t *testing.T, r Request) ptrace.Traces {
	t.Helper()
	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(r.Body))
	return req.Traces()
}

func TestShapes(t *testing.T) {
	for _, shape := range []Shape{Plain, LLM} {
		t.Run(string(shape), func(t *testing.T) {
			g := NewGenerator(shape, 7, 3)
			r := g.Request(5)
			td := decode(t, r)
			require.Equal(t, 3*SpansPerTrace, td.SpanCount())
			require.Len(t, r.Traces, 3)

			// Every trace is whole: one root, nine children of it.
			spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			roots := map[string]int{}
			children := map[string]int{}
			for i := range spans.Len() {
				sp := spans.At(i)
				tid := translator.TraceUUID(sp.TraceID())
				if sp.ParentSpanID().IsEmpty() {
					roots[tid]++
				} else {
					children[tid]++
				}
				assert.True(t, sp.EndTimestamp() > sp.StartTimestamp())
			}
			for _, id := range r.Traces {
				assert.Equal(t, 1, roots[id], id)
				assert.Equal(t, SpansPerTrace-1, children[id], id)
			}

			// What the translator makes of it.
			mapped := translator.New(translator.Options{Retention: translator.RetentionFull}).ToOpper(td)
			types := map[string]int{}
			for _, s := range mapped {
				types[s.Type]++
				if shape == LLM && s.Type == translator.TypeGeneration {
					require.NotNil(t, s.Input)
					require.NotNil(t, s.Output)
					assert.True(t, json.Valid([]byte(*s.Input)), "input is JSON")
					assert.GreaterOrEqual(t, len(*s.Output), 1000)
					assert.LessOrEqual(t, len(*s.Output), 2200)
					require.NotNil(t, s.Usage)
					assert.Positive(t, s.Usage.Total)
				}
			}
			if shape == LLM {
				assert.Equal(t, map[string]int{translator.TypeAgent: 3, translator.TypeGeneration: 15, translator.TypeTool: 12}, types)
			}
		})
	}
}

// TestIDsUnique: no two traces share an id, and no two spans an Opper id
// (whose first half is the trace id's).
func TestIDsUnique(t *testing.T) {
	traces, spans := map[string]bool{}, map[string]bool{}
	for _, run := range []uint32{1, 2} {
		g := NewGenerator(Plain, run, 50)
		for n := range 20 {
			td, ids := g.Traces(n)
			for _, id := range ids {
				require.False(t, traces[id], "trace id %s repeated", id)
				traces[id] = true
			}
			all := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			for i := range all.Len() {
				id := translator.SpanUUID(all.At(i).TraceID(), all.At(i).SpanID())
				require.False(t, spans[id], "span id %s repeated", id)
				spans[id] = true
			}
		}
	}
}

func TestRequestSizes(t *testing.T) {
	plain := NewGenerator(Plain, 1, 100).Request(0)
	llm := NewGenerator(LLM, 1, 100).Request(0)
	// About 150 B per plain span in protobuf, 2-5 KB per LLM chat span.
	assert.InDelta(t, 300_000, len(plain.Body), 200_000)
	assert.Greater(t, len(llm.Body), 100*5*2*1000)
}

func TestReadProc(t *testing.T) {
	st, err := ReadProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	assert.Positive(t, st.RSS)
	assert.GreaterOrEqual(t, st.PeakRSS, st.RSS)
}

func TestParseShape(t *testing.T) {
	s, err := ParseShape("llm")
	require.NoError(t, err)
	assert.Equal(t, LLM, s)
	_, err = ParseShape("huge")
	assert.ErrorContains(t, err, `unknown load shape "huge"`)
}
