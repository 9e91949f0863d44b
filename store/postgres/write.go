package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
	"github.com/opperotel/bridge/translator"
)

// upsertSpansSQL writes a batch of spans from column arrays (one round
// trip, one statement, whatever the batch size). The forward state works
// as in SQLite: a write with forward on queues the span unless it was
// forwarded complete already (a running one only while it was never
// forwarded), with a new version and no lease, so any replica may take the
// new version; otherwise the forward columns keep their values.
const upsertSpansSQL = `
INSERT INTO spans AS s (project, span_id, trace_id, version, pending, written_ns, parent_id, start_ns, end_ns,
	type, name, has_error, usage_total, aggregate, cost, trace_name, tags, model, input_head, output_head,
	input, output, body)
SELECT $1, u.span_id, u.trace_id, CASE WHEN u.pending IS NOT NULL THEN nextval('span_versions') END, u.pending,
	CASE WHEN u.pending IS NOT NULL THEN $2::bigint END, u.parent_id, u.start_ns, u.end_ns, u.type, u.name,
	u.has_error, u.usage_total, u.aggregate, u.cost, u.trace_name, u.tags, u.model, u.input_head, u.output_head,
	u.input, u.output, u.body
FROM unnest($3::text[], $4::text[], $5::smallint[], $6::text[], $7::bigint[], $8::bigint[], $9::text[],
	$10::text[], $11::boolean[], $12::bigint[], $13::boolean[], $14::float8[], $15::text[], $16::bytea[],
	$17::text[], $18::bytea[], $19::bytea[], $20::bytea[], $21::bytea[], $22::bytea[])
	AS u(span_id, trace_id, pending, parent_id, start_ns, end_ns, type, name, has_error, usage_total, aggregate,
	cost, trace_name, tags, model, input_head, output_head, input, output, body)
ON CONFLICT (project, span_id) DO UPDATE SET
	trace_id = excluded.trace_id, parent_id = excluded.parent_id, start_ns = excluded.start_ns,
	end_ns = excluded.end_ns, type = excluded.type, name = excluded.name, has_error = excluded.has_error,
	usage_total = excluded.usage_total, aggregate = excluded.aggregate, cost = excluded.cost,
	trace_name = excluded.trace_name, tags = excluded.tags, model = excluded.model,
	input_head = excluded.input_head, output_head = excluded.output_head, input = excluded.input,
	output = excluded.output, body = excluded.body,
	version = CASE WHEN ` + queueSQL + ` THEN excluded.version ELSE s.version END,
	pending = CASE WHEN ` + queueSQL + ` THEN excluded.pending ELSE s.pending END,
	written_ns = CASE WHEN ` + queueSQL + ` THEN excluded.written_ns ELSE s.written_ns END,
	lease_owner = CASE WHEN ` + queueSQL + ` THEN NULL ELSE s.lease_owner END,
	lease_until = CASE WHEN ` + queueSQL + ` THEN NULL ELSE s.lease_until END`

const queueSQL = `(excluded.pending = 1 AND s.forwarded <> 2 OR excluded.pending = 0 AND s.forwarded = 0)`

// spanColumns are a batch's span rows as column arrays (upsertSpansSQL).
type spanColumns struct {
	spanID, traceID, typ, name           []string
	pending                              []*int16
	parent, traceName, model             []*string
	inputHead, outputHead, input, output [][]byte
	start, end, usage                    []*int64
	hasErr, agg                          []bool
	cost                                 []*float64
	tags, body                           [][]byte
}

// grow makes room for n spans.
func (c *spanColumns) grow(n int) {
	c.spanID, c.traceID, c.typ, c.name = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	c.pending = make([]*int16, 0, n)
	c.parent, c.traceName, c.model = make([]*string, 0, n), make([]*string, 0, n), make([]*string, 0, n)
	c.inputHead, c.outputHead = make([][]byte, 0, n), make([][]byte, 0, n)
	c.input, c.output, c.tags, c.body = make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n)
	c.start, c.end, c.usage = make([]*int64, 0, n), make([]*int64, 0, n), make([]*int64, 0, n)
	c.hasErr, c.agg = make([]bool, 0, n), make([]bool, 0, n)
	c.cost = make([]*float64, 0, n)
}

func (c *spanColumns) add(sp *translator.Span, forward bool) {
	var pending *int16
	if forward {
		v := int16(1)
		if sp.Running() {
			v = 0
		}
		pending = &v
	}
	c.spanID = append(c.spanID, sp.ID)
	c.traceID = append(c.traceID, sp.TraceID)
	c.pending = append(c.pending, pending)
	c.parent = append(c.parent, nonEmpty(sp.ParentID))
	c.start = append(c.start, nanos(sp.StartTime))
	c.end = append(c.end, nanos(sp.EndTime))
	c.typ = append(c.typ, txt(sp.Type))
	c.name = append(c.name, txt(sp.Name))
	c.hasErr = append(c.hasErr, sp.Error != nil)
	var usage *int64
	if sp.Usage != nil {
		usage = &sp.Usage.Total
	}
	c.usage = append(c.usage, usage)
	c.agg = append(c.agg, sp.Aggregate)
	c.cost = append(c.cost, sp.Cost)
	traceName, _ := sp.Meta.Value(translator.MetaTraceName).(string)
	c.traceName = append(c.traceName, nonEmpty(txt(traceName)))
	var tags []byte
	if sp.Tags != nil {
		tags = spanrow.AppendStrings(nil, sp.Tags)
	}
	c.tags = append(c.tags, tags)
	c.model = append(c.model, nonEmpty(txt(sp.Model)))
	c.inputHead = append(c.inputHead, head(sp.Input))
	c.outputHead = append(c.outputHead, head(sp.Output))
	c.input = append(c.input, content(sp.Input))
	c.output = append(c.output, content(sp.Output))
	c.body = append(c.body, spanrow.AppendBody(nil, sp))
}

func (c *spanColumns) args(pid int32, written int64) []any {
	return []any{pid, written, c.spanID, c.traceID, c.pending, c.parent, c.start, c.end, c.typ, c.name, c.hasErr,
		c.usage, c.agg, c.cost, c.traceName, c.tags, c.model, c.inputHead, c.outputHead, c.input, c.output, c.body}
}

// head is the preview head of a content longer than translator's preview
// head (NULL otherwise), as SQLite keeps it.
func head(v *string) []byte {
	if v == nil {
		return nil
	}
	if h, long := translator.PreviewHead(*v); long {
		return []byte(h)
	}
	return nil
}

// content is an input or output column: bytes as given, NULL for none
// (an empty content is an empty, not a NULL, value).
func content(v *string) []byte {
	if v == nil {
		return nil
	}
	if *v == "" {
		return []byte{}
	}
	return []byte(*v)
}

// txt is s as a text column can hold it: valid UTF-8 without NUL. Ids are
// stored (body included) as txt gives them, so a lookup by the same id
// finds them; names and other filter columns only in their columns, the
// body keeping them exactly.
func txt(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nanos is a time column: Unix nanoseconds, NULL for the zero time.
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// UpsertSpans implements store.Store in one transaction: the spans, their
// metrics, then, under an advisory lock per trace taken in one order by
// every writer, the roll-ups of the traces they touch. Spans of one trace
// written by several replicas at once are rolled up one writer after the
// other, each reading what the others committed, so the roll-up is exact.
func (s *Store) UpsertSpans(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	if len(spans) == 0 {
		return nil
	}
	for i := range spans {
		if spans[i].ID == "" || spans[i].TraceID == "" {
			return fmt.Errorf("postgres: span %d: empty id or trace id", i)
		}
	}
	pid, err := s.ensureProject(ctx, project)
	if err != nil {
		return err
	}
	batch := lastWrites(spans)
	return s.inTx(ctx, "upsert spans", func(tx pgx.Tx) error {
		return s.upsert(ctx, tx, pid, batch, forward)
	})
}

// lastWrites is the batch as the table will hold it: ids as text columns
// hold them (txt), one span per id (the last write of an id wins, as in
// SQLite, and one statement may not touch a row twice), ordered by id, so
// concurrent writers lock rows in the same order and cannot deadlock on
// them.
func lastWrites(spans []translator.Span) []translator.Span {
	out := make([]translator.Span, 0, len(spans))
	pos := make(map[string]int, len(spans))
	for i := range spans {
		sp := spans[i]
		sp.ID, sp.TraceID, sp.ParentID = txt(sp.ID), txt(sp.TraceID), txt(sp.ParentID)
		if j, ok := pos[sp.ID]; ok {
			out[j] = sp
			continue
		}
		pos[sp.ID] = len(out)
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b translator.Span) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// upsert writes spans (one per id, sorted by id) and their roll-ups.
// Spans the table does not have yet, the bulk of any ingest, go in with
// COPY (binary, encoded by copySpans): about a third of the server's time
// of an INSERT ... ON CONFLICT, which only spans written again take. A
// span another writer inserts between the look-up and the COPY fails the
// COPY on the primary key; the transaction then runs again (retryable) and
// finds it.
func (s *Store) upsert(ctx context.Context, tx pgx.Tx, pid int32, spans []translator.Span, forward bool) error {
	written := time.Now().UnixNano()
	left, err := s.writeSpans(ctx, tx, pid, spans, forward, written)
	if err != nil {
		return err
	}
	if err := upsertSpanMetrics(ctx, tx, pid, spans); err != nil {
		return err
	}
	byTrace := map[string][]translator.Span{}
	var touched []string
	for i := range spans {
		tid := spans[i].TraceID
		if byTrace[tid] == nil {
			touched = append(touched, tid)
		}
		byTrace[tid] = append(byTrace[tid], spans[i])
	}
	for tid := range left {
		if byTrace[tid] == nil {
			touched = append(touched, tid)
		}
	}
	return s.rollUp(ctx, tx, pid, touched, byTrace)
}

// optimisticCopyMin is the batch size from which writeSpans first tries
// the batch as all new, without looking its ids up: a bulk write of new
// spans (the exporter's) saves the look-up, and a batch with a stored span
// costs a savepoint rolled back.
const optimisticCopyMin = 64

// writeSpans writes the span rows and returns the traces that spans moved
// out of.
func (s *Store) writeSpans(ctx context.Context, tx pgx.Tx, pid int32, spans []translator.Span, forward bool, written int64) (map[string]bool, error) {
	var fresh spanColumns
	if len(spans) >= optimisticCopyMin {
		fresh.grow(len(spans))
		for i := range spans {
			fresh.add(&spans[i], forward)
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return nil, err
		}
		err = copySpans(ctx, sp, pid, &fresh, written)
		if err == nil {
			return nil, sp.Commit(ctx)
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			return nil, err
		}
		if err := sp.Rollback(ctx); err != nil {
			return nil, err
		}
		fresh = spanColumns{}
	}
	ids := make([]string, len(spans))
	for i := range spans {
		ids[i] = spans[i].ID
	}
	stored := map[string]string{} // span id -> its trace
	rows, err := tx.Query(ctx, `SELECT span_id, trace_id FROM spans WHERE project = $1 AND span_id = ANY($2)`, pid, ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, tid string
		if err := rows.Scan(&id, &tid); err != nil {
			rows.Close()
			return nil, err
		}
		stored[id] = tid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var again spanColumns
	left := map[string]bool{}
	for i := range spans {
		if tid, ok := stored[spans[i].ID]; ok {
			again.add(&spans[i], forward)
			if tid != spans[i].TraceID {
				left[tid] = true
			}
			continue
		}
		fresh.add(&spans[i], forward)
	}
	if len(fresh.spanID) > 0 {
		if err := copySpans(ctx, tx, pid, &fresh, written); err != nil {
			return nil, err
		}
	}
	if len(again.spanID) > 0 {
		if _, err := tx.Exec(ctx, upsertSpansSQL, again.args(pid, written)...); err != nil {
			return nil, err
		}
		if len(left) > 0 {
			// A moved span's events follow it.
			if _, err := tx.Exec(ctx, `UPDATE events e SET trace_id = s.trace_id FROM spans s
WHERE s.project = $1 AND s.span_id = ANY($2) AND e.project = s.project AND e.span_id = s.span_id AND e.trace_id <> s.trace_id`,
				pid, again.spanID); err != nil {
				return nil, err
			}
		}
	}
	return left, nil
}

// upsertSpanMetrics stores the metrics the spans carry
// (store.SpanMetrics), insert-if-absent by (project, id), as SQLite does.
func upsertSpanMetrics(ctx context.Context, tx pgx.Tx, pid int32, spans []translator.Span) error {
	var ids, spanIDs, dims []string
	var values []float64
	var comments []*string
	for m := range store.SpanMetrics(spans) {
		ids = append(ids, txt(m.ID))
		spanIDs = append(spanIDs, m.SpanID)
		dims = append(dims, txt(m.Dimension))
		values = append(values, m.Value)
		var comment *string
		if m.Comment != nil {
			comment = nonEmpty(txt(*m.Comment))
		}
		comments = append(comments, comment)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO metrics (id, project, span_id, dimension, value, comment, created_ns)
SELECT u.id, $1, u.span_id, u.dimension, u.value, u.comment, $2
FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[], $7::text[]) WITH ORDINALITY
	AS u(id, span_id, dimension, value, comment, pos)
ORDER BY u.pos
ON CONFLICT (project, id) DO NOTHING`, pid, now().UnixNano(), ids, spanIDs, dims, values, comments)
	return err
}

// now is the creation time the store assigns, at the precision it keeps.
func now() time.Time { return time.Unix(0, time.Now().UnixNano()).UTC() }

// lockTraces takes the transaction-scoped advisory lock of each trace, in
// the order of their keys, so two writers never wait on each other in a
// cycle. Keys are 64-bit hashes of (project, trace): a collision only
// makes two traces share a lock.
func lockTraces(ctx context.Context, tx pgx.Tx, pid int32, traceIDs []string) error {
	keys := make([]int64, len(traceIDs))
	for i, tid := range traceIDs {
		h := fnv.New64a()
		_, _ = fmt.Fprintf(h, "%d\x00%s", pid, tid)
		keys[i] = int64(h.Sum64())
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// The sorted subquery feeds the aggregate row by row, in its order.
	_, err := tx.Exec(ctx, `SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) k ORDER BY k) l`, keys)
	return err
}

// rollUp rewrites the roll-ups of the traces touched by a write, under
// their locks. A trace whose row did not exist when its lock was taken has
// no spans but this transaction's (every writer creates the row under the
// lock before it commits), so it is rolled up from the batch; any other is
// read back from the table.
func (s *Store) rollUp(ctx context.Context, tx pgx.Tx, pid int32, traceIDs []string, batch map[string][]translator.Span) error {
	if len(traceIDs) == 0 {
		return nil
	}
	if err := lockTraces(ctx, tx, pid, traceIDs); err != nil {
		return err
	}
	// The trace rows as they are: their root tags and status.
	type storedRow struct {
		tags   []string
		status string
	}
	old := map[string]storedRow{}
	rows, err := tx.Query(ctx, `SELECT trace_id, tags, status FROM traces WHERE project = $1 AND trace_id = ANY($2)`, pid, traceIDs)
	if err != nil {
		return err
	}
	for rows.Next() {
		var tid string
		var raw []byte
		var row storedRow
		if err := rows.Scan(&tid, &raw, &row.status); err != nil {
			rows.Close()
			return err
		}
		if row.tags, err = spanrow.DecodeStrings(raw); err != nil {
			rows.Close()
			return fmt.Errorf("trace %s tags: %w", tid, err)
		}
		old[tid] = row
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	reread := map[string]bool{}
	var rereadIDs []string
	for _, tid := range traceIDs {
		if _, existed := old[tid]; existed || batch[tid] == nil {
			reread[tid] = true
			rereadIDs = append(rereadIDs, tid)
		}
	}
	stored, err := readLights(ctx, tx, pid, rereadIDs)
	if err != nil {
		return err
	}

	w := traceWrites{counts: map[string]int64{}}
	for _, tid := range traceIDs {
		prev, existed := old[tid]
		spans := batch[tid]
		l := stored[tid]
		if reread[tid] {
			spans = nil // re-read, and found empty when l is nil: the trace is gone
			if l != nil {
				spans = l.spans
			}
		}
		if len(spans) == 0 {
			if existed {
				w.gone = append(w.gone, tid)
				w.counts[prev.status]--
			}
			continue
		}
		sum, usage := translator.RollUpWithUsage(spans)
		var tags []string
		if l != nil {
			if tags, err = spanrow.DecodeStrings(l.tags[sum.RootID]); err != nil {
				return fmt.Errorf("trace %s root tags: %w", tid, err)
			}
		} else {
			for i := range spans {
				if spans[i].ID == sum.RootID {
					tags = spans[i].Tags
				}
			}
		}
		w.add(tid, sum, usage, tags, prev.tags)
		if !existed || prev.status != sum.Status {
			w.counts[sum.Status]++
			if existed {
				w.counts[prev.status]--
			}
		}
	}
	for tid, spans := range batch {
		w.addFacets(tid, spans)
	}
	return w.exec(ctx, tx, pid)
}

// lights are the roll-up columns of a trace's spans, as spans.
type lights struct {
	spans []translator.Span
	tags  map[string][]byte // by span id, the tags column
}

var errMarker = new(string)

// readLights reads what translator.RollUp looks at of the spans of
// traces, not their bodies.
func readLights(ctx context.Context, tx pgx.Tx, pid int32, traceIDs []string) (map[string]*lights, error) {
	out := map[string]*lights{}
	if len(traceIDs) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `
SELECT trace_id, span_id, parent_id, start_ns, end_ns, type, name, has_error, usage_total, aggregate, cost,
	trace_name, tags, model
FROM spans WHERE project = $1 AND trace_id = ANY($2)`, pid, traceIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sp                       translator.Span
			parent, traceName, model *string
			start, end, usage        *int64
			hasErr                   bool
			tags                     []byte
		)
		if err := rows.Scan(&sp.TraceID, &sp.ID, &parent, &start, &end, &sp.Type, &sp.Name, &hasErr, &usage,
			&sp.Aggregate, &sp.Cost, &traceName, &tags, &model); err != nil {
			return nil, err
		}
		if parent != nil {
			sp.ParentID = *parent
		}
		sp.StartTime, sp.EndTime = spanrow.FromNanos(start), spanrow.FromNanos(end)
		if hasErr {
			sp.Error = errMarker
		}
		if usage != nil {
			sp.Usage = &translator.Usage{Total: *usage}
		}
		if traceName != nil {
			sp.Meta = translator.Meta{{Key: translator.MetaTraceName, Value: *traceName}}
		}
		if model != nil {
			sp.Model = *model
		}
		l := out[sp.TraceID]
		if l == nil {
			l = &lights{tags: map[string][]byte{}}
			out[sp.TraceID] = l
		}
		l.spans = append(l.spans, sp)
		if tags != nil {
			l.tags[sp.ID] = tags
		}
	}
	return out, rows.Err()
}

// traceWrites collects a transaction's roll-up rows, tag and facet
// changes, and removed traces, written with one statement each.
type traceWrites struct {
	tid, status, name, root     []string
	nameLower                   []string
	start, end                  []*int64
	duration, spans, errs, toks []int64
	cost                        []float64
	hasCost                     []bool
	typeCounts, tags, usage     [][]byte

	addTag, addTagTrace, delTag, delTagTrace []string
	facet, facetTrace                        []string
	gone                                     []string
	// counts are the changes to the project's trace count by status.
	counts map[string]int64
}

func (w *traceWrites) add(tid string, sum translator.TraceSummary, usage []translator.ModelUsage, tags, old []string) {
	w.tid = append(w.tid, tid)
	w.start = append(w.start, nanos(sum.StartTime))
	w.end = append(w.end, nanos(sum.EndTime))
	w.duration = append(w.duration, int64(sum.Duration()))
	w.status = append(w.status, sum.Status)
	w.cost = append(w.cost, sum.Cost)
	w.name = append(w.name, txt(sum.Name))
	w.nameLower = append(w.nameLower, txt(strings.ToLower(sum.Name)))
	w.hasCost = append(w.hasCost, sum.HasCost)
	w.spans = append(w.spans, sum.SpanCount)
	w.errs = append(w.errs, sum.ErrorSpans)
	w.toks = append(w.toks, sum.TotalTokens)
	w.typeCounts = append(w.typeCounts, spanrow.AppendTypeCounts(nil, sum.TypeCounts))
	var tagsCol []byte
	if tags != nil {
		tagsCol = spanrow.AppendStrings(nil, tags)
	}
	w.tags = append(w.tags, tagsCol)
	w.root = append(w.root, sum.RootID)
	w.usage = append(w.usage, spanrow.AppendModelUsage(nil, usage))
	for _, t := range old {
		if !slices.Contains(tags, t) {
			w.delTag, w.delTagTrace = append(w.delTag, txt(t)), append(w.delTagTrace, tid)
		}
	}
	for _, t := range tags {
		if !slices.Contains(old, t) {
			w.addTag, w.addTagTrace = append(w.addTag, txt(t)), append(w.addTagTrace, tid)
		}
	}
}

func (w *traceWrites) addFacets(tid string, spans []translator.Span) {
	var seen []string
	for i := range spans {
		for _, f := range store.Facets(&spans[i]) {
			if !slices.Contains(seen, f) {
				seen = append(seen, f)
				w.facet, w.facetTrace = append(w.facet, txt(f)), append(w.facetTrace, tid)
			}
		}
	}
}

func (w *traceWrites) exec(ctx context.Context, tx pgx.Tx, pid int32) error {
	if len(w.tid) > 0 {
		if _, err := tx.Exec(ctx, `
INSERT INTO traces AS t (project, trace_id, start_ns, end_ns, duration_ns, status, cost, name, name_lower, has_cost,
	span_count, error_spans, total_tokens, type_counts, tags, root_id, model_usage)
SELECT $1, u.* FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::float8[],
	$8::text[], $9::text[], $10::boolean[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bytea[], $15::bytea[],
	$16::text[], $17::bytea[]) AS u
ON CONFLICT (project, trace_id) DO UPDATE SET
	start_ns = excluded.start_ns, end_ns = excluded.end_ns, duration_ns = excluded.duration_ns,
	status = excluded.status, cost = excluded.cost, name = excluded.name, name_lower = excluded.name_lower,
	has_cost = excluded.has_cost,
	span_count = excluded.span_count, error_spans = excluded.error_spans, total_tokens = excluded.total_tokens,
	type_counts = excluded.type_counts, tags = excluded.tags, root_id = excluded.root_id,
	model_usage = excluded.model_usage`, pid, w.tid, w.start, w.end, w.duration, w.status, w.cost, w.name, w.nameLower,
			w.hasCost, w.spans, w.errs, w.toks, w.typeCounts, w.tags, w.root, w.usage); err != nil {
			return err
		}
	}
	if len(w.gone) > 0 {
		for _, q := range [...]string{
			`DELETE FROM traces WHERE project = $1 AND trace_id = ANY($2)`,
			`DELETE FROM trace_tags WHERE project = $1 AND trace_id = ANY($2)`,
			`DELETE FROM trace_facets WHERE project = $1 AND trace_id = ANY($2)`,
		} {
			if _, err := tx.Exec(ctx, q, pid, w.gone); err != nil {
				return err
			}
		}
	}
	if len(w.delTag) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM trace_tags g USING unnest($2::text[], $3::text[]) AS u(tag, trace_id)
WHERE g.project = $1 AND g.tag = u.tag AND g.trace_id = u.trace_id`, pid, w.delTag, w.delTagTrace); err != nil {
			return err
		}
	}
	if len(w.addTag) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO trace_tags (project, tag, trace_id)
SELECT $1, u.tag, u.trace_id FROM unnest($2::text[], $3::text[]) AS u(tag, trace_id) ON CONFLICT DO NOTHING`,
			pid, w.addTag, w.addTagTrace); err != nil {
			return err
		}
	}
	if len(w.facet) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO trace_facets (project, facet, trace_id)
SELECT $1, u.facet, u.trace_id FROM unnest($2::text[], $3::text[]) AS u(facet, trace_id) ON CONFLICT DO NOTHING`,
			pid, w.facet, w.facetTrace); err != nil {
			return err
		}
	}
	return addTraceCounts(ctx, tx, pid, w.counts)
}

// countShards spreads each project's trace counts over rows, so writers
// adding traces at once rarely wait for each other's commit.
const countShards = 16

// addTraceCounts adds the changes to the project's trace counts by status
// (a trace that completes moves from running to ok or error). It is the
// transaction's last statement: the shard rows' locks are then held only
// while committing, never while waiting for a trace lock, and they are
// taken in status order.
func addTraceCounts(ctx context.Context, tx pgx.Tx, pid int32, counts map[string]int64) error {
	var statuses []string
	var deltas []int64
	for _, st := range slices.Sorted(maps.Keys(counts)) {
		if counts[st] != 0 {
			statuses, deltas = append(statuses, st), append(deltas, counts[st])
		}
	}
	if len(statuses) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO trace_counts (project, status, shard, n)
SELECT $1, u.status, $2, u.n FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS u(status, n, pos) ORDER BY u.pos
ON CONFLICT (project, status, shard) DO UPDATE SET n = trace_counts.n + excluded.n`, pid, rand.IntN(countShards), statuses, deltas)
	return err
}

// UpdateSpan implements store.Store: the span's row is locked (FOR
// UPDATE) for the transaction, so an update from another replica waits
// and then reads this one's result.
func (s *Store) UpdateSpan(ctx context.Context, project, spanID string, forward bool, fn func(*translator.Span) error) (translator.Span, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return translator.Span{}, err
	}
	if !ok {
		return translator.Span{}, store.ErrNotFound
	}
	spanID = txt(spanID)
	var out translator.Span
	var fnErr error
	err = s.inTx(ctx, "update span", func(tx pgx.Tx) error {
		sp, err := scanSpan(tx.QueryRow(ctx, `SELECT input, output, body FROM spans WHERE project = $1 AND span_id = $2 FOR UPDATE`,
			pid, spanID))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		id, traceID := sp.ID, sp.TraceID
		if fnErr = fn(&sp); fnErr != nil {
			return fnErr
		}
		if sp.ID != id || sp.TraceID != traceID {
			return fmt.Errorf("update of span %s changed its id or trace id", spanID)
		}
		if err := s.upsert(ctx, tx, pid, []translator.Span{sp}, forward); err != nil {
			return err
		}
		out = sp
		return nil
	})
	if fnErr != nil {
		return translator.Span{}, fnErr
	}
	if err != nil {
		return translator.Span{}, err
	}
	return out, nil
}

// DeleteSpan implements store.Store.
func (s *Store) DeleteSpan(ctx context.Context, project, spanID string) error {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	spanID = txt(spanID)
	return s.inTx(ctx, "delete span", func(tx pgx.Tx) error {
		var traceID string
		err := tx.QueryRow(ctx, `DELETE FROM spans WHERE project = $1 AND span_id = $2 RETURNING trace_id`, pid, spanID).Scan(&traceID)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		for _, q := range [...]string{
			`DELETE FROM metrics WHERE project = $1 AND span_id = $2`,
			`DELETE FROM events WHERE project = $1 AND span_id = $2`,
		} {
			if _, err := tx.Exec(ctx, q, pid, spanID); err != nil {
				return err
			}
		}
		return s.rollUp(ctx, tx, pid, []string{traceID}, nil)
	})
}

// DeleteTrace implements store.Store.
func (s *Store) DeleteTrace(ctx context.Context, project, traceID string) error {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	traceID = txt(traceID)
	return s.inTx(ctx, "delete trace", func(tx pgx.Tx) error {
		if err := lockTraces(ctx, tx, pid, []string{traceID}); err != nil {
			return err
		}
		for _, q := range [...]string{
			`DELETE FROM metrics WHERE project = $1 AND span_id IN (SELECT span_id FROM spans WHERE project = $1 AND trace_id = $2)`,
			`DELETE FROM events WHERE project = $1 AND trace_id = $2`,
		} {
			if _, err := tx.Exec(ctx, q, pid, traceID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM spans WHERE project = $1 AND trace_id = $2`, pid, traceID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return s.rollUp(ctx, tx, pid, []string{traceID}, nil)
	})
}
