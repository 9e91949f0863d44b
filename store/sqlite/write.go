package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/internal/spanrow"
	"github.com/opperotel/bridge/translator"
)

// Spans are written with multi-row statements: a statement costs several
// microseconds of driver and VM overhead whatever its size. A batch of n
// spans is written in chunks of the sizes in chunkSizes, largest first, so
// at most one statement of each size runs after the full chunks.
var chunkSizes = []int{64, 32, 16, 8, 4, 2, 1}

// spanColumns is the number of values bound per span.
const spanColumns = 23

// Bound values of a span, by position (see upsertSpansSQL).
const (
	argProject = iota
	argSpanID
	argTraceID
	argVersion
	argPending
	argWritten
	argTags = 16
)

// upsertSpansSQL writes rows spans. The forward state lives in the spans
// row: pending is 1 for a completed span to forward, 0 for a running one,
// NULL when nothing is due (and in a write with forward off). A write with
// forward on queues the span unless it was forwarded complete already (a
// running one only while it was never forwarded at all); otherwise the
// forward columns keep their values.
func upsertSpansSQL(rows int) string {
	const queue = `(excluded.pending = 1 AND spans.forwarded != 2 OR excluded.pending = 0 AND spans.forwarded = 0)`
	return `INSERT INTO spans (project, span_id, trace_id, version, pending, written_ns, parent_id, start_ns, end_ns,
	type, name, has_error, usage_total, aggregate, cost, trace_name, tags, input_head, output_head, input, output, body,
	model)
VALUES ` + placeholders(rows, spanColumns) + `
ON CONFLICT (project, span_id) DO UPDATE SET
	trace_id = excluded.trace_id, parent_id = excluded.parent_id, start_ns = excluded.start_ns,
	end_ns = excluded.end_ns, type = excluded.type, name = excluded.name, has_error = excluded.has_error,
	usage_total = excluded.usage_total, aggregate = excluded.aggregate, cost = excluded.cost,
	trace_name = excluded.trace_name, tags = excluded.tags, input_head = excluded.input_head,
	output_head = excluded.output_head, input = excluded.input, output = excluded.output, body = excluded.body,
	model = excluded.model,
	version = CASE WHEN ` + queue + ` THEN excluded.version ELSE spans.version END,
	pending = CASE WHEN ` + queue + ` THEN excluded.pending ELSE spans.pending END,
	written_ns = CASE WHEN ` + queue + ` THEN excluded.written_ns ELSE spans.written_ns END`
}

// placeholders returns rows groups of cols placeholders.
func placeholders(rows, cols int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// upsertSpansByRows holds the statement text for each chunk size.
var upsertSpansByRows = func() map[int]string {
	m := make(map[int]string, len(chunkSizes))
	for _, n := range chunkSizes {
		m[n] = upsertSpansSQL(n)
	}
	return m
}()

const (
	nextVersionsSQL = `UPDATE counters SET value = value + ? WHERE name = 'version' RETURNING value`
	traceExistsSQL  = `SELECT 1 FROM traces WHERE project = ? AND trace_id = ?`
	drainMovesSQL   = `DELETE FROM span_moves RETURNING project, old_trace`
)

// encoded is a span turned into its column values before the write
// transaction starts, so encoding runs outside the single writer.
type encoded struct {
	args    [spanColumns]any
	traceID string
	fwd     bool
}

// parallelEncodeMin is the batch size from which encoding is spread over
// the CPUs.
const parallelEncodeMin = 256

func encodeSpans(project int64, spans []translator.Span, forward bool) []encoded {
	out := make([]encoded, len(spans))
	enc := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			encodeSpan(&out[i], project, &spans[i], forward)
		}
	}
	n := runtime.GOMAXPROCS(0)
	if len(spans) < parallelEncodeMin || n == 1 {
		enc(0, len(spans))
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(spans) + n - 1) / n
	for lo := 0; lo < len(spans); lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			enc(lo, hi)
		}(lo, min(lo+chunk, len(spans)))
	}
	wg.Wait()
	return out
}

// encodeSpan fills every value but the version and the write time, which
// the writer assigns.
func encodeSpan(e *encoded, project int64, s *translator.Span, forward bool) {
	e.traceID = s.TraceID
	e.fwd = forward
	var pending, parent, usage, cost, traceName, tags, input, output any
	if forward {
		if s.Running() {
			pending = int64(0)
		} else {
			pending = int64(1)
		}
	}
	if s.ParentID != "" {
		parent = keyID(s.ParentID)
	}
	if s.Usage != nil {
		usage = s.Usage.Total
	}
	if s.Cost != nil {
		cost = *s.Cost
	}
	if v, ok := s.Meta.Value(translator.MetaTraceName).(string); ok && v != "" {
		traceName = v
	}
	if s.Tags != nil {
		tags = spanrow.AppendStrings(nil, s.Tags)
	}
	var inputHead, outputHead any
	if s.Input != nil {
		input = *s.Input
		if h, long := translator.PreviewHead(*s.Input); long {
			inputHead = h
		}
	}
	if s.Output != nil {
		output = *s.Output
		if h, long := translator.PreviewHead(*s.Output); long {
			outputHead = h
		}
	}
	var model any
	if s.Model != "" {
		model = s.Model
	}
	e.args = [spanColumns]any{project, keyID(s.ID), keyID(s.TraceID), nil, pending, nil, parent,
		nanos(s.StartTime), nanos(s.EndTime), s.Type, s.Name, s.Error != nil, usage, s.Aggregate, cost,
		traceName, tags, inputHead, outputHead, input, output, spanrow.AppendBody(nil, s), model}
}

// UpsertSpans implements store.Store. The spans are checked and encoded in
// the caller's goroutine, then written by the writer (writer.go), with the
// writes of concurrent callers, in one transaction that also recomputes
// the roll-up of every trace they touch, so the trace list never disagrees
// with the spans.
func (s *Store) UpsertSpans(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	if len(spans) == 0 {
		return nil
	}
	for i := range spans {
		if spans[i].ID == "" || spans[i].TraceID == "" {
			return fmt.Errorf("sqlite: span %d: empty id or trace id", i)
		}
	}
	op := &writeOp{project: project, spans: spans, forward: forward}
	s.projMu.RLock()
	pid, known := s.projects[project]
	s.projMu.RUnlock()
	if known {
		op.enc, op.encPID = encodeSpans(pid, spans, forward), pid
	}
	return s.submit(ctx, op)
}

// upsert writes encoded spans and refreshes the roll-ups they change. A
// trace that had no spans before the batch is rolled up from the batch
// itself; any other is re-read from the table.
func (s *Store) upsert(ctx context.Context, tx *sql.Tx, pid int64, spans []translator.Span, enc []encoded) error {
	// Which traces are new, before the spans land.
	exists, err := s.stmt(ctx, tx, traceExistsSQL)
	if err != nil {
		return err
	}
	batchTraces := make(map[string]bool, 4) // trace id -> existed before
	for i := range enc {
		tid := enc[i].traceID
		if _, seen := batchTraces[tid]; seen {
			continue
		}
		if _, ok := s.rollups.get(pid, tid); ok {
			batchTraces[tid] = true // cached: it has spans
			continue
		}
		var one int
		err := exists.QueryRowContext(ctx, pid, enc[i].args[argTraceID]).Scan(&one)
		switch {
		case err == nil:
			batchTraces[tid] = true
		case errors.Is(err, sql.ErrNoRows):
			batchTraces[tid] = false
		default:
			return fmt.Errorf("read trace: %w", err)
		}
	}

	// Versions for the spans written with forward on, in batch order.
	nfwd := 0
	for i := range enc {
		if enc[i].fwd {
			nfwd++
		}
	}
	if nfwd > 0 {
		st, err := s.stmt(ctx, tx, nextVersionsSQL)
		if err != nil {
			return err
		}
		var last int64
		if err := st.QueryRowContext(ctx, nfwd).Scan(&last); err != nil {
			return fmt.Errorf("versions: %w", err)
		}
		v := last - int64(nfwd) + 1
		now := time.Now().UnixNano()
		for i := range enc {
			if enc[i].fwd {
				enc[i].args[argVersion], enc[i].args[argWritten] = v, now
				v++
			}
		}
	}

	args := make([]any, 0, chunkSizes[0]*spanColumns)
	for i := 0; i < len(enc); {
		rows := 0
		for _, n := range chunkSizes {
			if n <= len(enc)-i {
				rows = n
				break
			}
		}
		st, err := s.stmt(ctx, tx, upsertSpansByRows[rows])
		if err != nil {
			return err
		}
		args = args[:0]
		for j := i; j < i+rows; j++ {
			args = append(args, enc[j].args[:]...)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("write spans: %w", err)
		}
		i += rows
	}
	if err := upsertSpanMetrics(ctx, tx, pid, spans); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}

	// Traces that spans moved out of.
	refresh := map[string]struct{}{}
	moves, err := s.stmt(ctx, tx, drainMovesSQL)
	if err != nil {
		return err
	}
	rows, err := moves.QueryContext(ctx)
	if err != nil {
		return fmt.Errorf("read moves: %w", err)
	}
	for rows.Next() {
		var p int64
		var old any
		if err := rows.Scan(&p, &old); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read moves: %w", err)
		}
		refresh[idString(old)] = struct{}{}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read moves: %w", err)
	}

	// Roll-ups: a trace new in the batch from the batch alone; one the
	// writer has cached from the cache and the batch; any other (and one
	// a span left) re-read from the table.
	byTrace := spansByTrace(spans)
	if err := s.addFacets(ctx, tx, pid, spans, byTrace); err != nil {
		return err
	}
	for tid, existed := range batchTraces {
		if _, ok := refresh[tid]; ok {
			continue // also left by a moved span: re-read below
		}
		if existed {
			ok, err := s.rollUpCached(ctx, tx, pid, tid, spans, enc, byTrace[tid])
			if err != nil {
				return err
			}
			if !ok {
				refresh[tid] = struct{}{}
			}
			continue
		}
		idx := byTrace[tid]
		lights := make([]light, len(idx))
		for k, i := range idx {
			lights[k] = lightOf(&spans[i], enc[i].args[argTags])
		}
		sum, usage := rollUpLights(tid, lights, &s.rollups.scratch)
		var tags []string
		for _, i := range idx {
			if spans[i].ID == sum.RootID {
				tags = spans[i].Tags
				break
			}
		}
		if err := s.writeTrace(ctx, tx, pid, keyID(tid), sum, usage, tags, nil); err != nil {
			return err
		}
		s.rollups.stage(pid, tid, lights, tags)
	}
	for tid := range refresh {
		if err := s.refreshTrace(ctx, tx, pid, tid); err != nil {
			return err
		}
	}
	return nil
}

// spansByTrace groups a batch by trace, as indexes into it, the last
// write of a span id winning as it does in the table.
func spansByTrace(spans []translator.Span) map[string][]int {
	last := make(map[string]int, len(spans))
	for i := range spans {
		last[spans[i].ID] = i
	}
	out := map[string][]int{}
	for i := range spans {
		if last[spans[i].ID] == i {
			out[spans[i].TraceID] = append(out[spans[i].TraceID], i)
		}
	}
	return out
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
	sid := keyID(spanID)
	return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var traceID any
		err := tx.QueryRowContext(ctx, `SELECT trace_id FROM spans WHERE project = ? AND span_id = ?`, pid, sid).Scan(&traceID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete span: %w", err)
		}
		for _, q := range [...]string{
			`DELETE FROM metrics WHERE project = ? AND span_id = ?`,
			`DELETE FROM events WHERE project = ? AND span_id = ?`,
			`DELETE FROM spans WHERE project = ? AND span_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, pid, sid); err != nil {
				return fmt.Errorf("sqlite: delete span: %w", err)
			}
		}
		if err := s.refreshTrace(ctx, tx, pid, idString(traceID)); err != nil {
			return fmt.Errorf("sqlite: delete span: %w", err)
		}
		return nil
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
	tid := keyID(traceID)
	return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM spans WHERE project = ? AND trace_id = ?`, pid, tid).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: delete trace: %w", err)
		}
		if n == 0 {
			return store.ErrNotFound
		}
		for _, q := range [...]string{
			`DELETE FROM metrics WHERE project = ?1 AND span_id IN (SELECT span_id FROM spans WHERE project = ?1 AND trace_id = ?2)`,
			`DELETE FROM events WHERE project = ?1 AND trace_id = ?2`,
			`DELETE FROM spans WHERE project = ?1 AND trace_id = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, pid, tid); err != nil {
				return fmt.Errorf("sqlite: delete trace: %w", err)
			}
		}
		if err := s.refreshTrace(ctx, tx, pid, traceID); err != nil {
			return fmt.Errorf("sqlite: delete trace: %w", err)
		}
		return nil
	})
}

// UpdateSpan implements store.Store as one operation of the writer: the
// span is read, changed and written in the writer's transaction, so no
// other write of this process or another can come between.
func (s *Store) UpdateSpan(ctx context.Context, project, spanID string, forward bool, fn func(*translator.Span) error) (translator.Span, error) {
	pid, ok, err := s.projectID(ctx, project)
	if err != nil {
		return translator.Span{}, err
	}
	if !ok {
		return translator.Span{}, store.ErrNotFound
	}
	var out translator.Span
	var fnErr error
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		sp, err := scanSpan(tx.QueryRowContext(ctx, getSpanSQL, pid, keyID(spanID)))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read span: %w", err)
		}
		id, traceID := sp.ID, sp.TraceID
		if fnErr = fn(&sp); fnErr != nil {
			return fnErr
		}
		if sp.ID != id || sp.TraceID != traceID {
			return fmt.Errorf("update of span %s changed its id or trace id", spanID)
		}
		spans := []translator.Span{sp}
		if err := s.upsert(ctx, tx, pid, spans, encodeSpans(pid, spans, forward)); err != nil {
			return err
		}
		out = sp
		return nil
	})
	switch {
	case fnErr != nil:
		return translator.Span{}, fnErr
	case errors.Is(err, store.ErrNotFound):
		return translator.Span{}, store.ErrNotFound
	case err != nil:
		return translator.Span{}, fmt.Errorf("sqlite: update span: %w", err)
	}
	return out, nil
}
