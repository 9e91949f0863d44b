package storetest

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

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
	var all []translator.Span
	byTrace := map[string][]translator.Span{}
	for n := 1; n <= traces; n++ {
		spans := traceSpans(n, t0.Add(time.Duration(n)*time.Minute))
		all = append(all, spans...)
		byTrace[spans[0].TraceID] = spans
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			order := rng.Perm(len(all))
			for i := 0; i < len(order); {
				n := 1 + rng.IntN(8)
				batch := make([]translator.Span, 0, n)
				for ; n > 0 && i < len(order); n-- {
					batch = append(batch, all[order[i]])
					i++
				}
				if err := s.UpsertSpans(ctx, projectA, batch, true); err != nil {
					errs <- err
					return
				}
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
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	sums := listAll(t, s, projectA)
	require.Len(t, sums, traces)
	for _, sum := range sums {
		requireSummary(t, byTrace[sum.TraceID], sum)
		tr, err := s.GetTrace(ctx, projectA, sum.TraceID)
		require.NoError(t, err)
		require.Len(t, tr.Spans, len(byTrace[sum.TraceID]))
	}
	ps, err := s.PendingForward(ctx, 1000, past)
	require.NoError(t, err)
	assert.Len(t, pendingByID(t, ps), len(all))
}
