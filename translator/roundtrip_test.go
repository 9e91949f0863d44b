package translator

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

func spansByID(td ptrace.Traces) map[string]ptrace.Span {
	out := map[string]ptrace.Span{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				out[s.TraceID().String()+"/"+s.SpanID().String()] = s
			}
		}
	}
	return out
}

// TestOTLPRoundTrip sends every fixture OTLP -> Opper -> OTLP -> Opper: the
// OTLP side keeps ids, parents, times and status; the Opper side keeps
// type, model, tokens and content.
func TestOTLPRoundTrip(t *testing.T) {
	tr := New(Options{Retention: RetentionFull})
	for _, file := range otlpfixtures.Files(t, otlpDir) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			orig := otlpfixtures.Load(t, file)
			first := tr.ToOpper(orig)
			back := ToOTLP(first, nil)
			require.Equal(t, orig.SpanCount(), back.SpanCount())

			origByID := spansByID(orig)
			for key, b := range spansByID(back) {
				o, ok := origByID[key]
				require.True(t, ok, "span %s lost its id", key)
				assert.Equal(t, o.ParentSpanID(), b.ParentSpanID(), "%s parent", o.Name())
				assert.Equal(t, o.StartTimestamp(), b.StartTimestamp(), "%s start", o.Name())
				if o.EndTimestamp() >= o.StartTimestamp() {
					assert.Equal(t, o.EndTimestamp(), b.EndTimestamp(), "%s end", o.Name())
				}
				assert.Equal(t, o.Status().Code(), b.Status().Code(), "%s status", o.Name())
				assert.Equal(t, o.Kind(), b.Kind(), "%s kind", o.Name())
			}

			second := tr.ToOpper(back)
			require.Len(t, second, len(first))
			byID := map[string]*Span{}
			for i := range second {
				byID[second[i].ID] = &second[i]
			}
			for i := range first {
				a := &first[i]
				b, ok := byID[a.ID]
				require.True(t, ok, "span %s (%s) lost", a.ID, a.Name)
				assert.Equal(t, a.TraceID, b.TraceID)
				assert.Equal(t, a.ParentID, b.ParentID, a.Name)
				assert.Equal(t, a.Name, b.Name)
				assert.Equal(t, a.Type, b.Type, a.Name)
				assert.Equal(t, a.Model, b.Model, a.Name)
				assert.Equal(t, a.Provider, b.Provider, a.Name)
				assert.Equal(t, a.Usage, b.Usage, a.Name)
				assert.Equal(t, a.Aggregate, b.Aggregate, a.Name)
				assert.Equal(t, a.Input, b.Input, a.Name)
				assert.Equal(t, a.Output, b.Output, a.Name)
				assert.Equal(t, a.Instructions, b.Instructions, a.Name)
				assert.Equal(t, a.Error != nil, b.Error != nil, a.Name)
				assert.Equal(t, a.Tags, b.Tags, a.Name)
				assert.Equal(t, a.UserID, b.UserID, a.Name)
				assert.Equal(t, a.SessionID, b.SessionID, a.Name)
				assert.Equal(t, a.Cost, b.Cost, a.Name)
				assert.Equal(t, a.Metrics, b.Metrics, a.Name)
				assert.True(t, a.StartTime.Equal(b.StartTime), a.Name)
				assert.True(t, a.EndTime.Equal(b.EndTime), a.Name)
			}
		})
	}
}

// TestOpperRoundTrip: a span an Opper SDK wrote, with ids of its own
// choosing, goes to OTLP and back unchanged.
func TestOpperRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in, out, instr, errMsg := `{"question":"hi"}`, "answer", "Be brief.", "boom"
	score := int64(3)
	spans := []Span{
		{TraceID: "3f2b6c1e-9d4a-4c1b-8e2f-0a1b2c3d4e5f", ID: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", Name: "workflow",
			Type: "workflow", StartTime: start, EndTime: start.Add(2 * time.Second), Input: &in, InputJSON: true,
			Meta: Meta{{"k", "v"}, {"n", int64(1)}}, Tags: []string{"beta"}, Score: &score},
		{TraceID: "3f2b6c1e-9d4a-4c1b-8e2f-0a1b2c3d4e5f", ID: "c4d5e6f7-1234-4abc-9def-112233445566", ParentID: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
			Name: "call model", Type: TypeGeneration, StartTime: start.Add(time.Second), EndTime: start.Add(1500 * time.Millisecond),
			Output: &out, Instructions: &instr, Model: "gpt-4o", Usage: &Usage{Input: 10, Output: 5, Total: 15}, Error: &errMsg,
			Metrics: []Metric{{ID: "5d1f0b7e-0c55-4b8e-9a3e-2b6f4a1c9d01", Dimension: "accuracy", Value: 0.9, Comment: "good"}}},
		{TraceID: "not-a-uuid-trace", ID: "opaque-span-id", Name: "running", StartTime: start},
	}
	tr := New(Options{Retention: RetentionFull})
	back := tr.ToOpper(ToOTLP(spans, map[string]any{"service.name": "opper"}))
	require.Len(t, back, 3)
	for i := range spans {
		a, b := &spans[i], &back[i]
		assert.Equal(t, a.ID, b.ID)
		assert.Equal(t, a.TraceID, b.TraceID)
		assert.Equal(t, a.ParentID, b.ParentID)
		assert.Equal(t, a.Name, b.Name)
		if a.Type == "" {
			assert.Equal(t, TypeFunction, b.Type, "an untyped span gets the default type")
		} else {
			assert.Equal(t, a.Type, b.Type)
		}
		assert.Equal(t, a.Input, b.Input)
		assert.Equal(t, a.Output, b.Output)
		assert.Equal(t, a.Instructions, b.Instructions)
		assert.Equal(t, a.Model, b.Model)
		assert.Equal(t, a.Usage, b.Usage)
		assert.Equal(t, a.Error, b.Error)
		assert.Equal(t, a.Tags, b.Tags)
		assert.Equal(t, a.Score, b.Score)
		assert.Equal(t, a.Metrics, b.Metrics)
		assert.True(t, a.StartTime.Equal(b.StartTime))
	}
	assert.Equal(t, "v", back[0].Meta.Value("k"))
	assert.True(t, back[0].InputJSON, "JSON input stays JSON")
	// A span forwarded before it ended is marked, and its end is its start.
	attrs, ok := asMap(mustMap(t, back[2].Meta.Value("otel"))["attributes"])
	require.True(t, ok)
	assert.Equal(t, true, attrs[AttrIncomplete])
}

func TestReverseUsesSemconvMessagesOnlyWhenTheyAreSemconv(t *testing.T) {
	semconv := `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`
	openai := `[{"role":"user","content":"hi"}]`
	td := ToOTLP([]Span{
		{TraceID: NewID(), ID: NewID(), Name: "a", Type: TypeGeneration, Input: &semconv, Output: &openai},
	}, nil)
	attrs := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	v, ok := attrs.Get("gen_ai.input.messages")
	require.True(t, ok)
	assert.Equal(t, semconv, v.Str())
	_, ok = attrs.Get("gen_ai.output.messages")
	assert.False(t, ok)
	v, _ = attrs.Get("output.value")
	assert.Equal(t, openai, v.Str())
	v, _ = attrs.Get("output.mime_type")
	assert.Equal(t, "application/json", v.Str())
	v, _ = attrs.Get("gen_ai.operation.name")
	assert.Equal(t, "chat", v.Str())
	v, _ = attrs.Get("openinference.span.kind")
	assert.Equal(t, "LLM", v.Str())
	assert.True(t, strings.HasPrefix(td.ResourceSpans().At(0).ScopeSpans().At(0).Scope().Name(), "github.com/opperotel"))
}
