package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
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
