package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
)

const metricColumns = `id, span_id, dimension, value, comment, created_ns`

func scanMetric(row pgx.Row) (store.Metric, error) {
	var m store.Metric
	var created int64
	if err := row.Scan(&m.ID, &m.SpanID, &m.Dimension, &m.Value, &m.Comment, &created); err != nil {
		return m, err
	}
	m.CreatedAt = spanrow.FromNanos(&created)
	return m, nil
}

// spanExists reports whether the span is stored in the project; FOR SHARE
// in a write keeps it from being deleted until the write commits.
func spanExists(ctx context.Context, tx pgx.Tx, pid int32, spanID string, lock bool) (bool, error) {
	q := `SELECT 1 FROM spans WHERE project = $1 AND span_id = $2`
	if lock {
		q += ` FOR SHARE`
	}
	var one int
	err := tx.QueryRow(ctx, q, pid, spanID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CreateMetric implements store.Store. With an id it is idempotent: a
// concurrent create of the same id from another replica waits on the
// unique index and then finds the stored metric.
func (s *Store) CreateMetric(ctx context.Context, project, spanID string, m store.Metric) (store.Metric, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Metric{}, err
	}
	if !ok {
		return store.Metric{}, store.ErrNotFound
	}
	spanID = txt(spanID)
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	m.ID, m.Dimension = txt(m.ID), txt(m.Dimension)
	if m.Comment != nil {
		c := txt(*m.Comment)
		m.Comment = &c
	}
	m.SpanID, m.CreatedAt = spanID, now()
	err = s.inTx(ctx, "create metric", func(tx pgx.Tx) error {
		if ok, err := spanExists(ctx, tx, pid, spanID, true); err != nil || !ok {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO metrics (id, project, span_id, dimension, value, comment, created_ns)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project, id) DO NOTHING`,
			m.ID, pid, spanID, m.Dimension, m.Value, m.Comment, m.CreatedAt.UnixNano())
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		stored, err := scanMetric(tx.QueryRow(ctx, `SELECT `+metricColumns+` FROM metrics WHERE project = $1 AND id = $2`, pid, m.ID))
		if err != nil {
			return err
		}
		if stored.SpanID != spanID {
			return store.ErrConflict
		}
		m = stored
		return nil
	})
	if err != nil {
		return store.Metric{}, err
	}
	return m, nil
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
	spanID = txt(spanID)
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	var total int64
	var out []store.Metric
	err = pgx.BeginTxFunc(ctx, s.pool, snapshot, func(tx pgx.Tx) error {
		out = []store.Metric{}
		if ok, err := spanExists(ctx, tx, pid, spanID, false); err != nil || !ok {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM metrics WHERE project = $1 AND span_id = $2`, pid, spanID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+metricColumns+` FROM metrics WHERE project = $1 AND span_id = $2
ORDER BY seq LIMIT $3 OFFSET $4`, pid, spanID, lim, max(offset, 0))
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
	if err != nil {
		return nil, 0, wrap("list metrics", err)
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
	m, err := scanMetric(s.pool.QueryRow(ctx, `SELECT `+metricColumns+` FROM metrics
WHERE project = $1 AND id = $2 AND span_id = $3`, pid, txt(metricID), txt(spanID)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Metric{}, store.ErrNotFound
	}
	if err != nil {
		return store.Metric{}, wrap("get metric", err)
	}
	return m, nil
}

// UpdateMetric implements store.Store in one statement.
func (s *Store) UpdateMetric(ctx context.Context, project, spanID, metricID string, u store.MetricUpdate) (store.Metric, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Metric{}, err
	}
	if !ok {
		return store.Metric{}, store.ErrNotFound
	}
	var dim, comment *string
	if u.Dimension != nil {
		d := txt(*u.Dimension)
		dim = &d
	}
	if u.Comment != nil {
		c := txt(*u.Comment)
		comment = &c
	}
	m, err := scanMetric(s.pool.QueryRow(ctx, `UPDATE metrics SET
	dimension = coalesce($1, dimension),
	value = coalesce($2, value),
	comment = CASE WHEN $3 THEN $4 ELSE comment END
WHERE project = $5 AND id = $6 AND span_id = $7
RETURNING `+metricColumns, dim, u.Value, u.Comment != nil, comment, pid, txt(metricID), txt(spanID)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Metric{}, store.ErrNotFound
	}
	if err != nil {
		return store.Metric{}, wrap("update metric", err)
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM metrics WHERE project = $1 AND id = $2 AND span_id = $3`, pid, txt(metricID), txt(spanID))
	if err != nil {
		return wrap("delete metric", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
