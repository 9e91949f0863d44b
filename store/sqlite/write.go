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
	"github.com/opperotel/bridge/translator"
)

// Spans and outbox entries are written with multi-row statements of
// chunkRows rows: a statement costs several microseconds of driver and VM
// overhead whatever its size, which at 1000 spans a batch is most of the
// time a row-at-a-time write takes.
const chunkRows = 32

const spanColumns = 17

func upsertSpansSQL(rows int) string {
	return `INSERT INTO spans (project, span_id, trace_id, parent_id, start_ns, end_ns, type, name, has_error,
	usage_total, aggregate, cost, trace_name, tags, input, output, body)
VALUES ` + placeholders(rows, spanColumns) + `
ON CONFLICT (project, span_id) DO UPDATE SET
	trace_id = excluded.trace_id, parent_id = excluded.parent_id, start_ns = excluded.start_ns,
	end_ns = excluded.end_ns, type = excluded.type, name = excluded.name, has_error = excluded.has_error,
	usage_total = excluded.usage_total, aggregate = excluded.aggregate, cost = excluded.cost,
	trace_name = excluded.trace_name, tags = excluded.tags, input = excluded.input,
	output = excluded.output, body = excluded.body`
}

// queueSQL queues spans for forwarding: pending 1 for a completed span, 0
// for a running one. A completed span is queued unless it was forwarded
// complete already; a running one only while it has never been forwarded
// at all. The WHERE of DO UPDATE leaves the row alone otherwise.
func queueSQL(rows int) string {
	return `INSERT INTO outbox (project, span_id, version, pending, forwarded, written_ns)
VALUES ` + placeholders(rows, 5) + `
ON CONFLICT (project, span_id) DO UPDATE SET
	version = excluded.version, pending = excluded.pending, written_ns = excluded.written_ns
WHERE excluded.pending = 1 AND outbox.forwarded != 2 OR excluded.pending = 0 AND outbox.forwarded = 0`
}

// placeholders returns rows groups of cols placeholders; queueSQL's fifth
// column is the constant forwarded = 0.
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
			if cols == 5 && c == 4 {
				b.WriteString("0, ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

var (
	upsertSpansChunk = upsertSpansSQL(chunkRows)
	upsertSpansOne   = upsertSpansSQL(1)
	queueChunk       = queueSQL(chunkRows)
	queueOne         = queueSQL(1)
)

const (
	nextVersionsSQL = `UPDATE counters SET value = value + ? WHERE name = 'version' RETURNING value`
	traceExistsSQL  = `SELECT 1 FROM traces WHERE project = ? AND trace_id = ?`
	drainMovesSQL   = `DELETE FROM span_moves RETURNING project, old_trace`
)

// encoded is a span turned into its column values before the write
// transaction starts, so encoding runs outside the single writer.
type encoded struct {
	args    [17]any
	traceID string
	done    bool
}

// parallelEncodeMin is the batch size from which encoding is spread over
// the CPUs.
const parallelEncodeMin = 256

func encodeSpans(project int64, spans []translator.Span) []encoded {
	out := make([]encoded, len(spans))
	enc := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			encodeSpan(&out[i], project, &spans[i])
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

func encodeSpan(e *encoded, project int64, s *translator.Span) {
	e.traceID = s.TraceID
	e.done = !s.Running()
	var parent, usage, cost, traceName, tags, input, output any
	if s.ParentID != "" {
		parent = keyID(s.ParentID)
	}
	if s.Usage != nil {
		usage = s.Usage.Total
	}
	if s.Cost != nil {
		cost = *s.Cost
	}
	if v, ok := s.Meta["trace_name"].(string); ok && v != "" {
		traceName = v
	}
	if s.Tags != nil {
		tags = appendStrings(nil, s.Tags)
	}
	if s.Input != nil {
		input = *s.Input
	}
	if s.Output != nil {
		output = *s.Output
	}
	e.args = [...]any{project, keyID(s.ID), keyID(s.TraceID), parent, nanos(s.StartTime), nanos(s.EndTime),
		s.Type, s.Name, s.Error != nil, usage, s.Aggregate, cost, traceName, tags, input, output,
		appendBody(nil, s)}
}

// UpsertSpans implements store.Store. The roll-up of every trace the batch
// touches is recomputed from that trace's stored spans in the same
// transaction, so the trace list never disagrees with the spans.
func (s *Store) UpsertSpans(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	if len(spans) == 0 {
		return nil
	}
	for i := range spans {
		if spans[i].ID == "" || spans[i].TraceID == "" {
			return fmt.Errorf("sqlite: span %d: empty id or trace id", i)
		}
	}
	var pid int64
	var created bool
	s.projMu.RLock()
	pid, known := s.projects[project]
	s.projMu.RUnlock()
	var enc []encoded
	if known {
		enc = encodeSpans(pid, spans)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if !known {
			var err error
			if pid, created, err = s.writeProjectID(ctx, tx, project); err != nil {
				return err
			}
			enc = encodeSpans(pid, spans)
		}
		return s.upsert(ctx, tx, pid, spans, enc, forward)
	})
	if err != nil {
		return fmt.Errorf("sqlite: upsert spans: %w", err)
	}
	if created {
		s.cacheProject(project, pid)
	}
	return nil
}

// upsert writes encoded spans and refreshes the roll-ups they change. A
// trace that had no spans before the batch is rolled up from the batch
// itself; any other is re-read from the table.
func (s *Store) upsert(ctx context.Context, tx *sql.Tx, pid int64, spans []translator.Span, enc []encoded, forward bool) error {
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
		var one int
		err := exists.QueryRowContext(ctx, pid, enc[i].args[2]).Scan(&one)
		switch {
		case err == nil:
			batchTraces[tid] = true
		case errors.Is(err, sql.ErrNoRows):
			batchTraces[tid] = false
		default:
			return fmt.Errorf("read trace: %w", err)
		}
	}

	args := make([]any, 0, chunkRows*spanColumns)
	if err := s.chunked(ctx, tx, len(enc), upsertSpansChunk, upsertSpansOne, func(i int) []any {
		return append(args[:0], enc[i].args[:]...)
	}, func(lo, hi int) []any {
		args = args[:0]
		for i := lo; i < hi; i++ {
			args = append(args, enc[i].args[:]...)
		}
		return args
	}); err != nil {
		return fmt.Errorf("write spans: %w", err)
	}

	if forward {
		var last int64
		if err := tx.StmtContext(ctx, s.prepared[nextVersionsSQL]).QueryRowContext(ctx, len(enc)).Scan(&last); err != nil {
			return fmt.Errorf("versions: %w", err)
		}
		first := last - int64(len(enc)) + 1
		now := time.Now().UnixNano()
		row := func(args []any, i int) []any {
			pending := 0
			if enc[i].done {
				pending = 1
			}
			return append(args, pid, enc[i].args[1], first+int64(i), pending, now)
		}
		if err := s.chunked(ctx, tx, len(enc), queueChunk, queueOne, func(i int) []any {
			return row(args[:0], i)
		}, func(lo, hi int) []any {
			args = args[:0]
			for i := lo; i < hi; i++ {
				args = row(args, i)
			}
			return args
		}); err != nil {
			return fmt.Errorf("queue spans: %w", err)
		}
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

	var fresh map[string][]translator.Span
	for tid, existed := range batchTraces {
		if existed {
			refresh[tid] = struct{}{}
			continue
		}
		if fresh == nil {
			fresh = spansByTrace(spans)
		}
		if _, ok := refresh[tid]; ok {
			continue // also left by a moved span: re-read below
		}
		sum := translator.RollUp(fresh[tid])
		if err := s.writeTrace(ctx, tx, pid, keyID(tid), sum, sum.Tags, nil); err != nil {
			return err
		}
	}
	for tid := range refresh {
		if err := s.refreshTrace(ctx, tx, pid, tid); err != nil {
			return err
		}
	}
	return nil
}

// spansByTrace groups a batch by trace, the last write of a span id
// winning as it does in the table.
func spansByTrace(spans []translator.Span) map[string][]translator.Span {
	last := make(map[string]int, len(spans))
	for i := range spans {
		last[spans[i].ID] = i
	}
	out := map[string][]translator.Span{}
	for i := range spans {
		if last[spans[i].ID] == i {
			out[spans[i].TraceID] = append(out[spans[i].TraceID], spans[i])
		}
	}
	return out
}

// chunked executes n rows as full chunks with the chunk statement and the
// rest one by one with the single-row one.
func (s *Store) chunked(ctx context.Context, tx *sql.Tx, n int, chunkSQL, oneSQL string,
	one func(i int) []any, chunk func(lo, hi int) []any) error {
	i := 0
	if n >= chunkRows {
		st, err := s.stmt(ctx, tx, chunkSQL)
		if err != nil {
			return err
		}
		for ; i+chunkRows <= n; i += chunkRows {
			if _, err := st.ExecContext(ctx, chunk(i, i+chunkRows)...); err != nil {
				return err
			}
		}
	}
	if i < n {
		st, err := s.stmt(ctx, tx, oneSQL)
		if err != nil {
			return err
		}
		for ; i < n; i++ {
			if _, err := st.ExecContext(ctx, one(i)...); err != nil {
				return err
			}
		}
	}
	return nil
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
	return s.writeTx(ctx, func(tx *sql.Tx) error {
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
			`DELETE FROM outbox WHERE project = ? AND span_id = ?`,
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
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM spans WHERE project = ? AND trace_id = ?`, pid, tid).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: delete trace: %w", err)
		}
		if n == 0 {
			return store.ErrNotFound
		}
		for _, q := range [...]string{
			`DELETE FROM metrics WHERE project = ?1 AND span_id IN (SELECT span_id FROM spans WHERE project = ?1 AND trace_id = ?2)`,
			`DELETE FROM outbox WHERE project = ?1 AND span_id IN (SELECT span_id FROM spans WHERE project = ?1 AND trace_id = ?2)`,
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
