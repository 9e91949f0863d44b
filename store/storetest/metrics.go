package storetest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

func testMetrics(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	sp := spans[1].ID
	before := time.Now().Add(-time.Second)
	var created []store.Metric
	for i, d := range []string{"accuracy", "tone", "safety"} {
		in := store.Metric{SpanID: "ignored", Dimension: d, Value: float64(i) / 2, CreatedAt: t0}
		if i == 1 {
			in.Comment = ptr("too formal")
		}
		m, err := s.CreateMetric(ctx, projectA, sp, in)
		require.NoError(t, err)
		assert.NotEmpty(t, m.ID)
		assert.NotEqual(t, "ignored", m.SpanID, "the span is the one named")
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

// testSpanMetricsStoredOnce: the metrics a span carries (evaluations the
// exporter translated) are the span's metrics, and a span written again (a
// retry, a replayed queue, an exporter writing straight into the store)
// stores each of them once, while distinct evaluations stay distinct.
func testSpanMetricsStoredOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	sp := &spans[1]
	relevance1 := translator.MetricID(sp.ID, "event/0/relevance")
	relevance2 := translator.MetricID(sp.ID, "event/1/relevance")
	sp.Metrics = []translator.Metric{
		{ID: relevance1, Dimension: "relevance", Value: 0.8, Comment: "relevant"},
		// The same evaluation twice is two metrics: their ids differ.
		{ID: relevance2, Dimension: "relevance", Value: 0.8, Comment: "relevant"},
		{Dimension: "tone", Value: -1},
	}
	before := time.Now().Add(-time.Second)
	for range 3 {
		require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	}
	// Twice in one batch, too.
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{*sp, *sp}, false))

	all, total, err := s.ListMetrics(ctx, projectA, sp.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), total)
	require.Len(t, all, 3)
	wantIDs := []string{relevance1, relevance2, store.SpanMetricID(sp, 2)}
	for i, m := range all {
		assert.Equal(t, wantIDs[i], m.ID, "in the span's order")
		assert.Equal(t, sp.ID, m.SpanID)
		assert.Equal(t, sp.Metrics[i].Dimension, m.Dimension)
		assert.Equal(t, sp.Metrics[i].Value, m.Value)
		assert.True(t, m.CreatedAt.After(before), "the store assigns the creation time")
		got, err := s.GetMetric(ctx, projectA, sp.ID, m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	assert.Equal(t, ptr("relevant"), all[0].Comment)
	assert.Nil(t, all[2].Comment, "no comment is nil")
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	require.Equal(t, map[string][]store.Metric{sp.ID: all}, tr.Metrics)
	got, err := s.GetSpan(ctx, projectA, sp.ID)
	require.NoError(t, err)
	require.Equal(t, *sp, got, "the span keeps its metrics as written")

	// A replay does not undo an edit, nor drop what CreateMetric added;
	// a later write adds the metrics new to the span.
	edited, err := s.UpdateMetric(ctx, projectA, sp.ID, relevance1, store.MetricUpdate{Value: ptr(0.1)})
	require.NoError(t, err)
	added, err := s.CreateMetric(ctx, projectA, sp.ID, store.Metric{Dimension: "human", Value: 1})
	require.NoError(t, err)
	later := *sp
	later.Metrics = append(slices.Clone(sp.Metrics), translator.Metric{ID: translator.MetricID(sp.ID, "event/2/safety"), Dimension: "safety", Value: 1})
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{later}, true))
	now, total, err := s.ListMetrics(ctx, projectA, sp.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(5), total)
	require.Equal(t, []store.Metric{edited, all[1], all[2], added}, now[:4])
	assert.Equal(t, "safety", now[4].Dimension)

	// An id that another span's metric has is not taken over.
	thief := spans[2]
	thief.Metrics = []translator.Metric{{ID: relevance1, Dimension: "stolen", Value: 9}}
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{thief}, true))
	none, total, err := s.ListMetrics(ctx, projectA, thief.ID, 0, 0)
	require.NoError(t, err)
	assert.Zero(t, total)
	assert.Empty(t, none)
	got1, err := s.GetMetric(ctx, projectA, sp.ID, relevance1)
	require.NoError(t, err)
	require.Equal(t, edited, got1)

	// A value JSON cannot carry is not stored; the rest of the write is.
	odd := spans[3]
	odd.Metrics = []translator.Metric{{Dimension: "nan", Value: math.NaN()}, {Dimension: "inf", Value: math.Inf(1)}, {Dimension: "ok", Value: 1}}
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{odd}, true))
	oddMetrics, _, err := s.ListMetrics(ctx, projectA, odd.ID, 0, 0)
	require.NoError(t, err)
	require.Len(t, oddMetrics, 1)
	assert.Equal(t, "ok", oddMetrics[0].Dimension)

	// Ids are per project: the same span in another project has its own.
	require.NoError(t, s.UpsertSpans(ctx, projectB, []translator.Span{*sp}, true))
	inB, total, err := s.ListMetrics(ctx, projectB, sp.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), total)
	assert.Equal(t, 0.8, inB[0].Value)

	// Deleting the span deletes its metrics; written again, it has those
	// it carries.
	require.NoError(t, s.DeleteSpan(ctx, projectA, sp.ID))
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{*sp}, true))
	again, total, err := s.ListMetrics(ctx, projectA, sp.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), total)
	assert.Equal(t, 0.8, again[0].Value)
}

// testCreateMetricWithID: a metric create that names its id (the
// receiver's Idempotency-Key) is idempotent.
func testCreateMetricWithID(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	require.NoError(t, s.UpsertSpans(ctx, projectB, spans, true))
	id := translator.MetricID(spans[1].ID, "client-key")
	in := store.Metric{ID: id, Dimension: "accuracy", Value: 0.9, Comment: ptr("c")}
	m, err := s.CreateMetric(ctx, projectA, spans[1].ID, in)
	require.NoError(t, err)
	assert.Equal(t, id, m.ID, "the id given is kept")
	assert.Equal(t, spans[1].ID, m.SpanID)
	assert.Equal(t, ptr("c"), m.Comment)

	for _, retry := range []store.Metric{in, {ID: id, Dimension: "other", Value: 0}} {
		again, err := s.CreateMetric(ctx, projectA, spans[1].ID, retry)
		require.NoError(t, err)
		require.Equal(t, m, again, "a create with a stored id returns the stored metric")
	}
	all, total, err := s.ListMetrics(ctx, projectA, spans[1].ID, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1), total)
	require.Equal(t, []store.Metric{m}, all)

	_, err = s.CreateMetric(ctx, projectA, spans[2].ID, in)
	require.ErrorIs(t, err, store.ErrConflict, "the id belongs to another span")
	_, total, err = s.ListMetrics(ctx, projectA, spans[2].ID, 0, 0)
	require.NoError(t, err)
	assert.Zero(t, total)

	inB, err := s.CreateMetric(ctx, projectB, spans[2].ID, in)
	require.NoError(t, err, "ids are per project")
	assert.Equal(t, id, inB.ID)

	// Deleted, the id can be used again.
	require.NoError(t, s.DeleteMetric(ctx, projectA, spans[1].ID, id))
	re, err := s.CreateMetric(ctx, projectA, spans[2].ID, in)
	require.NoError(t, err)
	assert.Equal(t, spans[2].ID, re.SpanID)
	_, err = s.CreateMetric(ctx, projectA, spanID(1, 99), in)
	require.ErrorIs(t, err, store.ErrNotFound)
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
