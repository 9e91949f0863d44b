package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
	"github.com/opperotel/bridge/translator"
)

const (
	getSpanSQL      = `SELECT input, output, body FROM spans WHERE project = ? AND span_id = ?`
	traceSpansSQL   = `SELECT input, output, body FROM spans WHERE project = ? AND trace_id = ?`
	traceMetricsSQL = `
SELECT m.id, m.span_id, m.dimension, m.value, m.comment, m.created_ns FROM metrics m
WHERE m.project = ?1 AND m.span_id IN (SELECT span_id FROM spans WHERE project = ?1 AND trace_id = ?2)
ORDER BY m.seq`
)

// scanSpan reads input, output and body into a span.
func scanSpan(row interface{ Scan(...any) error }) (translator.Span, error) {
	var sp translator.Span
	var input, output *string
	var body []byte
	if err := row.Scan(&input, &output, &body); err != nil {
		return sp, err
	}
	if err := spanrow.DecodeBody(body, &sp); err != nil {
		return sp, err
	}
	sp.Input, sp.Output = input, output
	return sp, nil
}

// GetSpan implements store.Store.
func (s *Store) GetSpan(ctx context.Context, project, spanID string) (translator.Span, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return translator.Span{}, err
	}
	if !ok {
		return translator.Span{}, store.ErrNotFound
	}
	st, err := s.readStmt(getSpanSQL)
	if err != nil {
		return translator.Span{}, err
	}
	sp, err := scanSpan(st.QueryRowContext(ctx, pid, keyID(spanID)))
	if errors.Is(err, sql.ErrNoRows) {
		return translator.Span{}, store.ErrNotFound
	}
	if err != nil {
		return translator.Span{}, fmt.Errorf("sqlite: get span: %w", err)
	}
	return sp, nil
}

// GetTrace implements store.Store. Spans with the same start time are
// ordered by id, so the order is stable.
func (s *Store) GetTrace(ctx context.Context, project, traceID string) (store.Trace, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return store.Trace{}, err
	}
	if !ok {
		return store.Trace{}, store.ErrNotFound
	}
	var tr store.Trace
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		tid := keyID(traceID)
		st, err := s.stmt(ctx, tx, traceSpansSQL)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, pid, tid)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sp, err := scanSpan(rows)
			if err != nil {
				return err
			}
			tr.Spans = append(tr.Spans, sp)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(tr.Spans) == 0 {
			return store.ErrNotFound
		}
		tr.Metrics, err = s.traceMetrics(ctx, tx, pid, tid)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Trace{}, err
	}
	if err != nil {
		return store.Trace{}, fmt.Errorf("sqlite: get trace: %w", err)
	}
	slices.SortFunc(tr.Spans, func(a, b translator.Span) int {
		if c := a.StartTime.Compare(b.StartTime); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	tr.Summary = translator.RollUp(tr.Spans)
	return tr, nil
}

func (s *Store) traceMetrics(ctx context.Context, tx *sql.Tx, pid int64, tid any) (map[string][]store.Metric, error) {
	st, err := s.stmt(ctx, tx, traceMetricsSQL)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, pid, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]store.Metric{}
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return nil, err
		}
		out[m.SpanID] = append(out[m.SpanID], m)
	}
	return out, rows.Err()
}

// ListTraces implements store.Store. The page and the count are read in
// one snapshot. Both walk the traces_list index newest first; every filter
// but the tag is evaluated on that index alone, so the count reads no
// table rows, and only the rows of the page are read in full.
func (s *Store) ListTraces(ctx context.Context, project string, q store.TraceQuery) ([]translator.TraceSummary, int64, error) {
	if err := q.CheckPage(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: list traces: %w", err)
	}
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return []translator.TraceSummary{}, 0, nil
	}
	var (
		total int64
		out   = []translator.TraceSummary{}
	)
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		// How many traces each facet filter keeps decides how it is
		// tested (traceFilter); the count of its index range is cheap.
		facets := store.QueryFacets(&q)
		sizes := make(map[string]int64, len(facets))
		for _, f := range facets {
			var n int64
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM trace_facets WHERE project = ? AND facet = ?`, pid, f).Scan(&n); err != nil {
				return fmt.Errorf("count facet: %w", err)
			}
			sizes[f] = n
		}
		from, where, args := traceFilter(pid, q, sizes)
		// Unfiltered, the count is kept; filtered, it is counted from the
		// index that bounds the filter best (traceFilter).
		countSQL, countArgs := `SELECT count(*) FROM `+from+` WHERE `+where, args
		switch {
		case q == store.TraceQuery{Limit: q.Limit, Offset: q.Offset}:
			countSQL = `SELECT coalesce((SELECT n FROM trace_counts WHERE project = ?), 0)`
		case q == store.TraceQuery{Tag: q.Tag, Limit: q.Limit, Offset: q.Offset}:
			// The tag's own index range, without looking each trace up.
			countSQL, countArgs = `SELECT count(*) FROM trace_tags WHERE project = ? AND tag = ?`, []any{pid, q.Tag}
		case len(facets) == 1 && q == store.TraceQuery{Model: q.Model, User: q.User, Session: q.Session, Service: q.Service,
			Limit: q.Limit, Offset: q.Offset}:
			countSQL, countArgs = `SELECT ?`, []any{sizes[facets[0]]}
		}
		if err := tx.QueryRowContext(ctx, countSQL, countArgs...).Scan(&total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if total <= int64(q.Offset) {
			return nil
		}
		// The page is cut from the index alone, so the rows the offset
		// skips are never read; only the page's rows and roots are, and,
		// for a root without content, its trace's generations (coalesce
		// stops at the first value, so only then).
		rows, err := tx.QueryContext(ctx, `
SELECT p.trace_id, t2.start_ns, t2.end_ns, t2.status, t2.cost, t2.name, t2.has_cost, t2.span_count,
	t2.error_spans, t2.total_tokens, t2.type_counts, t2.tags, t2.root_id,
	coalesce(s.input_head, s.input, (SELECT coalesce(g.input_head, g.input) FROM spans g
		WHERE g.project = t2.project AND g.trace_id = t2.trace_id AND g.type = 'generation' AND g.input IS NOT NULL
		ORDER BY g.start_ns LIMIT 1)),
	coalesce(s.output_head, s.output, (SELECT coalesce(g.output_head, g.output) FROM spans g
		WHERE g.project = t2.project AND g.trace_id = t2.trace_id AND g.type = 'generation' AND g.output IS NOT NULL
		ORDER BY g.start_ns DESC LIMIT 1))
FROM (SELECT t.trace_id, t.start_ns FROM `+from+` WHERE `+where+`
	ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT ? OFFSET ?) p
JOIN traces t2 ON t2.project = ? AND t2.trace_id = p.trace_id
LEFT JOIN spans s ON s.project = t2.project AND s.span_id = t2.root_id
ORDER BY p.start_ns DESC, p.trace_id DESC`, append(args, q.Limit, q.Offset, pid)...)
		if err != nil {
			return fmt.Errorf("page: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			sum, err := scanSummary(rows)
			if err != nil {
				return err
			}
			out = append(out, sum)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list traces: %w", err)
	}
	return out, total, nil
}

// traceFilter turns q into the table and WHERE clause to select traces t
// from. A name of three characters or more is looked up in the trigram
// index, and the matching rows are read by rowid: NOT INDEXED keeps the
// planner from scanning the covering list index instead, whose rows it
// would rather not read one by one (it cannot know the name is selective).
//
// A facet filter (model, user, session) that keeps few traces is read into
// a set once and the newest-first scan tests each trace against it; one
// that keeps many is looked up per candidate instead, as the page fills
// after a few: sizes holds how many traces each facet keeps.
func traceFilter(pid int64, q store.TraceQuery, sizes map[string]int64) (string, string, []any) {
	from := "traces t"
	var b strings.Builder
	args := []any{pid}
	b.WriteString("t.project = ?")
	add := func(cond string, v any) {
		b.WriteString(" AND ")
		b.WriteString(cond)
		args = append(args, v)
	}
	if q.Name != "" {
		// Three characters and more are found through the trigram index
		// (trace_names) and then checked exactly; shorter ones can only be
		// scanned for.
		// A filter the index cannot take (a NUL, which ends an FTS5 query
		// string, or bytes that are not UTF-8, which it would tokenize
		// differently) is only scanned for.
		if utf8.RuneCountInString(q.Name) >= 3 && utf8.ValidString(q.Name) && !strings.ContainsRune(q.Name, 0) {
			add("t.rowid IN (SELECT rowid FROM trace_names WHERE trace_names MATCH ?)", trigramQuery(q.Name))
			from = "traces t NOT INDEXED"
		}
		add("instr(t.name_lower, ?) > 0", strings.ToLower(q.Name))
	}
	spanrow.ColumnFilters(&q, add)
	if q.Tag != "" {
		// A look-up per candidate, not the tag's whole list built first:
		// the page is cut after the first matches of the newest-first scan.
		b.WriteString(" AND EXISTS (SELECT 1 FROM trace_tags g WHERE g.project = t.project AND g.tag = ? AND g.trace_id = t.trace_id)")
		args = append(args, q.Tag)
	}
	for _, f := range store.QueryFacets(&q) {
		if sizes[f] <= facetSetMax {
			b.WriteString(" AND t.trace_id IN (SELECT f.trace_id FROM trace_facets f WHERE f.project = ? AND f.facet = ?)")
			args = append(args, pid, f)
			continue
		}
		b.WriteString(" AND EXISTS (SELECT 1 FROM trace_facets f WHERE f.project = t.project AND f.facet = ? AND f.trace_id = t.trace_id)")
		args = append(args, f)
	}
	return from, b.String(), args
}

// facetSetMax is the most traces a facet filter keeps for it to be read
// into a set (traceFilter); a variable for the tests of the other form.
var facetSetMax int64 = 2000

// maxQueryTrigrams bounds the index look-ups of a long name filter: the
// candidates of its first trigrams are few, and instr checks them exactly.
const maxQueryTrigrams = 8

// trigramQuery is an FTS5 query for the trace names that contain every
// trigram of name: a superset of those containing name, which instr then
// checks. The index keeps no positions (detail=none, about a fifth cheaper
// to write), so it cannot match the phrase itself.
func trigramQuery(name string) string {
	r := []rune(name)
	seen := map[string]bool{}
	var b strings.Builder
	for i := 0; i+3 <= len(r) && len(seen) < maxQueryTrigrams; i++ {
		tg := string(r[i : i+3])
		if seen[strings.ToLower(tg)] {
			continue
		}
		seen[strings.ToLower(tg)] = true
		if b.Len() > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(`"` + strings.ReplaceAll(tg, `"`, `""`) + `"`)
	}
	return b.String()
}

func scanSummary(rows *sql.Rows) (translator.TraceSummary, error) {
	var (
		sum              translator.TraceSummary
		traceID, rootID  any
		start, end       *int64
		hasCost          bool
		typeCounts, tags []byte
	)
	if err := rows.Scan(&traceID, &start, &end, &sum.Status, &sum.Cost, &sum.Name, &hasCost, &sum.SpanCount,
		&sum.ErrorSpans, &sum.TotalTokens, &typeCounts, &tags, &rootID, &sum.Input, &sum.Output); err != nil {
		return sum, err
	}
	sum.TraceID, sum.RootID = idString(traceID), idString(rootID)
	sum.StartTime, sum.EndTime = spanrow.FromNanos(start), spanrow.FromNanos(end)
	sum.HasCost = hasCost
	return sum, spanrow.DecodeSummaryColumns(&sum, typeCounts, tags)
}

// UsageByModel implements store.Store from the usage each trace row keeps.
func (s *Store) UsageByModel(ctx context.Context, project string, from, to time.Time) ([]translator.ModelUsage, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil || !ok {
		return nil, err
	}
	// The list's own time bounds.
	_, where, args := traceFilter(pid, store.TraceQuery{From: from, To: to}, nil)
	var totals []translator.ModelUsage
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT t.model_usage FROM traces t WHERE `+where+` AND t.model_usage IS NOT NULL`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			if totals, err = spanrow.AddModelUsage(totals, b); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: usage by model: %w", err)
	}
	translator.SortModelUsage(totals)
	return totals, nil
}
