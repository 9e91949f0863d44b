package translator

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

func TestUsageByModel(t *testing.T) {
	t0 := time.Unix(100, 0)
	c := func(v float64) *float64 { return &v }
	spans := []Span{
		// An agent's aggregate repeats its children's usage: not counted.
		{ID: "agent", Type: TypeAgent, Model: "gpt-4o", StartTime: t0, Usage: &Usage{Total: 300}, Aggregate: true, Cost: c(0.3)},
		{ID: "g1", ParentID: "agent", Model: "gpt-4o", StartTime: t0, Usage: &Usage{Total: 100}, Cost: c(0.1)},
		{ID: "g2", ParentID: "agent", Model: "gpt-4o", StartTime: t0, Usage: &Usage{Total: 150}, Cost: c(0.15)},
		{ID: "g3", ParentID: "agent", Model: "claude-sonnet-4", StartTime: t0, Usage: &Usage{Total: 50}, Cost: c(0.5)},
		{ID: "g4", ParentID: "agent", StartTime: t0, Usage: &Usage{Total: 7}},
		{ID: "tool", ParentID: "agent", Type: TypeTool, StartTime: t0},
	}
	got := UsageByModel(spans)
	assert.Equal(t, []ModelUsage{
		{Model: "claude-sonnet-4", Calls: 1, Tokens: 50, Cost: 0.5},
		{Model: "gpt-4o", Calls: 2, Tokens: 250, Cost: 0.25},
		{Model: "", Calls: 1, Tokens: 7},
	}, got)
	sum := RollUp(spans)
	var tokens int64
	for _, u := range got {
		tokens += u.Tokens
	}
	assert.Equal(t, sum.TotalTokens, tokens, "the models' tokens add up to the trace's")
}

func TestServiceName(t *testing.T) {
	withOTel := func(v any) *Span {
		s := &Span{}
		s.Meta.Set(MetaOTel, v)
		return s
	}
	assert.Equal(t, "checkout", ServiceName(withOTel(&otelMeta{resource: json.RawMessage(`{"host.name":"a","service.name":"checkout"}`)})))
	assert.Equal(t, `we"ird`, ServiceName(withOTel(&otelMeta{resource: json.RawMessage(`{"service.name": "we\"ird"}`)})))
	assert.Equal(t, "", ServiceName(withOTel(&otelMeta{resource: json.RawMessage(`{"service.name":7}`)})))
	assert.Equal(t, "outer", ServiceName(withOTel(&otelMeta{resource: json.RawMessage(`{"x":{"service.name":"inner"},"service.name":"outer"}`)})),
		"the resource's own key, not a nested one")
	assert.Equal(t, "", ServiceName(withOTel(&otelMeta{resource: json.RawMessage(`{"service.name":"unterminated}`)})))
	assert.Equal(t, "", ServiceName(withOTel(&otelMeta{})))
	assert.Equal(t, "api", ServiceName(withOTel(map[string]any{"resource": map[string]any{"service.name": "api"}})))
	assert.Equal(t, "raw", ServiceName(withOTel(json.RawMessage(`{"resource":{"service.name":"raw"}}`))))
	assert.Equal(t, "", ServiceName(&Span{}))
	// Every fixture from an instrumented service names it.
	for _, file := range otlpfixtures.Files(t, otlpDir) {
		for _, s := range New(Options{Retention: RetentionFull}).ToOpper(otlpfixtures.Load(t, file)) {
			assert.NotEmpty(t, ServiceName(&s), "%s: %s", file, s.Name)
		}
	}
}

func BenchmarkServiceName(b *testing.B) {
	spans := New(Options{Retention: RetentionFull}).ToOpper(otlpfixtures.Load(b, otlpDir+"/openinference-tools.otlp.json"))
	s := &spans[0]
	b.ReportAllocs()
	for b.Loop() {
		if ServiceName(s) == "" {
			b.Fatal("no service")
		}
	}
}
