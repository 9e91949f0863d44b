package translator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
