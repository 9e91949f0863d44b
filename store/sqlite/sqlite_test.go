package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
	"github.com/opperotel/bridge/store/storetest"
	"github.com/opperotel/bridge/translator"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), "sub", "opper.db")})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// TestConformanceFacetLookups runs the suite with every facet filter
// looked up per trace, the form common facets take (traceFilter).
func TestConformanceFacetLookups(t *testing.T) {
	defer func(n int64) { facetSetMax = n }(facetSetMax)
	facetSetMax = -1
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	// A path with spaces in a directory that does not exist yet.
	path := filepath.Join(t.TempDir(), "a dir", "the store.db")
	s, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	sp := translator.Span{TraceID: "7a000000-0000-4000-8000-000000000001", ID: "5b000000-0000-4000-8000-000000000001",
		Name: "root", StartTime: time.Unix(10, 0).UTC(), EndTime: time.Unix(11, 0).UTC()}
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{sp}, true))
	require.NoError(t, s.Close())

	s, err = Open(ctx, Config{Path: path})
	require.NoError(t, err)
	got, err := s.GetSpan(ctx, "p", sp.ID)
	require.NoError(t, err)
	require.Equal(t, sp, got)
	ps, err := s.PendingForward(ctx, 10, time.Unix(0, 0))
	require.NoError(t, err)
	require.Len(t, ps, 1, "the outbox survives a restart")
	_, err = s.w.ExecContext(ctx, `UPDATE schema_version SET version = 99`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(ctx, Config{Path: path})
	require.ErrorContains(t, err, "newer")
}

// A version 1 file (outbox table) opens with its spans and forward state.
func TestMigrateOutboxIntoSpans(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	sp := translator.Span{TraceID: "7a000000-0000-4000-8000-000000000001", ID: "5b000000-0000-4000-8000-000000000001",
		Name: "root", StartTime: time.Unix(10, 0).UTC(), EndTime: time.Unix(11, 0).UTC()}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		migrations[0],
		`INSERT INTO projects (id, name) VALUES (1, 'p')`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO spans (project, span_id, trace_id, start_ns, end_ns, type, name,
	has_error, aggregate, body) VALUES (1, ?, ?, ?, ?, '', 'root', 0, 0, ?)`,
		keyID(sp.ID), keyID(sp.TraceID), sp.StartTime.UnixNano(), sp.EndTime.UnixNano(), spanrow.AppendBody(nil, &sp))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO outbox (project, span_id, version, pending, forwarded, written_ns)
	VALUES (1, ?, 7, 1, 0, 5)`, keyID(sp.ID))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	defer s.Close()
	ps, err := s.PendingForward(ctx, 10, time.Unix(0, 0))
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, store.PendingKey{Project: "p", SpanID: sp.ID, Version: 7}, ps[0].Key)
	require.Equal(t, sp, ps[0].Span)
	require.NoError(t, s.MarkForwarded(ctx, []store.PendingKey{ps[0].Key}))
	require.NoError(t, s.UpsertSpans(ctx, "p", []translator.Span{sp}, true))
	ps, err = s.PendingForward(ctx, 10, time.Unix(0, 0))
	require.NoError(t, err)
	require.Empty(t, ps, "forwarded once, not again after a replay")
}

// TestMigrateListIndexes: a version 2 file gains previews of its long
// content, its trace counts and its name index.
func TestMigrateListIndexes(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	long := strings.Repeat("x", 10_000)
	sp := translator.Span{TraceID: "7a000000-0000-4000-8000-000000000001", ID: "5b000000-0000-4000-8000-000000000001",
		Name: "Checkout Agent", StartTime: time.Unix(10, 0).UTC(), EndTime: time.Unix(11, 0).UTC()}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (2)`,
		migrations[0], migrations[1],
		`INSERT INTO projects (id, name) VALUES (1, 'p')`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO spans (project, span_id, trace_id, start_ns, end_ns, type, name,
	has_error, aggregate, input, body) VALUES (1, ?, ?, ?, ?, '', 'Checkout Agent', 0, 0, ?, ?)`,
		keyID(sp.ID), keyID(sp.TraceID), sp.StartTime.UnixNano(), sp.EndTime.UnixNano(), long, spanrow.AppendBody(nil, &sp))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO traces (project, trace_id, start_ns, end_ns, duration_ns, status, cost,
	name, name_lower, has_cost, span_count, error_spans, total_tokens, type_counts, root_id)
	VALUES (1, ?, ?, ?, 1000000000, 'ok', 0, 'Checkout Agent', 'checkout agent', 0, 1, 0, 0, ?, ?)`,
		keyID(sp.TraceID), sp.StartTime.UnixNano(), sp.EndTime.UnixNano(),
		spanrow.AppendTypeCounts(nil, map[string]int64{"function": 1}), keyID(sp.ID))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	defer s.Close()
	for _, q := range []store.TraceQuery{{}, {Name: "KOUT AG"}, {Name: "ck"}} {
		q.Limit = 10
		page, total, err := s.ListTraces(ctx, "p", q)
		require.NoError(t, err, "%+v", q)
		require.EqualValues(t, 1, total, "%+v", q)
		require.Len(t, page, 1)
		require.NotNil(t, page[0].Input)
		require.Less(t, len(*page[0].Input), len(long), "a preview, not the whole input")
		require.True(t, strings.HasPrefix(long, *page[0].Input))
	}
	got, err := s.GetSpan(ctx, "p", sp.ID)
	require.NoError(t, err)
	require.Equal(t, long, *got.Input)
}

func TestKeyIDRoundTrip(t *testing.T) {
	for _, id := range []string{"", "x", "7a000000-0000-4000-8000-000000000001", "7A000000-0000-4000-8000-000000000001",
		"7a000000-0000-4000-8000-00000000000g", "7a000000x0000-4000-8000-000000000001"} {
		require.Equal(t, id, idString(keyID(id)), id)
	}
	_, isBlob := keyID("7a000000-0000-4000-8000-000000000001").([]byte)
	require.True(t, isBlob)
}
