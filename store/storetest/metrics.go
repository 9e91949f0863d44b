package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
)

func testMetrics(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	sp := spans[1].ID
	before := time.Now().Add(-time.Second)
	var created []store.Metric
	for i, d := range []string{"accuracy", "tone", "safety"} {
		in := store.Metric{ID: "ignored", SpanID: "ignored", Dimension: d, Value: float64(i) / 2, CreatedAt: t0}
		if i == 1 {
			in.Comment = ptr("too formal")
		}
		m, err := s.CreateMetric(ctx, projectA, sp, in)
		require.NoError(t, err)
		assert.NotEmpty(t, m.ID)
		assert.NotEqual(t, "ignored", m.ID, "the store assigns the id")
		assert.Equal(t, sp, m.SpanID)
		assert.Equal(t, d, m.Dimension)
		assert.Equal(t, in.Comment, m.Comment)
		assert.True(t, m.CreatedAt.After(before), "the store assigns the creation time")
		got, err := s.GetMetric(ctx, projectA, sp, m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
		created = append(created, m)
	}
	require.NotEqual(t, created[0].ID, created[1].ID)

	all, total, err := s.ListMetrics(ctx, projectA, sp, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, int64(3), total)
	require.Equal(t, created, all, "oldest first")
	page, total, err := s.ListMetrics(ctx, projectA, sp, 1, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(3), total)
	require.Equal(t, created[1:2], page)
	page, total, err = s.ListMetrics(ctx, projectA, sp, 5, 10)
	require.NoError(t, err)
	assert.Equal(t, int64(3), total)
	assert.Empty(t, page)
	none, total, err := s.ListMetrics(ctx, projectA, spans[2].ID, 0, 10)
	require.NoError(t, err)
	assert.Zero(t, total)
	assert.Empty(t, none)

	// Only the fields given change.
	u, err := s.UpdateMetric(ctx, projectA, sp, created[0].ID, store.MetricUpdate{Value: ptr(0.75)})
	require.NoError(t, err)
	want := created[0]
	want.Value = 0.75
	require.Equal(t, want, u)
	u, err = s.UpdateMetric(ctx, projectA, sp, created[0].ID, store.MetricUpdate{Dimension: ptr("precision"), Comment: ptr("new")})
	require.NoError(t, err)
	want.Dimension, want.Comment = "precision", ptr("new")
	require.Equal(t, want, u)
	got, err := s.GetMetric(ctx, projectA, sp, created[0].ID)
	require.NoError(t, err)
	require.Equal(t, want, got)
	u, err = s.UpdateMetric(ctx, projectA, sp, created[1].ID, store.MetricUpdate{})
	require.NoError(t, err)
	require.Equal(t, created[1], u)

	require.NoError(t, s.DeleteMetric(ctx, projectA, sp, created[1].ID))
	_, err = s.GetMetric(ctx, projectA, sp, created[1].ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteMetric(ctx, projectA, sp, created[1].ID), store.ErrNotFound)
	all, total, err = s.ListMetrics(ctx, projectA, sp, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, int64(2), total)
	require.Equal(t, []store.Metric{want, created[2]}, all)

	// Metrics do not touch the span or its roll-up.
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	requireSummary(t, spans, tr.Summary)
	require.Equal(t, map[string][]store.Metric{sp: {want, created[2]}}, tr.Metrics)
}

func testMetricsNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	m, err := s.CreateMetric(ctx, projectA, spans[1].ID, store.Metric{Dimension: "d", Value: 1})
	require.NoError(t, err)

	_, err = s.CreateMetric(ctx, projectA, spanID(1, 99), store.Metric{Dimension: "d"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = s.ListMetrics(ctx, projectA, spanID(1, 99), 0, 10)
	require.ErrorIs(t, err, store.ErrNotFound)
	// A metric is found under its own span only.
	_, err = s.GetMetric(ctx, projectA, spans[2].ID, m.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.UpdateMetric(ctx, projectA, spans[2].ID, m.ID, store.MetricUpdate{Value: ptr(2.0)})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteMetric(ctx, projectA, spans[2].ID, m.ID), store.ErrNotFound)
	_, err = s.GetMetric(ctx, projectA, spans[1].ID, "00000000-0000-4000-8000-000000000000")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err := s.GetMetric(ctx, projectA, spans[1].ID, m.ID)
	require.NoError(t, err)
	require.Equal(t, m, got)
}

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	require.NoError(t, s.UpsertSpans(ctx, projectA, traceSpans(2, t0), true))

	fb, err := s.AddEvent(ctx, projectA, store.Event{SpanID: spans[1].ID, Kind: "feedback", Source: "user",
		Data: []byte(`{"score":1,"comment":"good"}`)})
	require.NoError(t, err)
	assert.NotEmpty(t, fb.ID)
	assert.Equal(t, traceID(1), fb.TraceID, "the span's trace is filled in")
	assert.False(t, fb.CreatedAt.IsZero())
	ev, err := s.AddEvent(ctx, projectA, store.Event{TraceID: traceID(1), SpanID: spans[2].ID, Kind: "evaluation",
		Source: "llm", Data: []byte(`{"passed":true}`)})
	require.NoError(t, err)
	onTrace, err := s.AddEvent(ctx, projectA, store.Event{TraceID: traceID(1), Kind: "feedback", Source: "api",
		Data: []byte(`{"score":0}`)})
	require.NoError(t, err)
	assert.Empty(t, onTrace.SpanID)
	_, err = s.AddEvent(ctx, projectA, store.Event{SpanID: spans[1].ID, Kind: "guardrail", Data: []byte(`{}`)})
	require.NoError(t, err)
	other, err := s.AddEvent(ctx, projectA, store.Event{SpanID: spanID(2, 1), Kind: "feedback", Data: []byte(`{}`)})
	require.NoError(t, err)

	got, err := s.ListEvents(ctx, projectA, "", spans[1].ID, "feedback")
	require.NoError(t, err)
	require.Equal(t, []store.Event{fb}, got)
	got, err = s.ListEvents(ctx, projectA, traceID(1), "", "")
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, []store.Event{fb, ev, onTrace}, []store.Event{got[0], got[1], got[2]}, "oldest first")
	got, err = s.ListEvents(ctx, projectA, traceID(1), "", "feedback")
	require.NoError(t, err)
	require.Equal(t, []store.Event{fb, onTrace}, got)
	got, err = s.ListEvents(ctx, projectA, "", spans[3].ID, "")
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = s.ListEvents(ctx, projectA, traceID(2), "", "")
	require.NoError(t, err)
	require.Equal(t, []store.Event{other}, got)

	_, err = s.AddEvent(ctx, projectA, store.Event{SpanID: spanID(1, 99), Kind: "feedback"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.AddEvent(ctx, projectA, store.Event{TraceID: traceID(3), Kind: "feedback"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.AddEvent(ctx, projectA, store.Event{TraceID: traceID(2), SpanID: spans[1].ID, Kind: "feedback"})
	require.ErrorIs(t, err, store.ErrNotFound, "a span of another trace")
	_, err = s.ListEvents(ctx, projectA, "", spanID(1, 99), "")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ListEvents(ctx, projectA, traceID(3), "", "")
	require.ErrorIs(t, err, store.ErrNotFound)
}
