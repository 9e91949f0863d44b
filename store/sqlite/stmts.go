package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
)

// The statements of the hot paths are prepared once. Write statements must
// be prepared at Open: the writer pool has one connection, held by any open
// transaction, so preparing later would wait for itself.
var (
	writeSQL = slices.Concat(slices.Collect(maps.Values(upsertSpansByRows)), slices.Collect(maps.Values(addFacetsByRows)), []string{nextVersionsSQL, traceExistsSQL,
		drainMovesSQL, lightSpansSQL, upsertTraceSQL, traceTagsSQL, deleteTraceSQL, addTraceTagSQL,
		removeTraceTagSQL, deleteFacetsSQL, markForwardedSQL, dataVersionSQL}, flushNamesSQL)
	readSQL = []string{getSpanSQL, traceSpansSQL, traceMetricsSQL, pendingSQL}
)

// prepare prepares the statements of both pools.
func (s *Store) prepare(ctx context.Context) error {
	s.prepared = make(map[string]*sql.Stmt, len(writeSQL)+len(readSQL))
	for _, set := range []struct {
		db *sql.DB
		qs []string
	}{{s.w, writeSQL}, {s.r, readSQL}} {
		for _, q := range set.qs {
			st, err := set.db.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare %q: %w", q, err)
			}
			s.prepared[q] = st
		}
	}
	return nil
}

// stmt returns a prepared statement bound to tx; database/sql reuses the
// statement already prepared on tx's connection.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	st, ok := s.prepared[q]
	if !ok {
		return nil, fmt.Errorf("statement not prepared: %q", q)
	}
	return tx.StmtContext(ctx, st), nil
}

// readStmt returns a prepared read statement outside a transaction.
func (s *Store) readStmt(q string) (*sql.Stmt, error) {
	st, ok := s.prepared[q]
	if !ok {
		return nil, fmt.Errorf("statement not prepared: %q", q)
	}
	return st, nil
}
