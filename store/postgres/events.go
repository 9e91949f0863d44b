package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
)

// AddEvent implements store.Store. An event of a span belongs to that
// span's trace (a TraceID naming another trace is ErrNotFound); an event
// without a span needs its trace to exist.
func (s *Store) AddEvent(ctx context.Context, project string, e store.Event) (store.Event, error) {
	if e.SpanID == "" && e.TraceID == "" {
		return store.Event{}, errors.New("postgres: add event: no span or trace id")
	}
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Event{}, err
	}
	if !ok {
		return store.Event{}, store.ErrNotFound
	}
	e.ID, e.CreatedAt = uuid.NewString(), now()
	e.SpanID, e.TraceID, e.Kind, e.Source = txt(e.SpanID), txt(e.TraceID), txt(e.Kind), txt(e.Source)
	err = s.inTx(ctx, "add event", func(tx pgx.Tx) error {
		if e.SpanID != "" {
			var tid string
			err := tx.QueryRow(ctx, `SELECT trace_id FROM spans WHERE project = $1 AND span_id = $2 FOR SHARE`, pid, e.SpanID).Scan(&tid)
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			if e.TraceID != "" && e.TraceID != tid {
				return store.ErrNotFound
			}
			e.TraceID = tid
		} else if ok, err := traceExists(ctx, tx, pid, e.TraceID); err != nil || !ok {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO events (id, project, trace_id, span_id, kind, source, data, created_ns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.ID, pid, e.TraceID, nonEmpty(e.SpanID), e.Kind, e.Source, e.Data, e.CreatedAt.UnixNano())
		return err
	})
	if err != nil {
		return store.Event{}, err
	}
	return e, nil
}

func traceExists(ctx context.Context, tx pgx.Tx, pid int32, traceID string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM traces WHERE project = $1 AND trace_id = $2`, pid, traceID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ListEvents implements store.Store. An unknown span, or an unknown trace
// when spanID is empty, is ErrNotFound; a known one without events gives
// an empty list.
func (s *Store) ListEvents(ctx context.Context, project, traceID, spanID, kind string) ([]store.Event, error) {
	if spanID == "" && traceID == "" {
		return nil, errors.New("postgres: list events: no span or trace id")
	}
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, store.ErrNotFound
	}
	traceID, spanID = txt(traceID), txt(spanID)
	var out []store.Event
	err = pgx.BeginTxFunc(ctx, s.pool, snapshot, func(tx pgx.Tx) error {
		out = []store.Event{}
		q := `SELECT id, trace_id, coalesce(span_id, ''), kind, source, data, created_ns FROM events WHERE project = $1`
		args := []any{pid}
		var ok bool
		var err error
		if spanID != "" {
			ok, err = spanExists(ctx, tx, pid, spanID, false)
			args = append(args, spanID)
			q += ` AND span_id = $2`
			if traceID != "" {
				args = append(args, traceID)
				q += ` AND trace_id = $3`
			}
		} else {
			ok, err = traceExists(ctx, tx, pid, traceID)
			args = append(args, traceID)
			q += ` AND trace_id = $2`
		}
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if kind != "" {
			args = append(args, txt(kind))
			q += ` AND kind = $` + strconv.Itoa(len(args))
		}
		rows, err := tx.Query(ctx, q+` ORDER BY seq`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e store.Event
			var created int64
			if err := rows.Scan(&e.ID, &e.TraceID, &e.SpanID, &e.Kind, &e.Source, &e.Data, &created); err != nil {
				return err
			}
			e.CreatedAt = spanrow.FromNanos(&created)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap("list events", err)
	}
	return out, nil
}
