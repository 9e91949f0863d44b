package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
	"github.com/opperotel/bridge/translator"
)

const metricColumns = `id, span_id, dimension, value, comment, created_ns`

func scanMetric(row interface{ Scan(...any) error }) (store.Metric, error) {
	var m store.Metric
	var id, spanID any
	var created int64
	if err := row.Scan(&id, &spanID, &m.Dimension, &m.Value, &m.Comment, &created); err != nil {
		return m, err
	}
	m.ID, m.SpanID = idString(id), idString(spanID)
	m.CreatedAt = spanrow.FromNanos(&created)
	return m, nil
}

// spanExists reports whether the span is stored in the project.
func spanExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, pid int64, spanID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM spans WHERE project = ? AND span_id = ?`, pid, keyID(spanID)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// now is the creation time the store assigns, at the precision it keeps.
func now() time.Time { return time.Unix(0, time.Now().UnixNano()).UTC() }

// CreateMetric implements store.Store.
func (s *Store) CreateMetric(ctx context.Context, project, spanID string, m store.Metric) (store.Metric, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Metric{}, err
	}
	if !ok {
		return store.Metric{}, store.ErrNotFound
	}
	given := m.ID != ""
	if !given {
		m.ID = uuid.NewString()
	}
	m.SpanID, m.CreatedAt = spanID, now()
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if ok, err := spanExists(ctx, tx, pid, spanID); err != nil || !ok {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		if given {
			// Idempotent: a stored id answers with what is stored.
			stored, err := scanMetric(tx.QueryRowContext(ctx, `SELECT `+metricColumns+` FROM metrics
WHERE project = ? AND id = ?`, pid, keyID(m.ID)))
			switch {
			case err == nil && stored.SpanID != idString(keyID(spanID)):
				return store.ErrConflict
			case err == nil:
				m = stored
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO metrics (id, project, span_id, dimension, value, comment, created_ns)
VALUES (?, ?, ?, ?, ?, ?, ?)`, keyID(m.ID), pid, keyID(spanID), m.Dimension, m.Value, m.Comment, m.CreatedAt.UnixNano())
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return store.Metric{}, err
	}
	if err != nil {
		return store.Metric{}, fmt.Errorf("sqlite: create metric: %w", err)
	}
	return m, nil
}

// metricRowsPerInsert bounds one statement of upsertSpanMetrics: 7 values
// a row stay far below SQLite's limit of bound variables.
const metricRowsPerInsert = 256

// upsertSpanMetrics stores the metrics the spans carry, in UpsertSpans's
// transaction. Insert-if-absent by (project, id): a replay adds nothing,
// keeps the creation time and leaves edits made through UpdateMetric
// alone. Which metrics, under which ids, is store.SpanMetrics's.
func upsertSpanMetrics(ctx context.Context, tx *sql.Tx, pid int64, spans []translator.Span) error {
	var args []any
	rows := 0
	created := now().UnixNano()
	flush := func() error {
		if rows == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO metrics (id, project, span_id, dimension, value, comment, created_ns)
VALUES `+placeholders(rows, 7)+` ON CONFLICT (project, id) DO NOTHING`, args...)
		args, rows = args[:0], 0
		return err
	}
	for m := range store.SpanMetrics(spans) {
		args = append(args, keyID(m.ID), pid, keyID(m.SpanID), m.Dimension, m.Value, m.Comment, created)
		if rows++; rows == metricRowsPerInsert {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// ListMetrics implements store.Store; a limit <= 0 returns every metric
// from offset on.
func (s *Store) ListMetrics(ctx context.Context, project, spanID string, offset, limit int) ([]store.Metric, int64, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, store.ErrNotFound
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	offset = max(offset, 0)
	var total int64
	out := []store.Metric{}
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		if ok, err := spanExists(ctx, tx, pid, spanID); err != nil || !ok {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		sid := keyID(spanID)
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM metrics WHERE project = ? AND span_id = ?`, pid, sid).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+metricColumns+` FROM metrics WHERE project = ? AND span_id = ?
ORDER BY seq LIMIT ? OFFSET ?`, pid, sid, limit, offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMetric(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list metrics: %w", err)
	}
	return out, total, nil
}

// GetMetric implements store.Store.
func (s *Store) GetMetric(ctx context.Context, project, spanID, metricID string) (store.Metric, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Metric{}, err
	}
	if !ok {
		return store.Metric{}, store.ErrNotFound
	}
	m, err := scanMetric(s.r.QueryRowContext(ctx, `SELECT `+metricColumns+` FROM metrics
WHERE project = ? AND id = ? AND span_id = ?`, pid, keyID(metricID), keyID(spanID)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Metric{}, store.ErrNotFound
	}
	if err != nil {
		return store.Metric{}, fmt.Errorf("sqlite: get metric: %w", err)
	}
	return m, nil
}

// UpdateMetric implements store.Store.
func (s *Store) UpdateMetric(ctx context.Context, project, spanID, metricID string, u store.MetricUpdate) (store.Metric, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Metric{}, err
	}
	if !ok {
		return store.Metric{}, store.ErrNotFound
	}
	var m store.Metric
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		m, err = scanMetric(tx.QueryRowContext(ctx, `UPDATE metrics SET
	dimension = coalesce(?1, dimension),
	value = coalesce(?2, value),
	comment = CASE WHEN ?3 THEN ?4 ELSE comment END
WHERE project = ?5 AND id = ?6 AND span_id = ?7
RETURNING `+metricColumns, u.Dimension, u.Value, u.Comment != nil, u.Comment, pid, keyID(metricID), keyID(spanID)))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Metric{}, store.ErrNotFound
	}
	if err != nil {
		return store.Metric{}, fmt.Errorf("sqlite: update metric: %w", err)
	}
	return m, nil
}

// DeleteMetric implements store.Store.
func (s *Store) DeleteMetric(ctx context.Context, project, spanID, metricID string) error {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	var n int64
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM metrics WHERE project = ? AND id = ? AND span_id = ?`,
			pid, keyID(metricID), keyID(spanID))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete metric: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
