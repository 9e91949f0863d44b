package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/storetest"
	"github.com/opperotel/bridge/translator"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openStore opens a store on a new, empty database of the test server.
func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{DSN: pgtest.NewDSN(t)})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}

func TestReplicas(t *testing.T) {
	const lease = 2 * time.Second
	storetest.RunShared(t, storetest.Replicas{Lease: lease, Kill: func(s store.Store) { s.(*Store).kill() }, Open: func(t *testing.T) (store.Store, store.Store) {
		dsn := pgtest.NewDSN(t)
		a, err := Open(t.Context(), Config{DSN: dsn, OutboxLease: lease})
		require.NoError(t, err)
		b, err := Open(t.Context(), Config{DSN: dsn, OutboxLease: lease})
		require.NoError(t, err)
		return a, b
	}})
}

// Replicas starting at once on an empty database migrate it once; a
// database migrated by a newer build is refused with a clear error.
func TestMigrations(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), Config{DSN: dsn}) })
	}
	wg.Wait()
	for i := range stores {
		require.NoError(t, errs[i])
		require.NoError(t, stores[i].Close())
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var v int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT version FROM opper_schema_version`).Scan(&v))
	require.Equal(t, len(migrations), v)

	_, err = conn.Exec(t.Context(), `UPDATE opper_schema_version SET version = $1`, len(migrations)+1)
	require.NoError(t, err)
	_, err = Open(t.Context(), Config{DSN: dsn})
	require.Error(t, err)
	require.Contains(t, err.Error(), fmt.Sprintf("the database schema is version %d, newer than this build's %d", len(migrations)+1, len(migrations)))
}

// A database that goes away fails calls with store.ErrUnavailable, and the
// store serves again, by itself, once it is back.
func TestDatabaseRestart(t *testing.T) {
	srv := pgtest.NewServer(t)
	dsn, err := srv.NewDatabase(t.Context())
	require.NoError(t, err)
	s, err := Open(t.Context(), Config{DSN: dsn, ConnectTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer s.Close()
	span := func(id string) []translator.Span {
		return []translator.Span{{TraceID: "t1", ID: id, Name: id, StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0)}}
	}
	require.NoError(t, s.UpsertSpans(t.Context(), "p", span("a"), true))

	require.NoError(t, srv.Stop())
	err = s.UpsertSpans(t.Context(), "p", span("b"), true)
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.GetSpan(t.Context(), "p", "a")
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, _, err = s.ListTraces(t.Context(), "p", store.TraceQuery{Limit: 10})
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.PendingForward(t.Context(), 10, time.Now())
	require.ErrorIs(t, err, store.ErrUnavailable)

	require.NoError(t, srv.Start())
	require.NoError(t, s.UpsertSpans(t.Context(), "p", span("b"), true))
	tr, err := s.GetTrace(t.Context(), "p", "t1")
	require.NoError(t, err)
	require.Len(t, tr.Spans, 2)
}

// Strings PostgreSQL's text cannot hold (NUL, invalid UTF-8) are stored:
// the span comes back exactly, ids included, and its name is listed.
func TestTextPostgresCannotHold(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	in := "nul\x00 and \xff bytes"
	sp := translator.Span{TraceID: "trace\x00x", ID: "span\xffy", Name: "name\x00z \xfe", Type: "generation",
		Model: "m\x00", Input: &in, Output: &in, Tags: []string{"t\x00"}, StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0),
		Metrics: []translator.Metric{{Dimension: "d\x00", Value: 1, Comment: "c\xff"}}}
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{sp}, true))
	got, err := s.GetSpan(ctx, "p", sp.ID)
	require.NoError(t, err)
	require.Equal(t, in, *got.Input)
	require.Equal(t, in, *got.Output)
	require.Equal(t, sp.Name, got.Name, "the body keeps the name exactly")
	page, total, err := s.ListTraces(ctx, "p", store.TraceQuery{Limit: 10, Name: "NAME"})
	require.NoError(t, err)
	require.Equal(t, int64(1), total)
	require.Equal(t, got.TraceID, page[0].TraceID)
	_, err = s.GetTrace(ctx, "p", sp.TraceID)
	require.NoError(t, err, "looked up by the id as written")
	_, err = s.UpdateSpan(ctx, "p", sp.ID, true, func(sp *translator.Span) error { sp.Name = "renamed"; return nil })
	require.NoError(t, err)
	_, total, err = s.ListTraces(ctx, "p", store.TraceQuery{Limit: 10, Tag: "t\x00"})
	require.NoError(t, err)
	require.Equal(t, int64(1), total)

	// Two ids that only a text column cannot tell apart are one span, the
	// later write: a batch with both is not refused.
	twins := []translator.Span{
		{TraceID: "t2", ID: "twin\x00", Name: "first", StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0)},
		{TraceID: "t2", ID: "twin\xff", Name: "second", StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0)},
	}
	require.NoError(t, s.UpsertSpans(ctx, "p", twins, true))
	got, err = s.GetSpan(ctx, "p", "twin\x00")
	require.NoError(t, err)
	require.Equal(t, "second", got.Name)
}

// kill ends the store as a kill -9 would: its lease renewals stop and its
// connections close, releasing nothing.
func (s *Store) kill() {
	s.stopRenew()
	<-s.renewDone
	s.pool.Close()
}

// A replica that stops releases its outbox leases: another forwards those
// spans at once, not after the lease.
func TestOutboxReleasedOnClose(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	a, err := Open(t.Context(), Config{DSN: dsn, OutboxLease: time.Hour})
	require.NoError(t, err)
	b, err := Open(t.Context(), Config{DSN: dsn, OutboxLease: time.Hour})
	require.NoError(t, err)
	defer b.Close()
	spans := []translator.Span{{TraceID: "t", ID: "s1", Name: "s1", StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0)}}
	require.NoError(t, a.UpsertSpans(t.Context(), "p", spans, true))
	ps, err := a.PendingForward(t.Context(), 10, time.Now())
	require.NoError(t, err)
	require.Len(t, ps, 1)
	ps, err = b.PendingForward(t.Context(), 10, time.Now())
	require.NoError(t, err)
	require.Empty(t, ps, "leased to a")
	require.NoError(t, a.Close())
	ps, err = b.PendingForward(t.Context(), 10, time.Now())
	require.NoError(t, err)
	require.Len(t, ps, 1, "released by a's Close")
}
