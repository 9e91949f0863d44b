package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

func testUpsertIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	// And once more span by span, as a client retrying single creates would.
	for i := range spans {
		require.NoError(t, s.UpsertSpans(ctx, projectA, spans[i:i+1], true))
	}
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	require.Len(t, tr.Spans, len(spans))
	requireSummary(t, spans, tr.Summary)
	all := listAll(t, s, projectA)
	require.Len(t, all, 1)
	requireSummary(t, spans, all[0])
}

// wideTrace is a trace of n spans: a root and n-1 generations under it.
func wideTrace(trace, n int) []translator.Span {
	root := traceSpans(trace, t0)[0]
	out := []translator.Span{root}
	for i := 1; i < n; i++ {
		out = append(out, translator.Span{
			TraceID: root.TraceID, ID: spanID(trace, i), ParentID: root.ID, Name: fmt.Sprintf("gen %d", i),
			Type: translator.TypeGeneration, StartTime: t0.Add(time.Duration(i) * time.Millisecond),
			EndTime: t0.Add(time.Second), Usage: &translator.Usage{Input: int64(i), Output: 1, Total: int64(i) + 1},
			Cost: ptr(float64(i) / 1000),
		})
	}
	return out
}

func testUpsertLargeBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Three traces in one batch, two of them new, one already holding
	// spans; and within the batch a span written twice, the last winning.
	existing := wideTrace(3, 40)
	require.NoError(t, s.UpsertSpans(ctx, projectA, existing[:10], true))
	var batch []translator.Span
	batch = append(batch, wideTrace(1, 70)...)
	batch = append(batch, existing[10:]...)
	batch = append(batch, wideTrace(2, 33)...)
	changed := batch[5]
	changed.Name, changed.Usage = "rewritten", &translator.Usage{Total: 1000}
	batch = append(batch, changed)
	require.NoError(t, s.UpsertSpans(ctx, projectA, batch, true))

	want := map[string][]translator.Span{traceID(1): wideTrace(1, 70), traceID(2): wideTrace(2, 33), traceID(3): existing}
	want[traceID(1)][5] = changed
	for tid, spans := range want {
		tr, err := s.GetTrace(ctx, projectA, tid)
		require.NoError(t, err)
		require.Len(t, tr.Spans, len(spans))
		requireSummary(t, spans, tr.Summary)
	}
	for _, sum := range listAll(t, s, projectA) {
		requireSummary(t, want[sum.TraceID], sum)
	}
	got, err := s.GetSpan(ctx, projectA, changed.ID)
	require.NoError(t, err)
	require.Equal(t, changed, got)
	ps, err := s.PendingForward(ctx, 1000, past)
	require.NoError(t, err)
	assert.Len(t, ps, 70+33+40)
}

func testUpsertReplaces(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	// A v2 update: the root gets a new output and an error; the plan
	// generation loses its usage.
	spans[0].Output = ptr("changed")
	spans[0].Error = ptr("boom")
	spans[1].Usage, spans[1].Cost = nil, nil
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[:2], true))

	got, err := s.GetSpan(ctx, projectA, spans[0].ID)
	require.NoError(t, err)
	require.Equal(t, spans[0], got)
	all := listAll(t, s, projectA)
	require.Len(t, all, 1)
	requireSummary(t, spans, all[0])
	assert.Equal(t, translator.StatusError, all[0].Status)
	assert.Equal(t, int64(350), all[0].TotalTokens)
}

func testUpsertRejectsMissingIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	good := traceSpans(1, t0)[0]
	noID, noTrace := good, good
	noID.ID, noTrace.TraceID = "", ""
	require.Error(t, s.UpsertSpans(ctx, projectA, []translator.Span{good, noID}, true))
	require.Error(t, s.UpsertSpans(ctx, projectA, []translator.Span{noTrace}, true))
	// Nothing of a rejected batch is stored.
	_, err := s.GetSpan(ctx, projectA, good.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.UpsertSpans(ctx, projectA, nil, true))
}

func testChildBeforeParent(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	// The grandchild first, then the other children, the root last, as
	// OTel exports them (children end first), each in its own batch.
	order := []int{3, 2, 1, 4, 5}
	for k, i := range order {
		require.NoError(t, s.UpsertSpans(ctx, projectA, spans[i:i+1], true))
		var sofar []translator.Span
		for _, j := range order[:k+1] {
			sofar = append(sofar, spans[j])
		}
		all := listAll(t, s, projectA)
		require.Len(t, all, 1)
		requireSummary(t, sofar, all[0])
		tr, err := s.GetTrace(ctx, projectA, traceID(1))
		require.NoError(t, err)
		require.Len(t, tr.Spans, k+1)
	}
	// Partial: the root is the earliest span whose parent is absent.
	all := listAll(t, s, projectA)
	assert.Equal(t, spans[1].ID, all[0].RootID)

	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[0:1], true))
	all = listAll(t, s, projectA)
	require.Len(t, all, 1)
	requireSummary(t, spans, all[0])
	assert.Equal(t, spans[0].ID, all[0].RootID)
	assert.Equal(t, "agent run 1", all[0].Name)
	assert.Equal(t, spans[0].Input, all[0].Input)
	assert.Equal(t, spans[0].Output, all[0].Output)
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	requireSummary(t, spans, tr.Summary)
}

// fullSpan sets every field of translator.Span, with Meta values of every
// Go type the translator and the receiver put there.
func fullSpan() translator.Span {
	return translator.Span{
		TraceID: traceID(9), ID: spanID(9, 1), ParentID: spanID(9, 0),
		Name: "chat gpt-4o", Type: translator.TypeGeneration,
		StartTime: t0.Add(123456789 * time.Nanosecond), EndTime: t0.Add(2*time.Second + 987654321*time.Nanosecond),
		Input: ptr(`[{"role":"user","content":"hi"}]`), Output: ptr(""), Instructions: ptr("be brief"),
		InputJSON: true, OutputJSON: true,
		Error: ptr("rate limited"),
		Model: "gpt-4o-2024-08-06", RequestModel: "gpt-4o", Provider: "openai", GenerationID: "chatcmpl-1",
		Function:  "support.answer",
		Usage:     &translator.Usage{Input: 1200, Output: 300, CacheRead: 1000, CacheWrite: 5, Reasoning: 100, Total: 1500},
		Aggregate: true,
		Cost:      ptr(0.0123), CostSource: "computed:2026-01",
		Tags:   []string{"a", "b", "ünïcode"},
		UserID: "user-1", SessionID: "session-1",
		Metrics: []translator.Metric{{ID: "6d000000-0000-5000-8000-000000000001", Dimension: "accuracy", Value: 0.9, Comment: "ok"},
			{Dimension: "tone", Value: -1}},
		Score: ptr(int64(7)),
		Meta: translator.MetaOf(map[string]any{
			"str": "x", "empty": "", "int64": int64(-42), "int": 7, "float": 3.5, "big": 1e300,
			"true": true, "false": false, "nil": nil,
			"number": json.Number("12.50"), "raw": json.RawMessage(`{"k":[1,2]}`),
			"strings": []string{"p", "q"}, "counts": map[string]int64{"stop": 2},
			"list":   []any{int64(1), "two", 3.0, []any{}, map[string]any{}},
			"nested": map[string]any{"otel": map[string]any{"gen_ai.system": "openai", "deep": map[string]any{"n": int64(1)}}},
		}),
	}
}

func testGetSpanRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := fullSpan()
	minimal := translator.Span{TraceID: traceID(9), ID: spanID(9, 0), Name: "", Type: ""}
	running := translator.Span{TraceID: traceID(9), ID: spanID(9, 2), ParentID: spanID(9, 0), Name: "running",
		Type: translator.TypeTool, StartTime: t0, Tags: []string{}, Meta: translator.Meta{}, Input: ptr("")}
	// Ids that are not canonical UUIDs are kept as they are.
	odd := translator.Span{TraceID: "Trace-Not-A-UUID", ID: "0A000000-0000-4000-8000-000000000001", Name: "odd",
		StartTime: time.Date(1969, 7, 20, 20, 17, 0, 1, time.UTC), EndTime: time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, sp := range []translator.Span{full, minimal, running, odd} {
		require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
		got, err := s.GetSpan(ctx, projectA, sp.ID)
		require.NoError(t, err)
		require.Equal(t, sp, got, sp.ID)
	}
	tr, err := s.GetTrace(ctx, projectA, traceID(9))
	require.NoError(t, err)
	require.Len(t, tr.Spans, 3)
	for _, got := range tr.Spans {
		want := map[string]translator.Span{full.ID: full, minimal.ID: minimal, running.ID: running}[got.ID]
		require.Equal(t, want, got)
	}
}

func testGetSpanNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSpan(ctx, projectA, spanID(1, 0))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.UpsertSpans(ctx, projectA, traceSpans(1, t0), true))
	_, err = s.GetSpan(ctx, projectA, spanID(1, 99))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetTrace(ctx, projectA, traceID(2))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteSpan(ctx, projectA, spanID(1, 99)), store.ErrNotFound)
	require.ErrorIs(t, s.DeleteTrace(ctx, projectA, traceID(2)), store.ErrNotFound)
}

func testGetTrace(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	// Written in reverse, read back by start time.
	for i := len(spans) - 1; i >= 0; i-- {
		require.NoError(t, s.UpsertSpans(ctx, projectA, spans[i:i+1], true))
	}
	require.NoError(t, s.UpsertSpans(ctx, projectA, traceSpans(2, t0.Add(time.Minute)), true))
	m, err := s.CreateMetric(ctx, projectA, spans[1].ID, store.Metric{Dimension: "quality", Value: 0.5})
	require.NoError(t, err)

	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	require.Len(t, tr.Spans, len(spans))
	for i := 1; i < len(tr.Spans); i++ {
		require.False(t, tr.Spans[i].StartTime.Before(tr.Spans[i-1].StartTime), "ordered by start time")
	}
	for _, got := range tr.Spans {
		for _, want := range spans {
			if want.ID == got.ID {
				require.Equal(t, want, got)
			}
		}
		require.Equal(t, traceID(1), got.TraceID)
	}
	requireSummary(t, spans, tr.Summary)
	require.Equal(t, map[string][]store.Metric{spans[1].ID: {m}}, tr.Metrics)
}
