package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
)

// AddEvent implements store.Store. An event of a span belongs to that
// span's trace (a TraceID naming another trace is ErrNotFound); an event
// without a span needs its trace to exist.
func (s *Store) AddEvent(ctx context.Context, project string, e store.Event) (store.Event, error) {
	if e.SpanID == "" && e.TraceID == "" {
		return store.Event{}, errors.New("sqlite: add event: no span or trace id")
	}
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Event{}, err
	}
	if !ok {
		return store.Event{}, store.ErrNotFound
	}
	e.ID, e.CreatedAt = uuid.NewString(), now()
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if e.SpanID != "" {
			var tid any
			err := tx.QueryRowContext(ctx, `SELECT trace_id FROM spans WHERE project = ? AND span_id = ?`,
				pid, keyID(e.SpanID)).Scan(&tid)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			if e.TraceID != "" && e.TraceID != idString(tid) {
				return store.ErrNotFound
			}
			e.TraceID = idString(tid)
		} else if ok, err := traceExists(ctx, tx, pid, e.TraceID); err != nil || !ok {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		var spanID any
		if e.SpanID != "" {
			spanID = keyID(e.SpanID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO events (id, project, trace_id, span_id, kind, source, data, created_ns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, keyID(e.ID), pid, keyID(e.TraceID), spanID, e.Kind, e.Source, e.Data, e.CreatedAt.UnixNano())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Event{}, err
	}
	if err != nil {
		return store.Event{}, fmt.Errorf("sqlite: add event: %w", err)
	}
	return e, nil
}

func traceExists(ctx context.Context, tx *sql.Tx, pid int64, traceID string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM traces WHERE project = ? AND trace_id = ?`, pid, keyID(traceID)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ListEvents implements store.Store. An unknown span, or an unknown trace
// when spanID is empty, is ErrNotFound; a known one without events gives
// an empty list.
func (s *Store) ListEvents(ctx context.Context, project, traceID, spanID, kind string) ([]store.Event, error) {
	if spanID == "" && traceID == "" {
		return nil, errors.New("sqlite: list events: no span or trace id")
	}
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, store.ErrNotFound
	}
	out := []store.Event{}
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		var ok bool
		var err error
		q := `SELECT id, trace_id, span_id, kind, source, data, created_ns FROM events WHERE project = ?`
		args := []any{pid}
		if spanID != "" {
			ok, err = spanExists(ctx, tx, pid, spanID)
			q += ` AND span_id = ?`
			args = append(args, keyID(spanID))
			if traceID != "" {
				q += ` AND trace_id = ?`
				args = append(args, keyID(traceID))
			}
		} else {
			ok, err = traceExists(ctx, tx, pid, traceID)
			q += ` AND trace_id = ?`
			args = append(args, keyID(traceID))
		}
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if kind != "" {
			q += ` AND kind = ?`
			args = append(args, kind)
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY seq`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e store.Event
			var id, tid, sid any
			var created int64
			if err := rows.Scan(&id, &tid, &sid, &e.Kind, &e.Source, &e.Data, &created); err != nil {
				return err
			}
			e.ID, e.TraceID, e.SpanID = idString(id), idString(tid), idString(sid)
			e.CreatedAt = spanrow.FromNanos(&created)
			out = append(out, e)
		}
		return rows.Err()
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	return out, nil
}
