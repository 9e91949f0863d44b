package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations[i] takes the schema from version i to i+1. Append only: a
// released migration is never edited, a change is a new entry.
var migrations = []string{
	// 1: the initial layout. See README.md for why it looks like this.
	`
CREATE TABLE projects (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);

-- One row per span. The columns are what the roll-up, the filters and the
-- outbox read; body holds the full span (codec.go) minus input and
-- output, which are columns so the trace list can join the root's content.
CREATE TABLE spans (
	project     INTEGER NOT NULL,
	span_id     BLOB NOT NULL,
	trace_id    BLOB NOT NULL,
	parent_id   BLOB,
	start_ns    INTEGER,
	end_ns      INTEGER,
	type        TEXT NOT NULL,
	name        TEXT NOT NULL,
	has_error   INTEGER NOT NULL,
	usage_total INTEGER,
	aggregate   INTEGER NOT NULL,
	cost        REAL,
	trace_name  TEXT,
	tags        BLOB,
	input       TEXT,
	output      TEXT,
	body        BLOB NOT NULL,
	PRIMARY KEY (project, span_id)
);
CREATE INDEX spans_trace ON spans (project, trace_id);

-- A span rewritten with another trace id leaves a row here, so the write
-- that moved it also recomputes the roll-up of the trace it left. The
-- writer drains it in the same transaction; it is empty between writes.
-- Its events follow it.
CREATE TABLE span_moves (
	project   INTEGER NOT NULL,
	old_trace BLOB NOT NULL
);
CREATE TRIGGER spans_moved AFTER UPDATE OF trace_id ON spans
WHEN OLD.trace_id IS NOT NEW.trace_id
BEGIN
	INSERT INTO span_moves (project, old_trace) VALUES (OLD.project, OLD.trace_id);
	UPDATE events SET trace_id = NEW.trace_id WHERE project = NEW.project AND span_id = NEW.span_id;
END;

-- Store-wide counters: "version" numbers span writes for the outbox.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('version', 0);

-- The roll-up of each trace, rewritten in the transaction that changes
-- one of its spans. list_order serves newest-first listing and, as a
-- covering index, the exact count under every column filter.
CREATE TABLE traces (
	project      INTEGER NOT NULL,
	trace_id     BLOB NOT NULL,
	start_ns     INTEGER,
	end_ns       INTEGER,
	duration_ns  INTEGER NOT NULL,
	status       TEXT NOT NULL,
	cost         REAL NOT NULL,
	name         TEXT NOT NULL,
	name_lower   TEXT NOT NULL,
	has_cost     INTEGER NOT NULL,
	span_count   INTEGER NOT NULL,
	error_spans  INTEGER NOT NULL,
	total_tokens INTEGER NOT NULL,
	type_counts  BLOB NOT NULL,
	tags         BLOB,
	root_id      BLOB NOT NULL,
	PRIMARY KEY (project, trace_id)
);
CREATE INDEX traces_list ON traces (project, start_ns DESC, trace_id DESC, status, duration_ns, cost, name_lower);

-- The root's tags, for the tag filter.
CREATE TABLE trace_tags (
	project  INTEGER NOT NULL,
	tag      TEXT NOT NULL,
	trace_id BLOB NOT NULL,
	PRIMARY KEY (project, tag, trace_id)
) WITHOUT ROWID;

-- Forward state of every span written with forward on. pending is 1 for a
-- completed span to forward, 0 for a running one (forwarded as incomplete
-- once written_ns is old enough), NULL when nothing is due; forwarded is
-- 0 (never), 1 (as incomplete) or 2 (complete). Rows are small and
-- outlive their forward, so a replayed span is not forwarded twice; only
-- the partial index is a queue.
CREATE TABLE outbox (
	project    INTEGER NOT NULL,
	span_id    BLOB NOT NULL,
	version    INTEGER NOT NULL,
	pending    INTEGER,
	forwarded  INTEGER NOT NULL,
	written_ns INTEGER NOT NULL,
	PRIMARY KEY (project, span_id)
) WITHOUT ROWID;
CREATE INDEX outbox_queue ON outbox (pending, written_ns) WHERE pending IS NOT NULL;

CREATE TABLE metrics (
	seq        INTEGER PRIMARY KEY,
	id         BLOB NOT NULL,
	project    INTEGER NOT NULL,
	span_id    BLOB NOT NULL,
	dimension  TEXT NOT NULL,
	value      REAL NOT NULL,
	comment    TEXT,
	created_ns INTEGER NOT NULL
);
CREATE UNIQUE INDEX metrics_id ON metrics (project, id);
CREATE INDEX metrics_span ON metrics (project, span_id, seq);

CREATE TABLE events (
	seq        INTEGER PRIMARY KEY,
	id         BLOB NOT NULL,
	project    INTEGER NOT NULL,
	trace_id   BLOB NOT NULL,
	span_id    BLOB,
	kind       TEXT NOT NULL,
	source     TEXT NOT NULL,
	data       BLOB,
	created_ns INTEGER NOT NULL
);
CREATE INDEX events_trace ON events (project, trace_id, seq);
CREATE INDEX events_span ON events (project, span_id, seq);
`,

	// 2: the forward state moves from the outbox table into spans, so a
	// span write lands in one table fewer (four B-trees, not five). The
	// table is rebuilt to put the new columns before the large ones: a
	// mark or a queue read then never touches a row's overflow pages.
	`
CREATE TABLE spans_v2 (
	project     INTEGER NOT NULL,
	span_id     BLOB NOT NULL,
	trace_id    BLOB NOT NULL,
	-- Forward state, for spans written with forward on. pending is 1 for a
	-- completed span to forward, 0 for a running one (forwarded as
	-- incomplete once written_ns is old enough), NULL when nothing is due;
	-- forwarded is 0 (never), 1 (as incomplete) or 2 (complete). The state
	-- outlives the forward, so a replayed span is not forwarded twice; only
	-- the partial index spans_queue is a queue. version numbers the writes
	-- (counters.version), so a mark of an older write is ignored.
	version     INTEGER,
	pending     INTEGER,
	forwarded   INTEGER NOT NULL DEFAULT 0,
	written_ns  INTEGER,
	parent_id   BLOB,
	start_ns    INTEGER,
	end_ns      INTEGER,
	type        TEXT NOT NULL,
	name        TEXT NOT NULL,
	has_error   INTEGER NOT NULL,
	usage_total INTEGER,
	aggregate   INTEGER NOT NULL,
	cost        REAL,
	trace_name  TEXT,
	tags        BLOB,
	input       TEXT,
	output      TEXT,
	body        BLOB NOT NULL,
	PRIMARY KEY (project, span_id)
);
INSERT INTO spans_v2 (project, span_id, trace_id, version, pending, forwarded, written_ns, parent_id, start_ns,
	end_ns, type, name, has_error, usage_total, aggregate, cost, trace_name, tags, input, output, body)
SELECT s.project, s.span_id, s.trace_id, o.version, o.pending, coalesce(o.forwarded, 0), o.written_ns,
	s.parent_id, s.start_ns, s.end_ns, s.type, s.name, s.has_error, s.usage_total, s.aggregate, s.cost,
	s.trace_name, s.tags, s.input, s.output, s.body
FROM spans s LEFT JOIN outbox o ON o.project = s.project AND o.span_id = s.span_id;
DROP TABLE outbox;
DROP TABLE spans;
ALTER TABLE spans_v2 RENAME TO spans;
CREATE INDEX spans_trace ON spans (project, trace_id);
CREATE INDEX spans_queue ON spans (pending, written_ns) WHERE pending IS NOT NULL;
CREATE TRIGGER spans_moved AFTER UPDATE OF trace_id ON spans
WHEN OLD.trace_id IS NOT NEW.trace_id
BEGIN
	INSERT INTO span_moves (project, old_trace) VALUES (OLD.project, OLD.trace_id);
	UPDATE events SET trace_id = NEW.trace_id WHERE project = NEW.project AND span_id = NEW.span_id;
END;
`,

	// 3: the trace list stays as fast at a million traces as at a
	// thousand. input_head and output_head hold the first 4 KiB of an input
	// or output longer than that (NULL otherwise), before the large columns,
	// so a list page reads a bounded preview of each root, never its whole
	// content. trace_counts keeps each project's number of traces, so the
	// unfiltered list counts in O(1); trace_names is a trigram index of
	// trace names (without positions), so a name substring is counted from
	// the traces that have all its trigrams; and
	// status, duration and cost each have an index a filter on them counts
	// from. Triggers on traces keep all of it in the roll-up's transaction.
	`
CREATE TABLE spans_v3 (
	project     INTEGER NOT NULL,
	span_id     BLOB NOT NULL,
	trace_id    BLOB NOT NULL,
	version     INTEGER,
	pending     INTEGER,
	forwarded   INTEGER NOT NULL DEFAULT 0,
	written_ns  INTEGER,
	parent_id   BLOB,
	start_ns    INTEGER,
	end_ns      INTEGER,
	type        TEXT NOT NULL,
	name        TEXT NOT NULL,
	has_error   INTEGER NOT NULL,
	usage_total INTEGER,
	aggregate   INTEGER NOT NULL,
	cost        REAL,
	trace_name  TEXT,
	tags        BLOB,
	input_head  TEXT,
	output_head TEXT,
	input       TEXT,
	output      TEXT,
	body        BLOB NOT NULL,
	PRIMARY KEY (project, span_id)
);
INSERT INTO spans_v3 (project, span_id, trace_id, version, pending, forwarded, written_ns, parent_id, start_ns,
	end_ns, type, name, has_error, usage_total, aggregate, cost, trace_name, tags, input_head, output_head,
	input, output, body)
SELECT project, span_id, trace_id, version, pending, forwarded, written_ns, parent_id, start_ns,
	end_ns, type, name, has_error, usage_total, aggregate, cost, trace_name, tags,
	CASE WHEN length(CAST(input AS BLOB)) > 4096 THEN substr(input, 1, 1024) END,
	CASE WHEN length(CAST(output AS BLOB)) > 4096 THEN substr(output, 1, 1024) END,
	input, output, body
FROM spans;
DROP TABLE spans;
ALTER TABLE spans_v3 RENAME TO spans;
CREATE INDEX spans_trace ON spans (project, trace_id);
CREATE INDEX spans_queue ON spans (pending, written_ns) WHERE pending IS NOT NULL;
CREATE TRIGGER spans_moved AFTER UPDATE OF trace_id ON spans
WHEN OLD.trace_id IS NOT NEW.trace_id
BEGIN
	INSERT INTO span_moves (project, old_trace) VALUES (OLD.project, OLD.trace_id);
	UPDATE events SET trace_id = NEW.trace_id WHERE project = NEW.project AND span_id = NEW.span_id;
END;

CREATE TABLE trace_counts (
	project INTEGER PRIMARY KEY,
	n       INTEGER NOT NULL
);
INSERT INTO trace_counts (project, n) SELECT project, count(*) FROM traces GROUP BY project;
-- An upsert that updates an existing roll-up fires neither trigger.
CREATE TRIGGER traces_counted AFTER INSERT ON traces
BEGIN
	INSERT INTO trace_counts (project, n) VALUES (NEW.project, 1)
	ON CONFLICT (project) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER traces_uncounted AFTER DELETE ON traces
BEGIN
	UPDATE trace_counts SET n = n - 1 WHERE project = OLD.project;
END;

CREATE VIRTUAL TABLE trace_names USING fts5(name, tokenize = 'trigram', detail = 'none', content = '', contentless_delete = 1);
INSERT INTO trace_names (rowid, name) SELECT rowid, name FROM traces;
-- FTS5 writes its pending terms out whenever a statement of the transaction
-- opens a savepoint, which every write statement does: fed row by row by
-- triggers, it wrote a segment per trace and spent its time merging them.
-- So triggers note new and old names here, and the writer moves them into
-- trace_names in two statements at the end of each transaction
-- (flushNamesSQL). A name noted as new is never also noted as gone: its row
-- is not in trace_names yet.
CREATE TABLE trace_names_new (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL
);
CREATE TABLE trace_names_gone (
	id INTEGER PRIMARY KEY
);
CREATE TRIGGER traces_named AFTER INSERT ON traces
BEGIN
	INSERT OR REPLACE INTO trace_names_new (id, name) VALUES (NEW.rowid, NEW.name);
END;
CREATE TRIGGER traces_renamed AFTER UPDATE OF name ON traces
WHEN OLD.name IS NOT NEW.name
BEGIN
	INSERT OR IGNORE INTO trace_names_gone (id)
	SELECT OLD.rowid WHERE NOT EXISTS (SELECT 1 FROM trace_names_new WHERE id = OLD.rowid);
	INSERT OR REPLACE INTO trace_names_new (id, name) VALUES (NEW.rowid, NEW.name);
END;
CREATE TRIGGER traces_unnamed AFTER DELETE ON traces
BEGIN
	INSERT OR IGNORE INTO trace_names_gone (id)
	SELECT OLD.rowid WHERE NOT EXISTS (SELECT 1 FROM trace_names_new WHERE id = OLD.rowid);
	DELETE FROM trace_names_new WHERE id = OLD.rowid;
END;

CREATE INDEX traces_status ON traces (project, status, start_ns DESC, trace_id DESC);
CREATE INDEX traces_duration ON traces (project, duration_ns);
CREATE INDEX traces_cost ON traces (project, cost);
`,
	// 4: the trace list filters by the models, users, sessions and services
	// of a trace's spans. A facet ("model:gpt-4o", "user:u1", "session:s1",
	// "service:checkout") is
	// added when a span that has it is written, and removed with the trace:
	// a span rewritten without it (rare) leaves it. Spans written before
	// this version have none. Each span row keeps its model, and each
	// trace its usage by model (calls, tokens, cost), for totals per model
	// over a time range; a trace rolled up before this version has none
	// until one of its spans is written again.
	`
ALTER TABLE spans ADD COLUMN model TEXT;
ALTER TABLE traces ADD COLUMN model_usage BLOB;

CREATE TABLE trace_facets (
	project  INTEGER NOT NULL,
	facet    TEXT NOT NULL,
	trace_id BLOB NOT NULL,
	PRIMARY KEY (project, facet, trace_id)
) WITHOUT ROWID;
CREATE INDEX trace_facets_trace ON trace_facets (project, trace_id);
`,
}

// migrate brings the schema to the newest version in one immediate
// transaction, so two processes opening a new file do not both migrate it.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var v int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("init schema_version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read schema_version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this build's %d", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, v); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
