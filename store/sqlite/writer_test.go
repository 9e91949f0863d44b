package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

func testSpan(trace, n int) translator.Span {
	start := time.Date(2026, 3, 1, 12, 0, trace%60, 0, time.UTC)
	sp := translator.Span{
		TraceID: fmt.Sprintf("7a000000-0000-4000-8000-%012x", trace),
		ID:      fmt.Sprintf("5b%06x-0000-4000-8000-%012x", trace, n),
		Name:    fmt.Sprintf("span %d", n), Type: translator.TypeFunction,
		StartTime: start.Add(time.Duration(n) * time.Millisecond),
		EndTime:   start.Add(time.Duration(n+1) * time.Millisecond),
	}
	if n > 0 {
		sp.ParentID = fmt.Sprintf("5b%06x-0000-4000-8000-%012x", trace, 0)
	}
	return sp
}

// holdWriter occupies the writer with an operation that waits until the
// returned function is called, so what is queued meanwhile forms one batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.writeTx(context.Background(), func(context.Context, *sql.Tx) error {
			close(started)
			<-gate
			return nil
		})
	}()
	<-started
	return func() {
		close(gate)
		require.NoError(t, <-errc)
	}
}

// waitQueued waits until n operations wait in the writer's queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.queue) >= n }, 5*time.Second, time.Millisecond)
}

// Many concurrent single-span writers, one of them invalid: the invalid one
// fails, every other succeeds, and each write that returned nil is visible
// to the next read.
func TestGroupCommitConcurrentWriters(t *testing.T) {
	s := openTest(t)
	defer s.Close()
	ctx := t.Context()
	const writers, perWriter = 48, 20
	var wg sync.WaitGroup
	errs := make([]error, writers)
	var invalidErr error
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perWriter {
				sp := testSpan(w+1, n)
				if w == 7 && n == 5 {
					bad := sp
					bad.ID = ""
					invalidErr = s.UpsertSpans(ctx, "p", []translator.Span{bad}, true)
				}
				if err := s.UpsertSpans(ctx, "p", []translator.Span{sp}, true); err != nil {
					errs[w] = err
					return
				}
				// Read-your-write: durable and visible once it returned.
				if _, err := s.GetSpan(ctx, "p", sp.ID); err != nil {
					errs[w] = fmt.Errorf("span %s not visible after its write: %w", sp.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Error(t, invalidErr)
	for w, err := range errs {
		require.NoError(t, err, "writer %d", w)
	}
	for w := range writers {
		tr, err := s.GetTrace(ctx, "p", testSpan(w+1, 0).TraceID)
		require.NoError(t, err)
		require.Len(t, tr.Spans, perWriter)
		require.Equal(t, translator.RollUp(tr.Spans), tr.Summary)
	}
	_, total, err := s.ListTraces(ctx, "p", store.TraceQuery{Limit: 1})
	require.NoError(t, err)
	require.EqualValues(t, writers, total)
	ps, err := s.PendingForward(ctx, writers*perWriter+10, time.Unix(0, 0))
	require.NoError(t, err)
	require.Len(t, ps, writers*perWriter)
	t.Logf("%d calls in %d commits", s.rollups.ops.Load(), s.rollups.commits.Load())
}

// Writes queued while the writer is busy share one transaction; an
// operation that fails in it fails alone, the others commit.
func TestGroupCommitFailureIsolated(t *testing.T) {
	s := openTest(t)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{testSpan(1, 0)}, true))
	commits := s.rollups.commits.Load()

	release := holdWriter(t, s)
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i {
			case 3: // fails inside the batch: rolled back to its savepoint
				results[i] = s.DeleteSpan(ctx, "p", "no-such-span")
			case 5: // breaks the batch's transaction: the batch is retried one by one
				results[i] = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, "RELEASE op")
					return err
				})
			default:
				results[i] = s.UpsertSpans(ctx, "p", []translator.Span{testSpan(1, i+1), testSpan(100+i, 0)}, true)
			}
		}()
		waitQueued(t, s, i+1) // keep the queue in order
	}
	release()
	wg.Wait()
	for i, err := range results {
		switch i {
		case 3:
			require.ErrorIs(t, err, store.ErrNotFound)
		case 5:
			require.Error(t, err)
		default:
			require.NoError(t, err, "op %d", i)
		}
	}
	tr, err := s.GetTrace(ctx, "p", testSpan(1, 0).TraceID)
	require.NoError(t, err)
	require.Len(t, tr.Spans, 7)
	require.Equal(t, translator.RollUp(tr.Spans), tr.Summary)
	// The held op, then the failed batch retried op by op: six commits.
	assert.Equal(t, int64(1+6), s.rollups.commits.Load()-commits)
}

// A caller whose context ends while its write waits gets the context's
// error, and the write is not applied.
func TestGroupCommitCancelled(t *testing.T) {
	s := openTest(t)
	defer s.Close()
	ctx := t.Context()
	release := holdWriter(t, s)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.UpsertSpans(cctx, "p", []translator.Span{testSpan(1, 0)}, true) }()
	waitQueued(t, s, 1)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	release()
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{testSpan(2, 0)}, true))
	_, err := s.GetSpan(ctx, "p", testSpan(1, 0).ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// Close while writers wait: the queued writes commit and their callers get
// nil; writes after Close fail.
func TestGroupCommitCloseDrains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "opper.db")
	ctx := t.Context()
	s, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	release := holdWriter(t, s)
	const waiting = 16
	var wg sync.WaitGroup
	errs := make([]error, waiting)
	for i := range waiting {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UpsertSpans(ctx, "p", []translator.Span{testSpan(1, i)}, true)
		}()
	}
	waitQueued(t, s, waiting)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	require.Eventually(t, func() bool {
		s.queueMu.RLock()
		defer s.queueMu.RUnlock()
		return s.closed
	}, 5*time.Second, time.Millisecond)
	require.Error(t, s.UpsertSpans(ctx, "p", []translator.Span{testSpan(2, 0)}, true), "write after Close")
	release()
	require.NoError(t, <-closed)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "write %d", i)
	}
	require.NoError(t, s.Close(), "closing twice")

	s, err = Open(ctx, Config{Path: path})
	require.NoError(t, err)
	defer s.Close()
	tr, err := s.GetTrace(ctx, "p", testSpan(1, 0).TraceID)
	require.NoError(t, err)
	require.Len(t, tr.Spans, waiting)
	require.Equal(t, translator.RollUp(tr.Spans), tr.Summary)
}

// The writer's roll-up cache notices writes of another connection to the
// same file (another process) and re-reads the trace.
func TestRollUpCacheOtherWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "opper.db")
	ctx := t.Context()
	a, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	defer b.Close()
	var spans []translator.Span
	for n := range 3 {
		spans = append(spans, testSpan(1, n))
	}
	require.NoError(t, a.UpsertSpans(ctx, "p", spans[:1], true)) // cached in a
	require.NoError(t, b.UpsertSpans(ctx, "p", spans[1:2], true))
	require.NoError(t, a.UpsertSpans(ctx, "p", spans[2:], true))
	sums, total, err := a.ListTraces(ctx, "p", store.TraceQuery{Limit: 10})
	require.NoError(t, err)
	require.EqualValues(t, 1, total)
	want := translator.RollUp(spans)
	sums[0].Input, sums[0].Output = nil, nil
	require.Equal(t, want.SpanCount, sums[0].SpanCount)
	require.Equal(t, want, sums[0])
}

// A failed write leaves no trace in the roll-up cache.
func TestRollUpCacheRollback(t *testing.T) {
	s := openTest(t)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{testSpan(1, 0)}, true))
	release := holdWriter(t, s)
	errc := make(chan error, 2)
	go func() { errc <- s.UpsertSpans(ctx, "p", []translator.Span{testSpan(1, 1)}, true) }()
	waitQueued(t, s, 1)
	go func() {
		errc <- s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "RELEASE op") // fails the batch
			return err
		})
	}()
	waitQueued(t, s, 2)
	release()
	var failed int
	for range 2 {
		if err := <-errc; err != nil {
			failed++
		}
	}
	require.Equal(t, 1, failed)
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{testSpan(1, 2)}, true))
	tr, err := s.GetTrace(ctx, "p", testSpan(1, 0).TraceID)
	require.NoError(t, err)
	require.Len(t, tr.Spans, 3)
	require.Equal(t, translator.RollUp(tr.Spans), tr.Summary)
}
