// Package storetest is the conformance suite of store.Store: every backend
// runs it from its own tests,
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openMyStore(t) })
//	}
//
// and passes it unchanged. The suite states the contract the receiver
// relies on; where store.go leaves a choice open, the tests here settle it.
package storetest // import "github.com/opperotel/bridge/store/storetest"

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// Run runs every conformance test. newStore returns a new, empty store
// each time it is called; the suite closes it when the test ends (the
// Close test closes it itself).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	open := func(t *testing.T) store.Store {
		s := newStore(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"UpsertIsIdempotent", testUpsertIdempotent},
		{"UpsertReplaces", testUpsertReplaces},
		{"UpsertLargeBatch", testUpsertLargeBatch},
		{"UpsertRejectsSpanWithoutIDs", testUpsertRejectsMissingIDs},
		{"ChildBeforeParent", testChildBeforeParent},
		{"GetSpanRoundTrip", testGetSpanRoundTrip},
		{"GetSpanNotFound", testGetSpanNotFound},
		{"GetTrace", testGetTrace},
		{"RollUp", testRollUp},
		{"RollUpRunningAndError", testRollUpStatus},
		{"SpanMovesToAnotherTrace", testSpanMoves},
		{"ListEmpty", testListEmpty},
		{"ListFilters", testListFilters},
		{"ListPagination", testListPagination},
		{"ListRejectsBadLimit", testListBadLimit},
		{"ListCounts", testListCounts},
		{"ListPreviews", testListPreviews},
		{"ListFacets", testListFacets},
		{"UsageByModel", testUsageByModel},
		{"DeleteSpan", testDeleteSpan},
		{"DeleteLastSpanRemovesTrace", testDeleteLastSpan},
		{"DeleteTrace", testDeleteTrace},
		{"ProjectIsolation", testProjectIsolation},
		{"Metrics", testMetrics},
		{"MetricsNotFound", testMetricsNotFound},
		{"SpanMetricsStoredOnce", testSpanMetricsStoredOnce},
		{"CreateMetricWithID", testCreateMetricWithID},
		{"Events", testEvents},
		{"OutboxComplete", testOutboxComplete},
		{"OutboxForwardFalse", testOutboxForwardFalse},
		{"OutboxUpdateInFlight", testOutboxUpdateInFlight},
		{"OutboxIncomplete", testOutboxIncomplete},
		{"OutboxLimitAndOrder", testOutboxLimit},
		{"OutboxDelete", testOutboxDelete},
		{"ConcurrentWriters", testConcurrentWriters},
		{"UpdateSpan", testUpdateSpan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	t.Run("Close", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.UpsertSpans(t.Context(), projectA, traceSpans(1, t0), true))
		require.NoError(t, s.Close())
	})
}

const (
	projectA = "project-a"
	projectB = "project-b"
)

// t0 is the fixtures' epoch. Times are UTC without monotonic readings, the
// form every store gives back.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// past, as PendingForward's incompleteBefore, holds back every running span.
var past = time.Unix(0, 0)

// traceID and spanID are deterministic canonical UUIDs.
func traceID(n int) string { return fmt.Sprintf("7a000000-0000-4000-8000-%012x", n) }
func spanID(trace, n int) string {
	return fmt.Sprintf("5b%06x-0000-4000-8000-%012x", trace, n)
}

func ptr[T any](v T) *T { return &v }

// traceSpans is a realistic agent trace starting at start: an agent root
// whose usage and cost aggregate its children's, a function wrapper that
// repeats its generation's usage without being marked, two generations, a
// tool with a cost of its own and a retrieval.
//
//	agent (root, aggregate usage 450, cost 0.045)
//	├── generation "plan"  usage 100, cost 0.01
//	├── function "answer"  usage 350 (repeats its child), cost 0.035
//	│   └── generation "write" usage 350, cost 0.035
//	├── tool "search"      cost 0.002
//	└── retrieval "docs"
//
// Counted: tokens 100+350 = 450; cost 0.01+0.035+0.002 = 0.047.
func traceSpans(n int, start time.Time) []translator.Span {
	tid := traceID(n)
	root := spanID(n, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	return []translator.Span{
		{
			TraceID: tid, ID: root, Name: fmt.Sprintf("agent run %d", n), Type: translator.TypeAgent,
			StartTime: at(0), EndTime: at(2000),
			Input: ptr(fmt.Sprintf("question %d", n)), Output: ptr(fmt.Sprintf("answer %d", n)),
			Usage: &translator.Usage{Input: 300, Output: 150, Total: 450}, Aggregate: true, Cost: ptr(0.045),
			Tags: []string{"prod", fmt.Sprintf("t%d", n)}, UserID: "u1", SessionID: "s1",
			Meta: translator.Meta{{Key: "env", Value: "prod"}},
		},
		{
			TraceID: tid, ID: spanID(n, 1), ParentID: root, Name: "plan", Type: translator.TypeGeneration,
			StartTime: at(10), EndTime: at(400), Model: "gpt-4o", Provider: "openai",
			Usage: &translator.Usage{Input: 80, Output: 20, Total: 100}, Cost: ptr(0.01), CostSource: "provided",
		},
		{
			TraceID: tid, ID: spanID(n, 2), ParentID: root, Name: "answer", Type: translator.TypeFunction,
			StartTime: at(500), EndTime: at(1800),
			Usage: &translator.Usage{Input: 220, Output: 130, Total: 350}, Cost: ptr(0.035),
		},
		{
			TraceID: tid, ID: spanID(n, 3), ParentID: spanID(n, 2), Name: "write", Type: translator.TypeGeneration,
			StartTime: at(510), EndTime: at(1790), Model: "claude-sonnet-4", Provider: "anthropic",
			Usage: &translator.Usage{Input: 220, Output: 130, CacheRead: 20, Reasoning: 30, Total: 350},
			Cost:  ptr(0.035), CostSource: "computed:2026-01",
		},
		{
			TraceID: tid, ID: spanID(n, 4), ParentID: root, Name: "search", Type: translator.TypeTool,
			StartTime: at(420), EndTime: at(480), Cost: ptr(0.002),
			Input: ptr(`{"q":"x"}`), InputJSON: true,
		},
		{
			TraceID: tid, ID: spanID(n, 5), ParentID: root, Name: "docs", Type: translator.TypeRetrieval,
			StartTime: at(405), EndTime: at(415),
		},
	}
}

// requireSummary checks that got is the roll-up of spans as the translator
// computes it; cost is a float sum, compared to 1e-9.
func requireSummary(t *testing.T, spans []translator.Span, got translator.TraceSummary) {
	t.Helper()
	want := translator.RollUp(spans)
	assert.InDelta(t, want.Cost, got.Cost, 1e-9, "cost")
	want.Cost, got.Cost = 0, 0
	require.Equal(t, want, got)
}

// ids lists the trace ids of summaries, in order.
func ids(sums []translator.TraceSummary) []string {
	out := make([]string, len(sums))
	for i := range sums {
		out[i] = sums[i].TraceID
	}
	return out
}

// listAll returns every trace of a project, newest first.
func listAll(t *testing.T, s store.Store, project string) []translator.TraceSummary {
	t.Helper()
	var out []translator.TraceSummary
	for off := 0; ; off += 100 {
		page, total, err := s.ListTraces(t.Context(), project, store.TraceQuery{Offset: off, Limit: 100})
		require.NoError(t, err)
		out = append(out, page...)
		if int64(len(out)) >= total || len(page) == 0 {
			require.Equal(t, total, int64(len(out)))
			return out
		}
	}
}

// agentTraces are traces 1..n of traceSpans, a minute apart: all their
// spans, and the spans by trace id.
func agentTraces(n int) ([]translator.Span, map[string][]translator.Span) {
	var all []translator.Span
	byTrace := map[string][]translator.Span{}
	for i := 1; i <= n; i++ {
		spans := traceSpans(i, t0.Add(time.Duration(i)*time.Minute))
		all = append(all, spans...)
		byTrace[spans[0].TraceID] = spans
	}
	return all, byTrace
}

// requireRollUps checks that s lists exactly the traces of byTrace in
// projectA, each rolled up from its spans and read back whole.
func requireRollUps(t *testing.T, s store.Store, byTrace map[string][]translator.Span) {
	t.Helper()
	sums := listAll(t, s, projectA)
	require.Len(t, sums, len(byTrace))
	for _, sum := range sums {
		requireSummary(t, byTrace[sum.TraceID], sum)
		tr, err := s.GetTrace(t.Context(), projectA, sum.TraceID)
		require.NoError(t, err)
		require.Len(t, tr.Spans, len(byTrace[sum.TraceID]))
	}
}

// requireNoErrors closes errs, which its writers have finished with, and
// fails on the first error in it.
func requireNoErrors(t *testing.T, errs chan error) {
	t.Helper()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
