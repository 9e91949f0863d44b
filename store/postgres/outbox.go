package postgres

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opperotel/bridge/store"
)

// leaseSQL takes up to $4 due spans of one kind ($1: pending 1 complete,
// 0 running; $2: written before) that no other store holds a live lease
// on, and leases them to this store ($3) until $5 from now. SKIP LOCKED:
// two replicas asking at once get different spans instead of waiting for
// each other. A span this store leased already comes back to it (a retry
// after the pipeline refused it), with its lease renewed.
const leaseSQL = `
WITH due AS (
	SELECT project, span_id FROM spans
	WHERE pending = $1 AND written_ns < $2
		AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $3)
	ORDER BY written_ns
	LIMIT $4
	FOR UPDATE SKIP LOCKED
)
UPDATE spans s SET lease_owner = $3, lease_until = now() + $5::interval
FROM due
WHERE s.project = due.project AND s.span_id = due.span_id
RETURNING (SELECT name FROM projects p WHERE p.id = s.project), s.span_id, s.version, s.written_ns, s.input,
	s.output, s.body`

// markForwardedSQL takes entries off the queue only if the span was not
// written again since it was read (the version), records how it went out,
// and ends the lease.
const markForwardedSQL = `
UPDATE spans s SET forwarded = CASE s.pending WHEN 1 THEN 2 ELSE greatest(s.forwarded, 1) END, pending = NULL,
	lease_owner = NULL, lease_until = NULL
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(project, span_id, version)
JOIN projects p ON p.name = k.project
WHERE s.project = p.id AND s.span_id = k.span_id AND s.version = k.version AND s.pending IS NOT NULL`

// PendingForward implements store.Store for several replicas: what it
// returns is leased to this store (renewed while it is open, released by
// Close), so another replica's PendingForward skips it until MarkForwarded
// or until the lease runs out, OutboxLease after this store died.
func (s *Store) PendingForward(ctx context.Context, limit int, incompleteBefore time.Time) ([]store.Pending, error) {
	if limit <= 0 {
		return nil, nil
	}
	type row struct {
		p       store.Pending
		written int64
	}
	var out []store.Pending
	for _, pass := range [...]struct {
		pending int16
		before  int64
	}{{1, math.MaxInt64}, {0, incompleteBefore.UnixNano()}} {
		if len(out) >= limit {
			break
		}
		var got []row
		err := s.inTx(ctx, "pending forward", func(tx pgx.Tx) error {
			got = got[:0]
			rows, err := tx.Query(ctx, leaseSQL, pass.pending, pass.before, s.owner, limit-len(out), s.lease)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r row
				var input, output, body []byte
				if err := rows.Scan(&r.p.Key.Project, &r.p.Key.SpanID, &r.p.Key.Version, &r.written, &input, &output, &body); err != nil {
					return err
				}
				if r.p.Span, err = decodeSpan(input, output, body); err != nil {
					return err
				}
				r.p.Incomplete = pass.pending == 0
				got = append(got, r)
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
		// RETURNING has no order; the oldest write goes first.
		slices.SortFunc(got, func(a, b row) int { return cmp.Compare(a.written, b.written) })
		for _, r := range got {
			out = append(out, r.p)
		}
	}
	return out, nil
}

// MarkForwarded implements store.Store.
func (s *Store) MarkForwarded(ctx context.Context, keys []store.PendingKey) error {
	if len(keys) == 0 {
		return nil
	}
	projects := make([]string, len(keys))
	spans := make([]string, len(keys))
	versions := make([]int64, len(keys))
	for i, k := range keys {
		projects[i], spans[i], versions[i] = k.Project, txt(k.SpanID), k.Version
	}
	_, err := s.pool.Exec(ctx, markForwardedSQL, projects, spans, versions)
	return wrap("mark forwarded", err)
}
