package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

func testRollUp(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	// The root alone first: its usage is an aggregate and counts for
	// nothing even before the children it aggregates arrive.
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[:1], true))
	all := listAll(t, s, projectA)
	require.Len(t, all, 1)
	requireSummary(t, spans[:1], all[0])
	assert.Zero(t, all[0].TotalTokens)
	assert.False(t, all[0].HasCost)

	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[1:], true))
	all = listAll(t, s, projectA)
	require.Len(t, all, 1)
	got := all[0]
	requireSummary(t, spans, got)
	// The figures themselves, so a backend cannot agree with a broken
	// translator by accident: usage leaves only, aggregates and the wrapper
	// that repeats its child's usage excluded.
	assert.Equal(t, int64(6), got.SpanCount)
	assert.Equal(t, map[string]int64{"agent": 1, "generation": 2, "function": 1, "tool": 1, "retrieval": 1}, got.TypeCounts)
	assert.Equal(t, int64(450), got.TotalTokens)
	assert.InDelta(t, 0.047, got.Cost, 1e-12)
	assert.True(t, got.HasCost)
	assert.Equal(t, 2*time.Second, got.Duration())
	assert.Equal(t, translator.StatusOK, got.Status)
	assert.Equal(t, "agent run 1", got.Name)
	assert.Equal(t, ptr("question 1"), got.Input)
	assert.Equal(t, ptr("answer 1"), got.Output)
	assert.Equal(t, []string{"prod", "t1"}, got.Tags)
	assert.Equal(t, spans[0].ID, got.RootID)
	assert.Equal(t, t0, got.StartTime)
}

func testRollUpStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	running := traceSpans(1, t0)
	running[0].EndTime = time.Time{}
	running[0].Meta = translator.Meta{{Key: translator.MetaTraceName, Value: "named trace"}}
	failed := traceSpans(2, t0.Add(time.Minute))
	failed[0].Error = ptr("tool failed")
	failed[4].Error = ptr("timeout")
	noCost := traceSpans(3, t0.Add(2*time.Minute))[4:6]
	noCost[0].Cost, noCost[0].ParentID, noCost[1].ParentID = nil, "", ""
	for _, sp := range [][]translator.Span{running, failed, noCost} {
		require.NoError(t, s.UpsertSpans(ctx, projectA, sp, true))
	}
	all := listAll(t, s, projectA)
	require.Len(t, all, 3)
	requireSummary(t, noCost, all[0])
	requireSummary(t, failed, all[1])
	requireSummary(t, running, all[2])
	assert.Equal(t, translator.StatusRunning, all[2].Status)
	assert.Equal(t, "named trace", all[2].Name)
	assert.Zero(t, all[2].Duration())
	assert.Equal(t, translator.StatusError, all[1].Status)
	assert.Equal(t, int64(2), all[1].ErrorSpans)
	assert.False(t, all[0].HasCost)
	for _, sp := range [][]translator.Span{running, failed, noCost} {
		tr, err := s.GetTrace(ctx, projectA, sp[0].TraceID)
		require.NoError(t, err)
		requireSummary(t, sp, tr.Summary)
	}
}

func testSpanMoves(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := traceSpans(1, t0), traceSpans(2, t0.Add(time.Minute))
	require.NoError(t, s.UpsertSpans(ctx, projectA, append(slices.Clone(a), b...), true))
	_, err := s.AddEvent(ctx, projectA, store.Event{SpanID: a[5].ID, Kind: "feedback", Data: []byte(`{}`)})
	require.NoError(t, err)
	moved := a[5]
	moved.TraceID, moved.ParentID = traceID(2), b[0].ID
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{moved}, true))
	all := listAll(t, s, projectA)
	require.Len(t, all, 2)
	requireSummary(t, append(b, moved), all[0])
	requireSummary(t, a[:5], all[1])
	ev, err := s.ListEvents(ctx, projectA, traceID(2), "", "")
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, traceID(2), ev[0].TraceID)

	// Into a trace that did not exist, in a batch with a new span of it.
	moved = a[4]
	moved.TraceID, moved.ParentID = traceID(3), spanID(3, 0)
	root := traceSpans(3, t0.Add(time.Hour))[0]
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{moved, root}, true))
	all = listAll(t, s, projectA)
	require.Len(t, all, 3)
	requireSummary(t, []translator.Span{moved, root}, all[0])
	requireSummary(t, append(b, a[5]), all[1])
	requireSummary(t, a[:4], all[2])
}

func testListEmpty(t *testing.T, s store.Store) {
	page, total, err := s.ListTraces(t.Context(), projectA, store.TraceQuery{Limit: 20})
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Zero(t, total)
}

func testListBadLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, q := range []store.TraceQuery{{Limit: 0}, {Limit: 101}, {Limit: -1}, {Limit: 10, Offset: -1}} {
		_, _, err := s.ListTraces(ctx, projectA, q)
		require.Error(t, err, "%+v", q)
	}
}

// filterFixture writes 12 traces of varied name, status, duration, cost,
// tags and start, and returns their spans by trace id.
func filterFixture(t *testing.T, s store.Store) map[string][]translator.Span {
	out := map[string][]translator.Span{}
	names := []string{"Checkout Agent", "search", "checkout-retry", "Résumé écrit", "summarise", "CHECKOUT"}
	for n := 1; n <= 12; n++ {
		spans := traceSpans(n, t0.Add(time.Duration(n)*time.Minute))
		spans[0].Name = names[n%len(names)]
		spans[0].EndTime = spans[0].StartTime.Add(time.Duration(n) * time.Second)
		switch n % 4 {
		case 1:
			spans[0].Error = ptr("failed")
		case 2:
			spans[0].EndTime = time.Time{}
		}
		for i := range spans {
			if spans[i].Cost != nil {
				spans[i].Cost = ptr(*spans[i].Cost * float64(n))
			}
		}
		if n%3 == 0 {
			spans[0].Tags = append(spans[0].Tags, "vip")
		}
		if n == 7 {
			// A tag on a child does not make the trace match: the filter is on the root.
			spans[3].Tags = []string{"child-only"}
			spans[0].Tags = nil
		}
		require.NoError(t, s.UpsertSpans(t.Context(), projectA, spans, true))
		out[spans[0].TraceID] = spans
	}
	return out
}

// match is the reference filter, from the contract in store.TraceQuery.
func match(sum translator.TraceSummary, q store.TraceQuery) bool {
	d := sum.Duration()
	switch {
	case q.Name != "" && !strings.Contains(strings.ToLower(sum.Name), strings.ToLower(q.Name)),
		q.Status != "" && sum.Status != q.Status,
		q.MinDuration > 0 && d < q.MinDuration,
		q.MaxDuration > 0 && d > q.MaxDuration,
		q.MinCost != nil && sum.Cost < *q.MinCost,
		q.MaxCost != nil && sum.Cost > *q.MaxCost,
		q.Tag != "" && !slices.Contains(sum.Tags, q.Tag),
		!q.From.IsZero() && sum.StartTime.Before(q.From),
		!q.To.IsZero() && !sum.StartTime.Before(q.To):
		return false
	}
	return true
}

func testListFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	traces := filterFixture(t, s)
	var sums []translator.TraceSummary
	for _, spans := range traces {
		sums = append(sums, translator.RollUp(spans))
	}
	slices.SortFunc(sums, func(a, b translator.TraceSummary) int { return b.StartTime.Compare(a.StartTime) })

	queries := map[string]store.TraceQuery{
		"none":              {},
		"name":              {Name: "checkout"},
		"name upper":        {Name: "CHECK"},
		"name unicode":      {Name: "RÉSUMÉ"},
		"name none":         {Name: "nothing"},
		"status ok":         {Status: translator.StatusOK},
		"status error":      {Status: translator.StatusError},
		"status running":    {Status: translator.StatusRunning},
		"min duration":      {MinDuration: 6 * time.Second},
		"max duration":      {MaxDuration: 5 * time.Second},
		"duration range":    {MinDuration: 3 * time.Second, MaxDuration: 9 * time.Second},
		"min cost":          {MinCost: ptr(0.2)},
		"max cost":          {MaxCost: ptr(0.2)},
		"cost range":        {MinCost: ptr(0.1), MaxCost: ptr(0.4)},
		"tag":               {Tag: "vip"},
		"tag child only":    {Tag: "child-only"},
		"tag per trace":     {Tag: "t5"},
		"from":              {From: t0.Add(6 * time.Minute)},
		"to":                {To: t0.Add(6 * time.Minute)},
		"time range":        {From: t0.Add(3 * time.Minute), To: t0.Add(9 * time.Minute)},
		"name and status":   {Name: "checkout", Status: translator.StatusError},
		"tag and cost":      {Tag: "vip", MinCost: ptr(0.3)},
		"everything":        {Name: "e", Status: translator.StatusOK, MinDuration: time.Second, MaxDuration: 11 * time.Second, MinCost: ptr(0.01), MaxCost: ptr(1.0), Tag: "prod", From: t0, To: t0.Add(time.Hour)},
		"everything, empty": {Name: "e", Status: translator.StatusRunning, MinDuration: time.Second},
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			var want []string
			for _, sum := range sums {
				if match(sum, q) {
					want = append(want, sum.TraceID)
				}
			}
			q.Limit = 100
			page, total, err := s.ListTraces(ctx, projectA, q)
			require.NoError(t, err)
			assert.Equal(t, int64(len(want)), total)
			if want == nil {
				want = []string{}
			}
			require.Equal(t, want, ids(page))
			for _, got := range page {
				requireSummary(t, traces[got.TraceID], got)
			}
		})
	}
	// The fixture exercises every filter: each selects some but not all.
	for name, q := range queries {
		if strings.Contains(name, "none") || strings.Contains(name, "empty") || strings.Contains(name, "child") {
			continue
		}
		n := 0
		for _, sum := range sums {
			if match(sum, q) {
				n++
			}
		}
		assert.True(t, n > 0 && n < len(sums), "fixture: %q matches %d of %d", name, n, len(sums))
	}
	// Times past what Unix nanoseconds can count (1678 to 2262) bound the
	// list as any other: a filter from the year 2999 keeps nothing.
	far := map[string]struct {
		q    store.TraceQuery
		want int64
	}{
		"from year 2999": {store.TraceQuery{From: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		"to year 2999":   {store.TraceQuery{To: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}, int64(len(sums))},
		"to year 1500":   {store.TraceQuery{To: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
	}
	for name, c := range far {
		c.q.Limit = 100
		_, total, err := s.ListTraces(ctx, projectA, c.q)
		require.NoError(t, err, name)
		assert.Equal(t, c.want, total, name)
	}
}

func testListPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 25
	var want []string
	// Written oldest-last and in two projects' worth of batches, read newest first.
	for i := 1; i <= n; i++ {
		require.NoError(t, s.UpsertSpans(ctx, projectA, traceSpans(i, t0.Add(time.Duration(i*7%n)*time.Hour)), true))
	}
	for h := n - 1; h >= 0; h-- {
		for i := 1; i <= n; i++ {
			if i*7%n == h {
				want = append(want, traceID(i))
			}
		}
	}
	var got []string
	for off := 0; off < n+10; off += 10 {
		page, total, err := s.ListTraces(ctx, projectA, store.TraceQuery{Offset: off, Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, int64(n), total)
		assert.Len(t, page, min(10, max(n-off, 0)))
		got = append(got, ids(page)...)
	}
	require.Equal(t, want, got)
	// A filtered page counts the filtered set, not the page.
	page, total, err := s.ListTraces(ctx, projectA, store.TraceQuery{Limit: 3, Offset: 1, From: t0.Add(10 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, int64(15), total)
	assert.Equal(t, want[1:4], ids(page))
	page, total, err = s.ListTraces(ctx, projectA, store.TraceQuery{Limit: 100, Offset: 1000})
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Equal(t, int64(n), total)
}

func testDeleteSpan(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	victim := spans[3]
	_, err := s.CreateMetric(ctx, projectA, victim.ID, store.Metric{Dimension: "d", Value: 1})
	require.NoError(t, err)
	keep, err := s.CreateMetric(ctx, projectA, spans[1].ID, store.Metric{Dimension: "d", Value: 2})
	require.NoError(t, err)
	_, err = s.AddEvent(ctx, projectA, store.Event{SpanID: victim.ID, Kind: "feedback", Data: []byte(`{"score":1}`)})
	require.NoError(t, err)

	require.NoError(t, s.DeleteSpan(ctx, projectA, victim.ID))
	_, err = s.GetSpan(ctx, projectA, victim.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = s.ListMetrics(ctx, projectA, victim.ID, 0, 10)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ListEvents(ctx, projectA, "", victim.ID, "")
	require.ErrorIs(t, err, store.ErrNotFound)
	ev, err := s.ListEvents(ctx, projectA, traceID(1), "", "")
	require.NoError(t, err)
	assert.Empty(t, ev)
	pending, err := s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	for _, p := range pending {
		assert.NotEqual(t, victim.ID, p.Key.SpanID)
	}
	assert.Len(t, pending, len(spans)-1)

	rest := slices.Delete(slices.Clone(spans), 3, 4)
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	require.Len(t, tr.Spans, len(rest))
	requireSummary(t, rest, tr.Summary)
	require.Equal(t, map[string][]store.Metric{spans[1].ID: {keep}}, tr.Metrics)
	all := listAll(t, s, projectA)
	require.Len(t, all, 1)
	requireSummary(t, rest, all[0])
	require.ErrorIs(t, s.DeleteSpan(ctx, projectA, victim.ID), store.ErrNotFound)

	// Written again, the span starts without metrics or events.
	require.NoError(t, s.UpsertSpans(ctx, projectA, []translator.Span{victim}, true))
	ms, total, err := s.ListMetrics(ctx, projectA, victim.ID, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, ms)
	assert.Zero(t, total)
	ev, err = s.ListEvents(ctx, projectA, "", victim.ID, "")
	require.NoError(t, err)
	assert.Empty(t, ev)
}

func testDeleteLastSpan(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)[:1]
	spans[0].Tags = []string{"only"}
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	require.NoError(t, s.DeleteSpan(ctx, projectA, spans[0].ID))
	_, err := s.GetTrace(ctx, projectA, traceID(1))
	require.ErrorIs(t, err, store.ErrNotFound)
	page, total, err := s.ListTraces(ctx, projectA, store.TraceQuery{Limit: 10, Tag: "only"})
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Zero(t, total)
	assert.Empty(t, listAll(t, s, projectA))
}

func testDeleteTrace(t *testing.T, s store.Store) {
	ctx := t.Context()
	gone, kept := traceSpans(1, t0), traceSpans(2, t0.Add(time.Minute))
	require.NoError(t, s.UpsertSpans(ctx, projectA, append(slices.Clone(gone), kept...), true))
	for _, sp := range []translator.Span{gone[1], kept[1]} {
		_, err := s.CreateMetric(ctx, projectA, sp.ID, store.Metric{Dimension: "d", Value: 1})
		require.NoError(t, err)
		_, err = s.AddEvent(ctx, projectA, store.Event{SpanID: sp.ID, Kind: "feedback", Data: []byte(`{}`)})
		require.NoError(t, err)
		_, err = s.AddEvent(ctx, projectA, store.Event{TraceID: sp.TraceID, Kind: "evaluation", Data: []byte(`{}`)})
		require.NoError(t, err)
	}

	require.NoError(t, s.DeleteTrace(ctx, projectA, traceID(1)))
	_, err := s.GetTrace(ctx, projectA, traceID(1))
	require.ErrorIs(t, err, store.ErrNotFound)
	for _, sp := range gone {
		_, err := s.GetSpan(ctx, projectA, sp.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	_, err = s.ListEvents(ctx, projectA, traceID(1), "", "")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = s.ListMetrics(ctx, projectA, gone[1].ID, 0, 10)
	require.ErrorIs(t, err, store.ErrNotFound)
	pending, err := s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	assert.Len(t, pending, len(kept))
	for _, p := range pending {
		assert.Equal(t, traceID(2), p.Span.TraceID)
	}
	all := listAll(t, s, projectA)
	require.Len(t, all, 1)
	requireSummary(t, kept, all[0])
	ev, err := s.ListEvents(ctx, projectA, traceID(2), "", "")
	require.NoError(t, err)
	assert.Len(t, ev, 2)
	require.ErrorIs(t, s.DeleteTrace(ctx, projectA, traceID(1)), store.ErrNotFound)

	// Writing the trace again starts from nothing.
	require.NoError(t, s.UpsertSpans(ctx, projectA, gone[:2], true))
	ms, total, err := s.ListMetrics(ctx, projectA, gone[1].ID, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, ms)
	assert.Zero(t, total)
}

func testProjectIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, a, true))
	m, err := s.CreateMetric(ctx, projectA, a[1].ID, store.Metric{Dimension: "d", Value: 1})
	require.NoError(t, err)
	_, err = s.AddEvent(ctx, projectA, store.Event{SpanID: a[1].ID, Kind: "feedback", Data: []byte(`{}`)})
	require.NoError(t, err)

	check := func(project string) {
		t.Helper()
		nf := func(err error, what string) {
			t.Helper()
			require.ErrorIs(t, err, store.ErrNotFound, "%s in %s", what, project)
		}
		_, err := s.GetSpan(ctx, project, a[1].ID)
		nf(err, "GetSpan")
		_, err = s.GetTrace(ctx, project, traceID(1))
		nf(err, "GetTrace")
		_, err = s.CreateMetric(ctx, project, a[1].ID, store.Metric{Dimension: "d"})
		nf(err, "CreateMetric")
		_, _, err = s.ListMetrics(ctx, project, a[1].ID, 0, 10)
		nf(err, "ListMetrics")
		_, err = s.GetMetric(ctx, project, a[1].ID, m.ID)
		nf(err, "GetMetric")
		_, err = s.UpdateMetric(ctx, project, a[1].ID, m.ID, store.MetricUpdate{Value: ptr(9.0)})
		nf(err, "UpdateMetric")
		nf(s.DeleteMetric(ctx, project, a[1].ID, m.ID), "DeleteMetric")
		_, err = s.AddEvent(ctx, project, store.Event{SpanID: a[1].ID, Kind: "feedback"})
		nf(err, "AddEvent span")
		_, err = s.AddEvent(ctx, project, store.Event{TraceID: traceID(1), Kind: "feedback"})
		nf(err, "AddEvent trace")
		_, err = s.ListEvents(ctx, project, traceID(1), "", "")
		nf(err, "ListEvents trace")
		_, err = s.ListEvents(ctx, project, "", a[1].ID, "")
		nf(err, "ListEvents span")
		nf(s.DeleteSpan(ctx, project, a[1].ID), "DeleteSpan")
		nf(s.DeleteTrace(ctx, project, traceID(1)), "DeleteTrace")
		page, total, err := s.ListTraces(ctx, project, store.TraceQuery{Limit: 100})
		require.NoError(t, err)
		for _, sum := range page {
			assert.NotEqual(t, traceID(1), sum.TraceID, "trace of %s listed in %s", projectA, project)
		}
		assert.Equal(t, int64(len(page)), total)
	}
	// A project that has never written anything, and one that has.
	check(projectB)
	b := traceSpans(2, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectB, b, true))
	check(projectB)

	// The same ids in two projects are two spans.
	same := a[0]
	same.Name = "project b's copy"
	require.NoError(t, s.UpsertSpans(ctx, projectB, []translator.Span{same}, true))
	got, err := s.GetSpan(ctx, projectB, same.ID)
	require.NoError(t, err)
	assert.Equal(t, same, got)
	got, err = s.GetSpan(ctx, projectA, same.ID)
	require.NoError(t, err)
	assert.Equal(t, a[0], got)
	require.NoError(t, s.DeleteTrace(ctx, projectB, traceID(1)))
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	assert.Len(t, tr.Spans, len(a))
	ms, _, err := s.ListMetrics(ctx, projectA, a[1].ID, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, []store.Metric{m}, ms)

	allA := listAll(t, s, projectA)
	require.Len(t, allA, 1)
	requireSummary(t, a, allA[0])
	allB := listAll(t, s, projectB)
	require.Len(t, allB, 1)
	requireSummary(t, b, allB[0])
	// Pending entries carry their project.
	pending, err := s.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	byProject := map[string]int{}
	for _, p := range pending {
		byProject[p.Key.Project]++
	}
	assert.Equal(t, map[string]int{projectA: len(a), projectB: len(b)}, byProject, fmt.Sprint(len(pending)))
}

// testListCounts: total_count stays exact through everything that adds,
// rewrites, moves and removes traces (stores may keep the count rather
// than count it).
func testListCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	total := func(project string, q store.TraceQuery) int64 {
		t.Helper()
		q.Limit = 10
		_, n, err := s.ListTraces(ctx, project, q)
		require.NoError(t, err)
		return n
	}
	for i := 1; i <= 5; i++ {
		require.NoError(t, s.UpsertSpans(ctx, projectA, traceSpans(i, t0.Add(time.Duration(i)*time.Minute)), true))
	}
	require.NoError(t, s.UpsertSpans(ctx, projectB, traceSpans(9, t0), true))
	assert.EqualValues(t, 5, total(projectA, store.TraceQuery{}))
	assert.EqualValues(t, 1, total(projectB, store.TraceQuery{}))

	// Rewritten traces, renamed roots: still five, found by their new name.
	for i := 1; i <= 5; i++ {
		spans := traceSpans(i, t0.Add(time.Duration(i)*time.Minute))
		spans[0].Name = fmt.Sprintf("renamed \"quoted\" workflow %d", i)
		require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	}
	assert.EqualValues(t, 5, total(projectA, store.TraceQuery{}))
	assert.EqualValues(t, 5, total(projectA, store.TraceQuery{Name: `"QUOTED" WORK`}))
	assert.EqualValues(t, 1, total(projectA, store.TraceQuery{Name: "workflow 3"}))
	assert.EqualValues(t, 5, total(projectA, store.TraceQuery{Name: "ow"}), "two characters")
	assert.EqualValues(t, 0, total(projectA, store.TraceQuery{Name: traceSpans(1, t0)[0].Name}), "the old name is gone")

	// A trace deleted, and one emptied by deleting its spans.
	require.NoError(t, s.DeleteTrace(ctx, projectA, traceID(1)))
	for _, sp := range traceSpans(2, t0) {
		require.NoError(t, s.DeleteSpan(ctx, projectA, sp.ID))
	}
	assert.EqualValues(t, 3, total(projectA, store.TraceQuery{}))
	assert.EqualValues(t, 0, total(projectA, store.TraceQuery{Name: "workflow 1"}))
	assert.EqualValues(t, 1, total(projectB, store.TraceQuery{}))
}

// testListPreviews: a list reads previews of the roots' content (or of
// the generations' when the root has none), never their whole content;
// their preview is the preview of the whole.
func testListPreviews(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	long := strings.Repeat("é", 100_000) // 200 KB, two bytes a rune
	out := "  short answer  "
	spans[0].Input, spans[0].Output = &long, &out
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))

	page, _, err := s.ListTraces(ctx, projectA, store.TraceQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.NotNil(t, page[0].Input)
	assert.LessOrEqual(t, len(*page[0].Input), translator.PreviewHeadBytes)
	assert.True(t, strings.HasPrefix(long, *page[0].Input))
	assert.True(t, utf8.ValidString(*page[0].Input))
	want := translator.RollUp(spans)
	got := page[0]
	assert.Equal(t, translator.ToTraceListItem(&want, false).Input, translator.ToTraceListItem(&got, false).Input)
	assert.Equal(t, &out, got.Output, "a short output is read whole")

	// The trace itself still has the whole content.
	tr, err := s.GetTrace(ctx, projectA, traceID(1))
	require.NoError(t, err)
	assert.Equal(t, long, *tr.Summary.Input)

	// A root without content is previewed by its first generation's input
	// and its last generation's output (heads, as the root's would be).
	spans = traceSpans(2, t0.Add(time.Hour))
	spans[0].Input, spans[0].Output = nil, nil
	firstIn, firstOut := strings.Repeat("plan input ", 1000), "plan output"
	lastIn, lastOut := "write input", "write output"
	spans[1].Input, spans[1].Output = &firstIn, &firstOut
	spans[3].Input, spans[3].Output = &lastIn, &lastOut
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	page, _, err = s.ListTraces(ctx, projectA, store.TraceQuery{Limit: 1})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, traceID(2), page[0].TraceID)
	require.NotNil(t, page[0].Input)
	assert.True(t, strings.HasPrefix(firstIn, *page[0].Input))
	assert.LessOrEqual(t, len(*page[0].Input), translator.PreviewHeadBytes)
	assert.Equal(t, &lastOut, page[0].Output)
	tr, err = s.GetTrace(ctx, projectA, traceID(2))
	require.NoError(t, err)
	assert.Equal(t, &firstIn, tr.Summary.Input)
	assert.Equal(t, &lastOut, tr.Summary.Output)
}

// testListFacets: the model, user and session filters keep the traces with
// a span that has the value, in any span of the trace, combined with the
// other filters; a trace deleted takes its facets along.
func testListFacets(t *testing.T, s store.Store) {
	ctx := t.Context()
	// traceSpans' root has user u1 and session s1; its generations are
	// gpt-4o and claude-sonnet-4.
	for n := 1; n <= 4; n++ {
		spans := traceSpans(n, t0.Add(time.Duration(n)*time.Minute))
		switch n {
		case 2:
			spans[0].UserID, spans[0].SessionID = "u2", "s2"
			spans[1].Model = "gpt-4o-mini"
		case 3:
			spans[0].UserID, spans[0].SessionID = "", ""
			// The OTel resource of an instrumented service, as a span
			// written through the API carries it.
			spans[4].Meta.Set(translator.MetaOTel, map[string]any{"resource": map[string]any{"service.name": "search-svc"}})
			spans[4].SessionID = "s2" // a child's session counts
			spans[3].Model, spans[3].RequestModel = "gpt-4o-2024-08-06", "gpt-4o"
		}
		require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	}
	ids := func(q store.TraceQuery) []string {
		t.Helper()
		q.Limit = 100
		page, total, err := s.ListTraces(ctx, projectA, q)
		require.NoError(t, err)
		var out []string
		for _, sum := range page {
			out = append(out, sum.TraceID)
		}
		assert.Equal(t, int64(len(out)), total)
		slices.Sort(out)
		return out
	}
	assert.Equal(t, []string{traceID(1), traceID(3), traceID(4)}, ids(store.TraceQuery{Model: "gpt-4o"}), "answering or requested")
	assert.Equal(t, []string{traceID(2)}, ids(store.TraceQuery{Model: "gpt-4o-mini"}))
	assert.Equal(t, []string{traceID(3)}, ids(store.TraceQuery{Model: "gpt-4o-2024-08-06"}))
	assert.Equal(t, []string{traceID(1), traceID(2), traceID(4)}, ids(store.TraceQuery{Model: "claude-sonnet-4"}))
	assert.Empty(t, ids(store.TraceQuery{Model: "gpt"}), "exact, not a substring")
	assert.Equal(t, []string{traceID(1), traceID(4)}, ids(store.TraceQuery{User: "u1"}))
	assert.Equal(t, []string{traceID(2), traceID(3)}, ids(store.TraceQuery{Session: "s2"}))
	assert.Equal(t, []string{traceID(2)}, ids(store.TraceQuery{Session: "s2", User: "u2"}))
	assert.Equal(t, []string{traceID(3)}, ids(store.TraceQuery{Session: "s2", Model: "gpt-4o"}))
	assert.Equal(t, []string{traceID(4)}, ids(store.TraceQuery{User: "u1", From: t0.Add(4 * time.Minute)}))
	assert.Empty(t, ids(store.TraceQuery{Session: "nope"}))
	assert.Equal(t, []string{traceID(3)}, ids(store.TraceQuery{Service: "search-svc"}))
	assert.Equal(t, []string{traceID(3)}, ids(store.TraceQuery{Service: "search-svc", Session: "s2"}))
	// Another project's facets are its own.
	page, _, err := s.ListTraces(ctx, projectB, store.TraceQuery{User: "u1", Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, page)

	require.NoError(t, s.DeleteTrace(ctx, projectA, traceID(2)))
	assert.Equal(t, []string{traceID(3)}, ids(store.TraceQuery{Session: "s2"}))
	// A trace written again with the same id starts without the old facets.
	spans := traceSpans(2, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	assert.Empty(t, ids(store.TraceQuery{User: "u2"}))
}

// testUsageByModel: usage per model over the traces that start in a range,
// counted as the trace totals count (the root's aggregate is not), and
// kept up to date when a span changes or goes.
func testUsageByModel(t *testing.T, s store.Store) {
	ctx := t.Context()
	for n := 1; n <= 3; n++ {
		require.NoError(t, s.UpsertSpans(ctx, projectA, traceSpans(n, t0.Add(time.Duration(n)*time.Hour)), true))
	}
	// traceSpans: "plan" gpt-4o 100 tokens $0.01; "write" claude-sonnet-4
	// 350 tokens $0.035 under "answer", whose own usage repeats it.
	usage, err := s.UsageByModel(ctx, projectA, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, usage, 2)
	assert.Equal(t, "claude-sonnet-4", usage[0].Model)
	assert.Equal(t, int64(3), usage[0].Calls)
	assert.Equal(t, int64(3*350), usage[0].Tokens)
	assert.InDelta(t, 3*0.035, usage[0].Cost, 1e-9)
	assert.Equal(t, translator.ModelUsage{Model: "gpt-4o", Calls: 3, Tokens: 300, Cost: usage[1].Cost}, usage[1])
	assert.InDelta(t, 0.03, usage[1].Cost, 1e-9)

	usage, err = s.UsageByModel(ctx, projectA, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Len(t, usage, 2)
	assert.Equal(t, int64(1), usage[0].Calls, "only the trace that starts in the range")

	// A span written again with another model moves its usage.
	spans := traceSpans(2, t0.Add(2*time.Hour))
	spans[1].Model = "gpt-4o-mini"
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans[1:2], true))
	usage, err = s.UsageByModel(ctx, projectA, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	require.NoError(t, err)
	var models []string
	for _, u := range usage {
		models = append(models, u.Model)
	}
	assert.ElementsMatch(t, []string{"claude-sonnet-4", "gpt-4o-mini"}, models)

	require.NoError(t, s.DeleteTrace(ctx, projectA, traceID(2)))
	usage, err = s.UsageByModel(ctx, projectA, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	require.NoError(t, err)
	assert.Empty(t, usage)
	usage, err = s.UsageByModel(ctx, projectB, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Empty(t, usage, "another project's")
}
