package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
)

// pendingSQL reads the queue through the partial index spans_queue, which
// holds only the spans due, oldest write first.
const pendingSQL = `
SELECT p.name, s.span_id, s.version, s.input, s.output, s.body
FROM spans s
JOIN projects p ON p.id = s.project
WHERE s.pending = ? AND s.written_ns < ?
ORDER BY s.written_ns
LIMIT ?`

// markForwardedSQL takes an entry off the queue only if the span was not
// written again since it was read (the version), and records how it went
// out, so a replay of a forwarded span does not queue it again.
const markForwardedSQL = `
UPDATE spans SET forwarded = CASE pending WHEN 1 THEN 2 ELSE max(forwarded, 1) END, pending = NULL
WHERE project = ? AND span_id = ? AND version = ? AND pending IS NOT NULL`

// PendingForward implements store.Store: completed spans first, then the
// running ones whose last write is older than incompleteBefore.
func (s *Store) PendingForward(ctx context.Context, limit int, incompleteBefore time.Time) ([]store.Pending, error) {
	if limit <= 0 {
		return nil, nil
	}
	st, err := s.readStmt(pendingSQL)
	if err != nil {
		return nil, err
	}
	var out []store.Pending
	for _, pass := range [...]struct {
		pending int
		before  int64
	}{{1, math.MaxInt64}, {0, incompleteBefore.UnixNano()}} {
		if len(out) >= limit {
			break
		}
		rows, err := st.QueryContext(ctx, pass.pending, pass.before, limit-len(out))
		if err != nil {
			return nil, fmt.Errorf("sqlite: pending forward: %w", err)
		}
		for rows.Next() {
			var p store.Pending
			var spanID any
			var input, output *string
			var body []byte
			if err := rows.Scan(&p.Key.Project, &spanID, &p.Key.Version, &input, &output, &body); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("sqlite: pending forward: %w", err)
			}
			if err := spanrow.DecodeBody(body, &p.Span); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("sqlite: pending forward: %w", err)
			}
			p.Span.Input, p.Span.Output = input, output
			p.Key.SpanID = idString(spanID)
			p.Incomplete = pass.pending == 0
			out = append(out, p)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: pending forward: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: pending forward: %w", err)
		}
	}
	return out, nil
}

// MarkForwarded implements store.Store. Keys that are unknown, already
// marked, or of an older version of their span are ignored.
func (s *Store) MarkForwarded(ctx context.Context, keys []store.PendingKey) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := s.stmt(ctx, tx, markForwardedSQL)
		if err != nil {
			return err
		}
		for _, k := range keys {
			pid, ok, err := s.projectID(ctx, k.Project)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if _, err := st.ExecContext(ctx, pid, keyID(k.SpanID), k.Version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: mark forwarded: %w", err)
	}
	return nil
}
