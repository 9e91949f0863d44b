package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/opperotel/bridge/translator"
)

// The roll-up reads only the columns translator.RollUp looks at, not the
// span bodies: a trace of 50 spans costs one index range and no decoding.
const lightSpansSQL = `
SELECT span_id, parent_id, start_ns, end_ns, type, name, has_error, usage_total, aggregate, cost, trace_name, tags
FROM spans WHERE project = ? AND trace_id = ?`

const upsertTraceSQL = `
INSERT INTO traces (project, trace_id, start_ns, end_ns, duration_ns, status, cost, name, name_lower,
	has_cost, span_count, error_spans, total_tokens, type_counts, tags, root_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, trace_id) DO UPDATE SET
	start_ns = excluded.start_ns, end_ns = excluded.end_ns, duration_ns = excluded.duration_ns,
	status = excluded.status, cost = excluded.cost, name = excluded.name, name_lower = excluded.name_lower,
	has_cost = excluded.has_cost, span_count = excluded.span_count, error_spans = excluded.error_spans,
	total_tokens = excluded.total_tokens, type_counts = excluded.type_counts, tags = excluded.tags,
	root_id = excluded.root_id`

const traceTagsSQL = `SELECT tags FROM traces WHERE project = ? AND trace_id = ?`

// refreshTrace recomputes the stored roll-up of one trace with
// translator.RollUp, or removes it when the trace has no spans left.
func (s *Store) refreshTrace(ctx context.Context, tx *sql.Tx, pid int64, traceID string) error {
	tid := keyID(traceID)
	light, err := s.stmt(ctx, tx, lightSpansSQL)
	if err != nil {
		return err
	}
	rows, err := light.QueryContext(ctx, pid, tid)
	if err != nil {
		return fmt.Errorf("read trace %s: %w", traceID, err)
	}
	spans := make([]translator.Span, 0, 64)
	var rawTags [][]byte
	for rows.Next() {
		var (
			sp                translator.Span
			id, parent        any
			start, end, usage *int64
			hasErr, aggregate bool
			cost              *float64
			traceName         *string
			tags              []byte
			errMarker         string
		)
		if err := rows.Scan(&id, &parent, &start, &end, &sp.Type, &sp.Name, &hasErr, &usage, &aggregate,
			&cost, &traceName, &tags); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read trace %s: %w", traceID, err)
		}
		sp.TraceID, sp.ID = traceID, idString(id)
		if parent != nil {
			sp.ParentID = idString(parent)
		}
		sp.StartTime, sp.EndTime = fromNanos(start), fromNanos(end)
		if hasErr {
			sp.Error = &errMarker
		}
		if usage != nil {
			sp.Usage = &translator.Usage{Total: *usage}
		}
		sp.Aggregate, sp.Cost = aggregate, cost
		if traceName != nil {
			sp.Meta = map[string]any{"trace_name": *traceName}
		}
		spans = append(spans, sp)
		rawTags = append(rawTags, tags)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read trace %s: %w", traceID, err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read trace %s: %w", traceID, err)
	}

	oldTags, err := s.traceTags(ctx, tx, pid, tid)
	if err != nil {
		return err
	}
	if len(spans) == 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM traces WHERE project = ? AND trace_id = ?`, pid, tid); err != nil {
			return fmt.Errorf("delete trace %s: %w", traceID, err)
		}
		return s.setTraceTags(ctx, tx, pid, tid, oldTags, nil)
	}

	sum := translator.RollUp(spans)
	// The root's tags were left out of the light spans: decode them once.
	var tagsCol []byte
	for i := range spans {
		if spans[i].ID == sum.RootID {
			tagsCol = rawTags[i]
			break
		}
	}
	newTags, err := decodeStrings(tagsCol)
	if err != nil {
		return fmt.Errorf("trace %s: root tags: %w", traceID, err)
	}
	return s.writeTrace(ctx, tx, pid, tid, sum, newTags, oldTags)
}

// writeTrace stores a roll-up; newTags are the root's tags, oldTags those
// the trace row had.
func (s *Store) writeTrace(ctx context.Context, tx *sql.Tx, pid int64, tid any, sum translator.TraceSummary, newTags, oldTags []string) error {
	upsert, err := s.stmt(ctx, tx, upsertTraceSQL)
	if err != nil {
		return err
	}
	var hasCost int
	if sum.HasCost {
		hasCost = 1
	}
	var tagsCol []byte
	if newTags != nil {
		tagsCol = appendStrings(nil, newTags)
	}
	if _, err := upsert.ExecContext(ctx, pid, tid, nanos(sum.StartTime), nanos(sum.EndTime), int64(sum.Duration()),
		sum.Status, sum.Cost, sum.Name, strings.ToLower(sum.Name), hasCost, sum.SpanCount, sum.ErrorSpans,
		sum.TotalTokens, appendTypeCounts(nil, sum.TypeCounts), tagsCol, keyID(sum.RootID)); err != nil {
		return fmt.Errorf("write trace %s: %w", sum.TraceID, err)
	}
	return s.setTraceTags(ctx, tx, pid, tid, oldTags, newTags)
}

// traceTags returns the root tags the trace row records.
func (s *Store) traceTags(ctx context.Context, tx *sql.Tx, pid int64, tid any) ([]string, error) {
	st, err := s.stmt(ctx, tx, traceTagsSQL)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if err := st.QueryRowContext(ctx, pid, tid).Scan(&raw); err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read trace tags: %w", err)
	}
	return decodeStrings(raw)
}

// setTraceTags brings trace_tags from old to new.
func (s *Store) setTraceTags(ctx context.Context, tx *sql.Tx, pid int64, tid any, old, new []string) error {
	for _, t := range old {
		if !slices.Contains(new, t) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM trace_tags WHERE project = ? AND tag = ? AND trace_id = ?`, pid, t, tid); err != nil {
				return fmt.Errorf("write trace tags: %w", err)
			}
		}
	}
	for _, t := range new {
		if !slices.Contains(old, t) {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO trace_tags (project, tag, trace_id) VALUES (?, ?, ?)`, pid, t, tid); err != nil {
				return fmt.Errorf("write trace tags: %w", err)
			}
		}
	}
	return nil
}

// decodeStrings reads a column written by appendStrings; NULL is nil.
func decodeStrings(b []byte) ([]string, error) {
	if b == nil {
		return nil, nil
	}
	d := decoder{b: b}
	ss := d.strings()
	return ss, d.err
}

// appendTypeCounts writes span counts by type, sorted by type.
func appendTypeCounts(b []byte, counts map[string]int64) []byte {
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	slices.SortFunc(types, cmp.Compare)
	b = appendLen(b, false, len(types))
	for _, t := range types {
		b = appendString(b, t)
		b = binary.AppendVarint(b, counts[t])
	}
	return b
}

func decodeTypeCounts(b []byte) (map[string]int64, error) {
	d := decoder{b: b}
	n, _ := d.length()
	m := make(map[string]int64, n)
	for range n {
		t := d.string()
		m[t] = d.varint()
	}
	return m, d.err
}
