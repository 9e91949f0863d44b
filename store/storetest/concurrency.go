package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// testConcurrentWriters has several goroutines write the same spans, each
// in its own order and batching, while others read. Every span ends up
// stored once, every roll-up matches its spans, and every span is due for
// forwarding exactly once.
func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		writers = 4
		readers = 2
		traces  = 6
	)
	all, byTrace := agentTraces(traces)

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := writeShuffled(ctx, s, all, rand.New(rand.NewPCG(uint64(w), 1)), 8); err != nil {
				errs <- err
			}
		}()
	}
	var rwg sync.WaitGroup
	for range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				page, total, err := s.ListTraces(ctx, projectA, store.TraceQuery{Limit: 20, Name: "agent"})
				if err != nil {
					errs <- err
					return
				}
				if int64(len(page)) > total {
					errs <- assert.AnError
					return
				}
				for _, sum := range page {
					if _, err := s.GetTrace(ctx, projectA, sum.TraceID); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rwg.Wait()
	requireNoErrors(t, errs)
	requireRollUps(t, s, byTrace)
	ps, err := s.PendingForward(ctx, 1000, past)
	require.NoError(t, err)
	assert.Len(t, pendingByID(t, ps), len(all))
}

// testUpdateSpan has goroutines update one span concurrently, each adding
// a tag of its own and counting in a meta value: every update is kept.
// An error from the function is returned as is and writes nothing; an
// unknown span is ErrNotFound; the update queues the span for forwarding
// like a write.
func testUpdateSpan(t *testing.T, s store.Store) {
	ctx := t.Context()
	spans := traceSpans(1, t0)
	require.NoError(t, s.UpsertSpans(ctx, projectA, spans, true))
	id := spans[1].ID

	_, err := s.UpdateSpan(ctx, projectA, "no-such-span", true, func(*translator.Span) error { return nil })
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.UpdateSpan(ctx, projectB, id, true, func(*translator.Span) error { return nil })
	require.ErrorIs(t, err, store.ErrNotFound, "another project's span")

	mine := errors.New("refused by fn")
	_, err = s.UpdateSpan(ctx, projectA, id, true, func(sp *translator.Span) error {
		sp.Name = "changed"
		return mine
	})
	require.ErrorIs(t, err, mine)
	got, err := s.GetSpan(ctx, projectA, id)
	require.NoError(t, err)
	require.Equal(t, "plan", got.Name, "a refused update wrote nothing")

	const updaters = 8
	updateConcurrently(t, id, updaters, func(int) store.Store { return s })
	got, err = s.GetSpan(ctx, projectA, id)
	require.NoError(t, err)
	require.Len(t, got.Tags, updaters, "every concurrent update kept: %v", got.Tags)
	require.Equal(t, int64(updaters), got.Meta.Value("updates"))

	upd, err := s.UpdateSpan(ctx, projectA, id, true, func(sp *translator.Span) error {
		sp.Output = ptr("new output")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "new output", *upd.Output, "the updated span comes back")
	tr, err := s.GetTrace(ctx, projectA, spans[0].TraceID)
	require.NoError(t, err)
	for _, sp := range tr.Spans {
		if sp.ID == id {
			require.Equal(t, "new output", *sp.Output)
		}
	}
}

// updateConcurrently has n goroutines update span id at once, each through
// the store storeFor gives it, adding the tag "w<n>" and counting in the
// meta value "updates".
func updateConcurrently(t *testing.T, id string, n int, storeFor func(w int) store.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range n {
		wg.Go(func() {
			_, err := storeFor(w).UpdateSpan(t.Context(), projectA, id, true, func(sp *translator.Span) error {
				sp.Tags = append(sp.Tags, fmt.Sprintf("w%d", w))
				count, _ := sp.Meta.Value("updates").(int64)
				sp.Meta.Set("updates", count+1)
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	requireNoErrors(t, errs)
}

// writeShuffled writes all into s's projectA in rng's order, in batches of
// 1 to maxBatch spans, for forwarding, as one of several concurrent writers.
func writeShuffled(ctx context.Context, s store.Store, all []translator.Span, rng *rand.Rand, maxBatch int) error {
	order := rng.Perm(len(all))
	for i := 0; i < len(order); {
		n := 1 + rng.IntN(maxBatch)
		batch := make([]translator.Span, 0, n)
		for ; n > 0 && i < len(order); n-- {
			batch = append(batch, all[order[i]])
			i++
		}
		if err := s.UpsertSpans(ctx, projectA, batch, true); err != nil {
			return err
		}
	}
	return nil
}
