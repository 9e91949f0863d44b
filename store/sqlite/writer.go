package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"

	"github.com/opperotel/bridge/translator"
)

// Group commit. Every write goes through one goroutine that owns the
// writer connection. Callers queue an operation and wait; the writer takes
// the first operation off the queue, adds whatever else is already waiting
// (up to maxBatchOps operations and maxBatchSpans spans), applies them in
// order in one transaction and answers each caller after the commit. While
// it commits, new operations queue up and form the next batch: a lone
// caller is written at once, and under load one commit (and one roll-up of
// each trace touched) serves many callers.
//
// Failure isolation: UpsertSpans validates and encodes before queueing, so
// a bad span fails only its caller. Other operations (deletes, metrics,
// events, marks) run inside a savepoint of their own, so their errors
// (ErrNotFound, mostly) roll back only themselves. If the transaction
// fails anyway (an I/O error, a full disk, a lock held by another
// process), it is rolled back and its operations are retried one
// transaction each, so an error reaches only the callers it belongs to.

const (
	// maxBatchOps and maxBatchSpans bound one group commit, and with it the
	// latency a caller can be charged for others' writes. An operation is
	// never split: a larger UpsertSpans is a batch of its own.
	maxBatchOps   = 512
	maxBatchSpans = 4096
	// queueLen is how many operations may wait for the writer before
	// callers block in the queue itself.
	queueLen = 1024
)

// dataVersionSQL tells whether another connection committed since the
// writer's last transaction (rollupcache.go).
const dataVersionSQL = `PRAGMA data_version`

// errClosed is returned for writes submitted after Close.
var errClosed = errors.New("sqlite: store closed")

// writeOp is one caller's write: an UpsertSpans (spans set) or any other
// write transaction (fn set).
type writeOp struct {
	ctx context.Context

	// UpsertSpans.
	project string
	spans   []translator.Span
	enc     []encoded // encoded for encPID; re-encoded if the project id differs
	encPID  int64
	forward bool

	// Other writes. fn runs inside the batch's transaction; it must use
	// the context it is given (the writer's), not its caller's: cancelling
	// a statement would abort the shared transaction.
	fn func(ctx context.Context, tx *sql.Tx) error

	err  error
	done chan error // buffered: the writer never blocks on a caller that left
}

func (op *writeOp) size() int {
	if op.fn != nil {
		return 1
	}
	return len(op.spans)
}

// submit queues op and waits for the commit of the transaction that holds
// it. A caller whose context ends stops waiting; an operation not yet
// started by then is skipped, one already in a transaction may still
// commit.
func (s *Store) submit(ctx context.Context, op *writeOp) error {
	op.ctx = ctx
	op.done = make(chan error, 1)
	s.queueMu.RLock()
	if s.closed {
		s.queueMu.RUnlock()
		return errClosed
	}
	select {
	case s.queue <- op:
	case <-ctx.Done():
		s.queueMu.RUnlock()
		return ctx.Err()
	}
	s.queueMu.RUnlock()
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runWriter is the writer goroutine. It returns once the queue is closed
// and drained.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	var carry *writeOp
	batch := make([]*writeOp, 0, 64)
	for {
		first := carry
		carry = nil
		if first == nil {
			op, ok := <-s.queue
			if !ok {
				return
			}
			first = op
		}
		batch = append(batch[:0], first)
		n := first.size()
		// Let the callers the last commit woke (runnable, not yet running
		// on two cores) queue their next writes before the batch closes. A
		// yield, not a wait: with nothing else runnable it returns at once.
		runtime.Gosched()
	collect:
		for len(batch) < maxBatchOps && n < maxBatchSpans {
			select {
			case op, ok := <-s.queue:
				if !ok {
					break collect
				}
				if n+op.size() > maxBatchSpans {
					carry = op
					break collect
				}
				batch = append(batch, op)
				n += op.size()
			default:
				break collect
			}
		}
		s.apply(batch)
		clear(batch)
	}
}

// apply writes a batch and answers its callers.
func (s *Store) apply(batch []*writeOp) {
	live := make([]*writeOp, 0, len(batch))
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.done <- err // the caller has gone: do not write
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	if err := s.commitBatch(live); err != nil {
		if len(live) == 1 {
			live[0].err = err
		} else {
			// Nothing of the batch was written: retry each operation
			// alone, so the error reaches only the one(s) it belongs to.
			for _, op := range live {
				op.err = nil
				if err := s.commitBatch([]*writeOp{op}); err != nil {
					op.err = err
				}
			}
		}
	}
	for _, op := range live {
		op.done <- op.err
	}
}

// newProject is a project created by a batch, cached once it commits.
type newProject struct {
	name string
	id   int64
}

// commitBatch applies ops in order in one transaction and commits it. An
// error of an op's own (fn's result) is recorded in op.err and rolls back
// that op only; an error returned means nothing was written.
// flushNamesSQL moves the trace names the transaction's triggers noted
// into the trigram index, old ones out first (schema.go, migration 3).
var flushNamesSQL = []string{
	`DELETE FROM trace_names WHERE rowid IN (SELECT id FROM trace_names_gone)`,
	`DELETE FROM trace_names_gone`,
	`INSERT INTO trace_names (rowid, name) SELECT id, name FROM trace_names_new`,
	`DELETE FROM trace_names_new`,
}

func (s *Store) flushNames(ctx context.Context, tx *sql.Tx) error {
	for _, q := range flushNamesSQL {
		st, err := s.stmt(ctx, tx, q)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx); err != nil {
			return fmt.Errorf("sqlite: trace name index: %w", err)
		}
	}
	return nil
}

func (s *Store) commitBatch(ops []*writeOp) (err error) {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			s.rollups.rollback()
		}
	}()
	dv, err := s.stmt(ctx, tx, dataVersionSQL)
	if err != nil {
		return err
	}
	var version int64
	if err := dv.QueryRowContext(ctx).Scan(&version); err != nil {
		return fmt.Errorf("sqlite: data version: %w", err)
	}
	s.rollups.begin(version)
	var created []newProject
	for i := 0; i < len(ops); {
		if ops[i].fn == nil {
			// A run of upserts is written as one.
			j := i + 1
			for j < len(ops) && ops[j].fn == nil {
				j++
			}
			if err := s.upsertOps(ctx, tx, ops[i:j], &created); err != nil {
				return fmt.Errorf("sqlite: upsert spans: %w", err)
			}
			i = j
			continue
		}
		op := ops[i]
		i++
		if len(ops) == 1 {
			if op.err = op.fn(ctx, tx); op.err != nil {
				_ = tx.Rollback()
				s.rollups.rollback()
				return nil
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			return fmt.Errorf("sqlite: savepoint: %w", err)
		}
		if op.err = op.fn(ctx, tx); op.err != nil {
			s.rollups.poison()
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
				return fmt.Errorf("sqlite: rollback to savepoint: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
			return fmt.Errorf("sqlite: release savepoint: %w", err)
		}
	}
	if err := s.flushNames(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	s.rollups.commit()
	s.rollups.commits.Add(1)
	s.rollups.ops.Add(int64(len(ops)))
	for _, p := range created {
		s.cacheProject(p.name, p.id)
	}
	s.ck.poke()
	return nil
}

// upsertOps writes a run of UpsertSpans operations: per project, all their
// spans in order with one set of multi-row statements and one roll-up of
// each trace touched.
func (s *Store) upsertOps(ctx context.Context, tx *sql.Tx, ops []*writeOp, created *[]newProject) error {
	if len(ops) == 1 {
		return s.upsertProject(ctx, tx, ops, created)
	}
	// Group by project, keeping the order within each; projects share no
	// rows, so the order between them does not matter.
	var order []string
	byProject := make(map[string][]*writeOp, 2)
	for _, op := range ops {
		if _, ok := byProject[op.project]; !ok {
			order = append(order, op.project)
		}
		byProject[op.project] = append(byProject[op.project], op)
	}
	for _, p := range order {
		if err := s.upsertProject(ctx, tx, byProject[p], created); err != nil {
			return err
		}
	}
	return nil
}

// upsertProject writes the upserts of one project.
func (s *Store) upsertProject(ctx context.Context, tx *sql.Tx, ops []*writeOp, created *[]newProject) error {
	name := ops[0].project
	pid, isNew, err := s.writeProjectID(ctx, tx, name)
	if err != nil {
		return err
	}
	if isNew {
		*created = append(*created, newProject{name, pid})
	}
	for _, op := range ops {
		if op.enc == nil || op.encPID != pid {
			op.enc, op.encPID = encodeSpans(pid, op.spans, op.forward), pid
		}
	}
	if len(ops) == 1 {
		return s.upsert(ctx, tx, pid, ops[0].spans, ops[0].enc)
	}
	n := 0
	for _, op := range ops {
		n += len(op.spans)
	}
	spans := make([]translator.Span, 0, n)
	enc := make([]encoded, 0, n)
	for _, op := range ops {
		spans = append(spans, op.spans...)
		enc = append(enc, op.enc...)
	}
	return s.upsert(ctx, tx, pid, spans, enc)
}
