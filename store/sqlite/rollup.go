package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
	"github.com/opperotel/bridge/translator"
)

// The roll-up reads only the columns translator.RollUp looks at, not the
// span bodies: a trace of 50 spans costs one index range and no decoding.
const lightSpansSQL = `
SELECT span_id, parent_id, start_ns, end_ns, type, name, has_error, usage_total, aggregate, cost, trace_name, tags, model
FROM spans WHERE project = ? AND trace_id = ?`

const upsertTraceSQL = `
INSERT INTO traces (project, trace_id, start_ns, end_ns, duration_ns, status, cost, name, name_lower,
	has_cost, span_count, error_spans, total_tokens, type_counts, tags, root_id, model_usage)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, trace_id) DO UPDATE SET
	start_ns = excluded.start_ns, end_ns = excluded.end_ns, duration_ns = excluded.duration_ns,
	status = excluded.status, cost = excluded.cost, name = excluded.name, name_lower = excluded.name_lower,
	has_cost = excluded.has_cost, span_count = excluded.span_count, error_spans = excluded.error_spans,
	total_tokens = excluded.total_tokens, type_counts = excluded.type_counts, tags = excluded.tags,
	root_id = excluded.root_id, model_usage = excluded.model_usage`

const (
	traceTagsSQL      = `SELECT tags FROM traces WHERE project = ? AND trace_id = ?`
	deleteTraceSQL    = `DELETE FROM traces WHERE project = ? AND trace_id = ?`
	addTraceTagSQL    = `INSERT OR IGNORE INTO trace_tags (project, tag, trace_id) VALUES (?, ?, ?)`
	removeTraceTagSQL = `DELETE FROM trace_tags WHERE project = ? AND tag = ? AND trace_id = ?`
	deleteFacetsSQL   = `DELETE FROM trace_facets WHERE project = ? AND trace_id = ?`
)

// light is what the roll-up reads of a span: the spans table's columns
// without the body.
type light struct {
	id, parent, typ, name, traceName string
	model                            string
	start, end                       time.Time
	usage                            int64
	cost                             float64
	hasUsage, hasCost, hasErr, agg   bool
	tags                             []byte // the tags column
}

// lightOf takes what the roll-up needs of a span about to be written,
// times at the precision the columns keep.
func lightOf(sp *translator.Span, tags any) light {
	l := light{id: sp.ID, parent: sp.ParentID, typ: sp.Type, name: sp.Name, hasErr: sp.Error != nil,
		agg: sp.Aggregate, start: columnTime(sp.StartTime), end: columnTime(sp.EndTime), model: sp.Model}
	if v, ok := sp.Meta.Value(translator.MetaTraceName).(string); ok && v != "" {
		l.traceName = v
	}
	if sp.Usage != nil {
		l.usage, l.hasUsage = sp.Usage.Total, true
	}
	if sp.Cost != nil {
		l.cost, l.hasCost = *sp.Cost, true
	}
	l.tags, _ = tags.([]byte)
	return l
}

// columnTime is t as it reads back from a nanosecond column.
func columnTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

var errMarker = new(string)

// rollUpLights is translator.RollUp and translator.UsageByModel over light
// spans of trace tid. The spans it builds live in scratch, a buffer the
// single writer reuses.
func rollUpLights(tid string, lights []light, scratch *[]translator.Span) (translator.TraceSummary, []translator.ModelUsage) {
	if cap(*scratch) < len(lights) {
		*scratch = make([]translator.Span, len(lights), max(len(lights), 64))
	}
	spans := (*scratch)[:len(lights)]
	clear(spans)
	for i := range lights {
		l, sp := &lights[i], &spans[i]
		sp.TraceID, sp.ID, sp.ParentID, sp.Type, sp.Name = tid, l.id, l.parent, l.typ, l.name
		sp.StartTime, sp.EndTime, sp.Aggregate, sp.Model = l.start, l.end, l.agg, l.model
		if l.hasErr {
			sp.Error = errMarker
		}
		if l.hasUsage {
			sp.Usage = &translator.Usage{Total: l.usage}
		}
		if l.hasCost {
			sp.Cost = &l.cost
		}
		if l.traceName != "" {
			sp.Meta = translator.Meta{{Key: translator.MetaTraceName, Value: l.traceName}}
		}
	}
	return translator.RollUpWithUsage(spans)
}

// rootTags decodes the tags column of the roll-up's root.
func rootTags(lights []light, sum *translator.TraceSummary) ([]string, error) {
	for i := range lights {
		if lights[i].id == sum.RootID {
			return spanrow.DecodeStrings(lights[i].tags)
		}
	}
	return nil, nil
}

// rollUpCached rewrites the roll-up of an existing trace from its cached
// light spans and the batch's spans of it (idx into spans and enc), without
// reading the table. It reports false, having written nothing, when the
// trace is not cached.
func (s *Store) rollUpCached(ctx context.Context, tx *sql.Tx, pid int64, tid string, spans []translator.Span,
	enc []encoded, idx []int) (bool, error) {
	e, ok := s.rollups.get(pid, tid)
	if !ok {
		return false, nil
	}
	lights := make([]light, len(e.spans), len(e.spans)+len(idx))
	copy(lights, e.spans)
	pos := make(map[string]int, len(lights))
	for k := range lights {
		pos[lights[k].id] = k
	}
	for _, i := range idx {
		l := lightOf(&spans[i], enc[i].args[argTags])
		if k, ok := pos[l.id]; ok {
			lights[k] = l
		} else {
			pos[l.id] = len(lights)
			lights = append(lights, l)
		}
	}
	sum, usage := rollUpLights(tid, lights, &s.rollups.scratch)
	newTags, err := rootTags(lights, &sum)
	if err != nil {
		return false, fmt.Errorf("trace %s: root tags: %w", tid, err)
	}
	if err := s.writeTrace(ctx, tx, pid, keyID(tid), sum, usage, newTags, e.tags); err != nil {
		return false, err
	}
	s.rollups.stage(pid, tid, lights, newTags)
	return true, nil
}

// refreshTrace recomputes the stored roll-up of one trace from its spans
// in the table, or removes it when the trace has no spans left.
func (s *Store) refreshTrace(ctx context.Context, tx *sql.Tx, pid int64, traceID string) error {
	tid := keyID(traceID)
	st, err := s.stmt(ctx, tx, lightSpansSQL)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, pid, tid)
	if err != nil {
		return fmt.Errorf("read trace %s: %w", traceID, err)
	}
	lights := make([]light, 0, 64)
	for rows.Next() {
		var (
			l                 light
			id, parent        any
			start, end, usage *int64
			cost              *float64
			traceName, model  *string
		)
		if err := rows.Scan(&id, &parent, &start, &end, &l.typ, &l.name, &l.hasErr, &usage, &l.agg,
			&cost, &traceName, &l.tags, &model); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read trace %s: %w", traceID, err)
		}
		l.id = idString(id)
		if parent != nil {
			l.parent = idString(parent)
		}
		l.start, l.end = spanrow.FromNanos(start), spanrow.FromNanos(end)
		if usage != nil {
			l.usage, l.hasUsage = *usage, true
		}
		if cost != nil {
			l.cost, l.hasCost = *cost, true
		}
		if traceName != nil {
			l.traceName = *traceName
		}
		if model != nil {
			l.model = *model
		}
		lights = append(lights, l)
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
	if len(lights) == 0 {
		del, err := s.stmt(ctx, tx, deleteTraceSQL)
		if err != nil {
			return err
		}
		if _, err := del.ExecContext(ctx, pid, tid); err != nil {
			return fmt.Errorf("delete trace %s: %w", traceID, err)
		}
		s.rollups.stage(pid, traceID, nil, nil)
		facets, err := s.stmt(ctx, tx, deleteFacetsSQL)
		if err != nil {
			return err
		}
		if _, err := facets.ExecContext(ctx, pid, tid); err != nil {
			return fmt.Errorf("delete trace %s facets: %w", traceID, err)
		}
		return s.setTraceTags(ctx, tx, pid, tid, oldTags, nil)
	}

	sum, usage := rollUpLights(traceID, lights, &s.rollups.scratch)
	newTags, err := rootTags(lights, &sum)
	if err != nil {
		return fmt.Errorf("trace %s: root tags: %w", traceID, err)
	}
	if err := s.writeTrace(ctx, tx, pid, tid, sum, usage, newTags, oldTags); err != nil {
		return err
	}
	s.rollups.stage(pid, traceID, lights, newTags)
	return nil
}

// writeTrace stores a roll-up and the trace's usage by model; newTags are
// the root's tags, oldTags those the trace row had.
func (s *Store) writeTrace(ctx context.Context, tx *sql.Tx, pid int64, tid any, sum translator.TraceSummary,
	usage []translator.ModelUsage, newTags, oldTags []string) error {
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
		tagsCol = spanrow.AppendStrings(nil, newTags)
	}
	if _, err := upsert.ExecContext(ctx, pid, tid, nanos(sum.StartTime), nanos(sum.EndTime), int64(sum.Duration()),
		sum.Status, sum.Cost, sum.Name, strings.ToLower(sum.Name), hasCost, sum.SpanCount, sum.ErrorSpans,
		sum.TotalTokens, spanrow.AppendTypeCounts(nil, sum.TypeCounts), tagsCol, keyID(sum.RootID), spanrow.AppendModelUsage(nil, usage)); err != nil {
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
	return spanrow.DecodeStrings(raw)
}

// setTraceTags brings trace_tags from old to new.
func (s *Store) setTraceTags(ctx context.Context, tx *sql.Tx, pid int64, tid any, old, new []string) error {
	for _, t := range old {
		if !slices.Contains(new, t) {
			st, err := s.stmt(ctx, tx, removeTraceTagSQL)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, pid, t, tid); err != nil {
				return fmt.Errorf("write trace tags: %w", err)
			}
		}
	}
	for _, t := range new {
		if !slices.Contains(old, t) {
			st, err := s.stmt(ctx, tx, addTraceTagSQL)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, pid, t, tid); err != nil {
				return fmt.Errorf("write trace tags: %w", err)
			}
		}
	}
	return nil
}

// addFacets records the facets of a batch's spans, each (trace, facet)
// once, in multi-row statements: one row a statement cost most of it.
func (s *Store) addFacets(ctx context.Context, tx *sql.Tx, pid int64, spans []translator.Span, byTrace map[string][]int) error {
	var args []any
	for tid, idx := range byTrace {
		var seen []string
		for _, i := range idx {
			for _, f := range store.Facets(&spans[i]) {
				if !slices.Contains(seen, f) {
					seen = append(seen, f)
					args = append(args, pid, f, keyID(tid))
				}
			}
		}
	}
	for len(args) > 0 {
		rows := 1
		for _, n := range chunkSizes {
			if n*3 <= len(args) {
				rows = n
				break
			}
		}
		st, err := s.stmt(ctx, tx, addFacetsByRows[rows])
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args[:rows*3]...); err != nil {
			return fmt.Errorf("write trace facets: %w", err)
		}
		args = args[rows*3:]
	}
	return nil
}

// addFacetsByRows holds the facet insert for each chunk size.
var addFacetsByRows = func() map[int]string {
	m := make(map[int]string, len(chunkSizes))
	for _, n := range chunkSizes {
		m[n] = `INSERT OR IGNORE INTO trace_facets (project, facet, trace_id) VALUES ` + placeholders(n, 3)
	}
	return m
}()
