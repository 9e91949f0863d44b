package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// Replicas opens two stores over one new, empty database, as two replicas
// of a collector would: each its own connections, caches and outbox
// leases. Their outbox leases last Lease after a store's last sign of
// life. Kill ends a store as a kill -9 would: without releasing anything.
type Replicas struct {
	Open  func(t *testing.T) (store.Store, store.Store)
	Lease time.Duration
	Kill  func(store.Store)
}

// RunShared runs the tests a backend shared by several processes must
// pass, on top of Run: writes of one trace split between replicas roll up
// exactly, updates through either replica are never lost, and the outbox
// hands each span to one replica, which a dead replica's lease gives up.
func RunShared(t *testing.T, r Replicas) {
	open := func(t *testing.T) (store.Store, store.Store) {
		a, b := r.Open(t)
		t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
		return a, b
	}
	t.Run("WritersOnBothReplicas", func(t *testing.T) {
		a, b := open(t)
		testSharedWriters(t, a, b)
	})
	t.Run("SpansOfOneTraceSplitBetweenReplicas", func(t *testing.T) {
		a, b := open(t)
		testSharedSplit(t, a, b)
	})
	t.Run("UpdateSpanOnBothReplicas", func(t *testing.T) {
		a, b := open(t)
		testSharedUpdates(t, a, b)
	})
	t.Run("OutboxLeases", func(t *testing.T) {
		a, b := open(t)
		testSharedOutbox(t, a, b, r)
	})
}

// testSharedWriters writes every span of several traces through both
// replicas at once, each span through both, in random orders and batches:
// every roll-up read through either replica is exact, and every span is
// due for forwarding once.
func testSharedWriters(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	const traces = 8
	all, byTrace := agentTraces(traces)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w, s := range []store.Store{a, b, a, b, a, b, a, b} {
		wg.Go(func() {
			if err := writeShuffled(ctx, s, all, rand.New(rand.NewPCG(uint64(w), 7)), 6); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	requireNoErrors(t, errs)
	for _, s := range []store.Store{a, b} {
		requireRollUps(t, s, byTrace)
	}
	seen := map[string]int{}
	for _, s := range []store.Store{a, b} {
		ps, err := s.PendingForward(ctx, 1000, past)
		require.NoError(t, err)
		for _, p := range ps {
			seen[p.Key.SpanID]++
		}
	}
	require.Len(t, seen, len(all), "every span due")
	for id, n := range seen {
		require.Equal(t, 1, n, "span %s handed to one replica", id)
	}
}

// testSharedSplit writes each span once, the spans of every trace spread
// over writers on both replicas that run at once: a roll-up computed by
// one writer without the spans another is committing would miss them.
func testSharedSplit(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	const (
		traces   = 6
		children = 40
		writers  = 8
	)
	var all []translator.Span
	byTrace := map[string][]translator.Span{}
	for n := 1; n <= traces; n++ {
		tid, root := traceID(n), spanID(n, 0)
		start := t0.Add(time.Duration(n) * time.Minute)
		spans := []translator.Span{{TraceID: tid, ID: root, Name: fmt.Sprintf("wide %d", n), Type: translator.TypeAgent,
			StartTime: start, EndTime: start.Add(time.Minute)}}
		for c := 1; c <= children; c++ {
			spans = append(spans, translator.Span{TraceID: tid, ID: spanID(n, c), ParentID: root, Name: "call",
				Type: translator.TypeGeneration, StartTime: start.Add(time.Duration(c) * time.Millisecond),
				EndTime: start.Add(time.Second), Model: "gpt-4o", Usage: &translator.Usage{Input: 7, Output: 3, Total: 10},
				Cost: ptr(0.001)})
		}
		all = append(all, spans...)
		byTrace[tid] = spans
	}
	parts := make([][]translator.Span, writers)
	rng := rand.New(rand.NewPCG(3, 5))
	for _, i := range rng.Perm(len(all)) {
		parts[i%writers] = append(parts[i%writers], all[i])
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			for p := parts[w]; len(p) > 0; {
				n := min(len(p), 1+w%3)
				if err := s.UpsertSpans(ctx, projectA, p[:n], true); err != nil {
					errs <- err
					return
				}
				p = p[n:]
			}
		})
	}
	close(start)
	wg.Wait()
	requireNoErrors(t, errs)
	for _, s := range []store.Store{a, b} {
		requireRollUps(t, s, byTrace)
		usage, err := s.UsageByModel(ctx, projectA, time.Time{}, time.Time{})
		require.NoError(t, err)
		require.Len(t, usage, 1)
		require.Equal(t, int64(traces*children), usage[0].Calls)
	}
}

// testSharedUpdates updates one span through both replicas at once.
func testSharedUpdates(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, a.UpsertSpans(ctx, projectA, spans, true))
	id := spans[2].ID
	const updaters = 10
	updateConcurrently(t, id, updaters, func(w int) store.Store { return []store.Store{a, b}[w%2] })
	for _, s := range []store.Store{a, b} {
		got, err := s.GetSpan(ctx, projectA, id)
		require.NoError(t, err)
		require.Len(t, got.Tags, updaters, "every update kept: %v", got.Tags)
	}
}

// testSharedOutbox: two replicas asking at once get different spans; what
// a live replica read stays its own, however long it takes; what a replica
// read and never marked goes to the other once it closed (at once) or died
// (when its lease ran out); marked spans go to nobody again.
func testSharedOutbox(t *testing.T, a, b store.Store, r Replicas) {
	ctx := t.Context()
	all, _ := agentTraces(10)
	require.NoError(t, a.UpsertSpans(ctx, projectA, all, true))

	var pa, pb []store.Pending
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { pa, errA = a.PendingForward(ctx, 40, past) })
	wg.Go(func() { pb, errB = b.PendingForward(ctx, 40, past) })
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)
	got := map[string]string{}
	for name, ps := range map[string][]store.Pending{"a": pa, "b": pb} {
		for _, p := range ps {
			require.NotContains(t, got, p.Key.SpanID, "span handed to both replicas")
			got[p.Key.SpanID] = name
		}
	}
	require.Len(t, got, len(all), "every span handed out")

	// b forwards its share; a is slow: longer than a lease, but alive.
	require.NoError(t, b.MarkForwarded(ctx, pendingKeys(pb)))
	time.Sleep(r.Lease * 3 / 2)
	again, err := b.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	require.Empty(t, again, "a live replica's spans stay its own")
	// A replica's own leased spans come back to it (a retry).
	mine, err := a.PendingForward(ctx, 100, past)
	require.NoError(t, err)
	require.Len(t, mine, len(pa))

	// a dies holding its lease: b takes a's spans once it ran out.
	r.Kill(a)
	died := time.Now()
	var taken []store.Pending
	require.Eventually(t, func() bool {
		taken, err = b.PendingForward(ctx, 100, past)
		require.NoError(t, err)
		return len(taken) > 0
	}, r.Lease+10*time.Second, 50*time.Millisecond, "b takes a's spans once the lease ran out")
	require.Len(t, taken, len(pa))
	require.GreaterOrEqual(t, time.Since(died), r.Lease/2, "not before the lease could run out")
	for _, p := range taken {
		require.Equal(t, "a", got[p.Key.SpanID])
	}
	require.NoError(t, b.MarkForwarded(ctx, pendingKeys(taken)))
	// a's stale marks change nothing: nothing is due again.
	require.NoError(t, b.MarkForwarded(ctx, pendingKeys(pa)))
	ps, err := b.PendingForward(ctx, 100, future())
	require.NoError(t, err)
	require.Empty(t, ps)
}
