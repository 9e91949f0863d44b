package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// future, as incompleteBefore, releases every running span.
func future() time.Time { return time.Now().Add(time.Hour) }

func pendingKeys(ps []store.Pending) []store.PendingKey {
	out := make([]store.PendingKey, len(ps))
	for i := range ps {
		out[i] = ps[i].Key
	}
	return out
}

func pendingByID(t *testing.T, ps []store.Pending) map[string]store.Pending {
	t.Helper()
	out := map[string]store.Pending{}
	for _, p := range ps {
		_, dup := out[p.Key.SpanID]
		require.False(t, dup, "span %s pending twice", p.Key.SpanID)
		out[p.Key.SpanID] = p
	}
	return out
}

func testOutboxComplete(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	ps, err := s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	require.Len(t, ps, len(spans))
	byID := pendingByID(t, ps)
	for _, sp := range spans {
		p, ok := byID[sp.ID]
		require.True(t, ok, sp.ID)
		assert.Equal(t, projectA, p.Key.Project)
		assert.False(t, p.Incomplete)
		require.Equal(t, sp, p.Span)
	}
	// Reading does not take entries off the queue; MarkForwarded does.
	again, err := s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	assert.Len(t, again, len(spans))
	require.NoError(t, s.MarkForwarded(ctx, pendingKeys(ps)))
	ps, err = s.PendingForward(ctx, 100, future())
	require.NoError(t, err)
	assert.Empty(t, ps)
	// Marking twice, or unknown keys, is harmless.
	require.NoError(t, s.MarkForwarded(ctx, pendingKeys(again)))
	require.NoError(t, s.MarkForwarded(ctx, []store.PendingKey{{Project: "nobody", SpanID: spans[0].ID, Version: 1}}))
	require.NoError(t, s.MarkForwarded(ctx, nil))

	// A replay of spans already forwarded does not forward them again.
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	ps, err = s.PendingForward(ctx, 100, future())
	require.NoError(t, err)
	assert.Empty(t, ps)
}

func testOutboxForwardFalse(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	spans[0].EndTime = time.Time{}
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, false))
	ps, err := s.PendingForward(ctx, 100, future())
	require.NoError(t, err)
	assert.Empty(t, ps)
	// The spans are stored all the same.
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	assert.Len(t, tr.Spans, len(spans))
}

func testOutboxUpdateInFlight(t *testing.T, s store.Store) {
	ctx := t.Context()
	sp := traceSpans(1, t0)[1]
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
	ps, err := s.PendingForward(ctx, 10, past)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	inFlight := ps[0]

	// While the forward is in flight the span is updated.
	sp.Output = ptr("late output")
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
	require.NoError(t, s.MarkForwarded(ctx, []store.PendingKey{inFlight.Key}))

	ps, err = s.PendingForward(ctx, 10, past)
	require.NoError(t, err)
	require.Len(t, ps, 1, "the update is forwarded again")
	assert.Greater(t, ps[0].Key.Version, inFlight.Key.Version)
	require.Equal(t, sp, ps[0].Span)
	require.NoError(t, s.MarkForwarded(ctx, pendingKeys(ps)))
	ps, err = s.PendingForward(ctx, 10, future())
	require.NoError(t, err)
	assert.Empty(t, ps)
}

func testOutboxIncomplete(t *testing.T, s store.Store) {
	ctx := t.Context()
	sp := traceSpans(1, t0)[0]
	end := sp.EndTime
	sp.EndTime = time.Time{}
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
	// Written just now: not due yet.
	ps, err := s.PendingForward(ctx, 10, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	assert.Empty(t, ps)
	// Last written before incompleteBefore: due, as incomplete.
	ps, err = s.PendingForward(ctx, 10, future())
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.True(t, ps[0].Incomplete)
	require.Equal(t, sp, ps[0].Span)
	require.NoError(t, s.MarkForwarded(ctx, pendingKeys(ps)))
	ps, err = s.PendingForward(ctx, 10, future())
	require.NoError(t, err)
	assert.Empty(t, ps)

	// Still running on a later write: it went out already.
	sp.Output = ptr("partial")
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
	ps, err = s.PendingForward(ctx, 10, future())
	require.NoError(t, err)
	assert.Empty(t, ps)

	// It completes: the complete span goes out, once.
	sp.EndTime = end
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
	ps, err = s.PendingForward(ctx, 10, past)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.False(t, ps[0].Incomplete)
	require.Equal(t, sp, ps[0].Span)
	require.NoError(t, s.MarkForwarded(ctx, pendingKeys(ps)))
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{sp}, true))
	ps, err = s.PendingForward(ctx, 10, future())
	require.NoError(t, err)
	assert.Empty(t, ps)
}

func testOutboxLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	running := traceSpans(2, t0)
	for i := range running {
		running[i].EndTime = time.Time{}
	}
	require.NoError(t, s.UpsertSpans(ctx, projectA, running, true))
	complete := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectB, complete, true))

	// Completed spans come before the incomplete ones, even when younger.
	ps, err := s.PendingForward(ctx, 4, future())
	require.NoError(t, err)
	require.Len(t, ps, 4)
	for _, p := range ps {
		assert.False(t, p.Incomplete)
		assert.Equal(t, projectB, p.Key.Project)
	}
	ps, err = s.PendingForward(ctx, 100, future())
	require.NoError(t, err)
	require.Len(t, ps, len(running)+len(complete))
	byID := pendingByID(t, ps)
	for _, sp := range running {
		assert.True(t, byID[sp.ID].Incomplete)
		assert.Equal(t, projectA, byID[sp.ID].Key.Project)
	}
	for i, p := range ps {
		if i > 0 && ps[i-1].Incomplete {
			assert.True(t, p.Incomplete, "complete after incomplete at %d", i)
		}
	}
	ps, err = s.PendingForward(ctx, 0, future())
	require.NoError(t, err)
	assert.Empty(t, ps)

	// Forwarding in chunks drains the queue.
	n := 0
	for {
		ps, err := s.PendingForward(ctx, 5, future())
		require.NoError(t, err)
		if len(ps) == 0 {
			break
		}
		n += len(ps)
		require.NoError(t, s.MarkForwarded(ctx, pendingKeys(ps)))
		require.LessOrEqual(t, n, len(running)+len(complete))
	}
	assert.Equal(t, len(running)+len(complete), n)
}

func testOutboxDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	require.NoError(t, s.DeleteSpan(ctx, projectA, spans[2].ID))
	ps, err := s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	assert.Len(t, ps, len(spans)-1)
	assert.NotContains(t, pendingByID(t, ps), spans[2].ID)
	require.NoError(t, s.MarkForwarded(ctx, pendingKeys(ps)))

	// A forwarded span deleted and written again is a new span, due again.
	require.NoError(t, s.DeleteSpan(ctx, projectA, spans[1].ID))
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[1:2], true))
	ps, err = s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, spans[1].ID, ps[0].Key.SpanID)

	require.NoError(t, s.DeleteTrace(ctx, projectA, traceID(1)))
	ps, err = s.PendingForward(ctx, 100, future())
	require.NoError(t, err)
	assert.Empty(t, ps)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[:1], true))
	ps, err = s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, spans[0].ID, ps[0].Key.SpanID)
}
