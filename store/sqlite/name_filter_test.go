package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// FuzzListName: whatever a user types as a name filter, the list answers
// (never an FTS syntax error) with exactly the traces whose name contains
// it, case-insensitively.
func FuzzListName(f *testing.F) {
	names := []string{`Checkout "agent" #0417`, "RÉSUMÉ builder", "chat gpt-4o-mini", `a AND b OR "c"`, "x*y NEAR(z)", "日本語のトレース", ""}
	s, err := Open(context.Background(), Config{Path: filepath.Join(f.TempDir(), "fuzz.db")})
	require.NoError(f, err)
	f.Cleanup(func() { _ = s.Close() })
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, n := range names {
		tid := benchTraceID(i)
		require.NoError(f, s.UpsertSpans(context.Background(), "p", []translator.Span{{
			TraceID: tid, ID: tid, Name: n, StartTime: start.Add(time.Duration(i) * time.Second),
		}}, false))
	}
	for _, seed := range []string{"agent", `"agent"`, "ÉSU", "4o-", "AND", "*", "NEAR(", `""`, "日本語", "a", "ch", "\x00\xff", "0417"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" {
			return
		}
		_, total, err := s.ListTraces(context.Background(), "p", store.TraceQuery{Name: name, Limit: 100})
		require.NoError(t, err)
		want := 0
		for _, n := range names {
			if strings.Contains(strings.ToLower(n), strings.ToLower(name)) {
				want++
			}
		}
		require.EqualValues(t, want, total, "name %q", name)
	})
}
