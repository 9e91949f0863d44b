package memory

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/storetest"
	"github.com/opperotel/bridge/translator"
)

// TestConformance runs the store conformance suite every backend passes.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return New() })
}

// TestConformanceBounded runs the suite against the bounded store the
// opper_storage extension opens: a bound no test reaches changes nothing.
func TestConformanceBounded(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return NewBounded(100_000) })
}

func boundedSpan(trace, n int) translator.Span {
	start := time.Date(2026, 1, 1, 0, 0, trace, 0, time.UTC)
	return translator.Span{
		ID: fmt.Sprintf("t%d-s%d", trace, n), TraceID: fmt.Sprintf("t%d", trace), Name: "step",
		StartTime: start, EndTime: start.Add(time.Second),
	}
}

func TestBoundedEvictsOldestTraces(t *testing.T) {
	ctx := t.Context()
	s := NewBounded(3)
	defer s.Close()
	for tr := range 5 {
		require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{boundedSpan(tr, 0), boundedSpan(tr, 1)}, true))
	}
	// A later write into a kept trace adds no trace and evicts nothing.
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{boundedSpan(4, 2)}, true))

	list, total, err := s.ListTraces(ctx, "p", store.TraceQuery{Limit: 10})
	require.NoError(t, err)
	assert.EqualValues(t, 3, total)
	var ids []string
	for _, tr := range list {
		ids = append(ids, tr.TraceID)
	}
	assert.ElementsMatch(t, []string{"t2", "t3", "t4"}, ids)
	_, err = s.GetTrace(ctx, "p", "t0")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetSpan(ctx, "p", "t1-s0")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// The evicted traces left the outbox too.
	pending, err := s.PendingForward(ctx, 100, time.Now())
	require.NoError(t, err)
	for _, p := range pending {
		assert.NotContains(t, []string{"t0", "t1"}, p.Span.TraceID)
	}
	assert.Len(t, pending, 7)
}

func TestBoundedCountsAcrossProjectsAndDeletes(t *testing.T) {
	ctx := t.Context()
	s := NewBounded(2)
	defer s.Close()
	require.NoError(t, s.UpsertSpans(ctx, "a", []translator.Span{boundedSpan(0, 0)}, false))
	require.NoError(t, s.UpsertSpans(ctx, "b", []translator.Span{boundedSpan(1, 0)}, false))
	// Deleting a trace frees its place: writing it again evicts nothing.
	require.NoError(t, s.DeleteTrace(ctx, "a", "t0"))
	require.NoError(t, s.UpsertSpans(ctx, "a", []translator.Span{boundedSpan(0, 0)}, false))
	_, err := s.GetTrace(ctx, "b", "t1")
	require.NoError(t, err)
	_, err = s.GetTrace(ctx, "a", "t0")
	require.NoError(t, err)

	// A third trace evicts the oldest live one (b's), not the re-written t0
	// through its first, stale place in the queue.
	require.NoError(t, s.UpsertSpans(ctx, "a", []translator.Span{boundedSpan(2, 0)}, false))
	_, err = s.GetTrace(ctx, "b", "t1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetTrace(ctx, "a", "t0")
	assert.NoError(t, err)
}

// TestWriteKeepsNothingOfTheCaller: the exporter maps spans into pooled
// storage that its next batch overwrites, so the store must copy.
func TestWriteKeepsNothingOfTheCaller(t *testing.T) {
	ctx := t.Context()
	s := New()
	defer s.Close()
	sp := boundedSpan(0, 0)
	cost, usage := 0.5, translator.Usage{Input: 1, Total: 1}
	sp.Cost, sp.Usage = &cost, &usage
	raw := []byte(`{"a":1}`)
	sp.Meta = translator.Meta{{Key: "k", Value: jsonRaw(raw)}}
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{sp}, false))
	cost, usage.Total, raw[2] = 9, 9, 'X'

	got, err := s.GetSpan(ctx, "p", sp.ID)
	require.NoError(t, err)
	assert.InDelta(t, 0.5, *got.Cost, 0)
	assert.EqualValues(t, 1, got.Usage.Total)
	assert.Equal(t, `{"a":1}`, string(got.Meta.Value("k").(jsonRaw)))
}

type jsonRaw = json.RawMessage
