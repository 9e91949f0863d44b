package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations[i] takes the schema from version i to i+1. Append only: a
// released migration is never edited, a change is a new entry.
//
// Text columns hold what PostgreSQL's text can: valid UTF-8 without NUL
// (txt); the body keeps every string exactly, and input and output, which
// may be anything, are bytea. name_lower is Go's strings.ToLower of the
// name, so the name filter folds case exactly as SQLite's does.
//
// Ids are text in the "C" collation (byte order: the cheapest comparison,
// and the order SQLite keeps). Times are Unix nanoseconds, as in SQLite;
// the body keeps the exact value. span_id and trace_id are the keys of
// every index.
var migrations = []string{
	// 1: the layout of SQLite's schema version 4, plus the outbox lease.
	`
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE projects (
	id   serial PRIMARY KEY,
	name text NOT NULL UNIQUE
);

CREATE SEQUENCE span_versions;

-- One row per span. The columns are what the roll-up, the filters and the
-- outbox read; body holds the full span (store/internal/spanrow) minus
-- input and output. The forward state (version, pending, forwarded,
-- written_ns) works as in SQLite; lease_owner and lease_until reserve a
-- due span for the replica that read it (PendingForward).
CREATE TABLE spans (
	project     integer NOT NULL,
	span_id     text COLLATE "C" NOT NULL,
	trace_id    text COLLATE "C" NOT NULL,
	version     bigint DEFAULT nextval('span_versions'),
	pending     smallint,
	forwarded   smallint NOT NULL DEFAULT 0,
	written_ns  bigint,
	lease_owner uuid,
	lease_until timestamptz,
	parent_id   text COLLATE "C",
	start_ns    bigint,
	end_ns      bigint,
	type        text NOT NULL,
	name        text NOT NULL,
	has_error   boolean NOT NULL,
	usage_total bigint,
	aggregate   boolean NOT NULL,
	cost        double precision,
	trace_name  text,
	tags        bytea,
	model       text,
	input_head  bytea,
	output_head bytea,
	input       bytea,
	output      bytea,
	body        bytea NOT NULL,
	PRIMARY KEY (project, span_id)
);
CREATE INDEX spans_trace ON spans (project, trace_id);
CREATE INDEX spans_queue ON spans (pending, written_ns) WHERE pending IS NOT NULL;
-- The spans a store holds a lease on, for its renewals and its release.
CREATE INDEX spans_leased ON spans (lease_owner) WHERE lease_owner IS NOT NULL;

-- The roll-up of each trace, rewritten under the trace's advisory lock by
-- the transaction that changes one of its spans.
CREATE TABLE traces (
	project      integer NOT NULL,
	trace_id     text COLLATE "C" NOT NULL,
	start_ns     bigint,
	end_ns       bigint,
	duration_ns  bigint NOT NULL,
	status       text NOT NULL,
	cost         double precision NOT NULL,
	name         text NOT NULL,
	name_lower   text NOT NULL,
	has_cost     boolean NOT NULL,
	span_count   bigint NOT NULL,
	error_spans  bigint NOT NULL,
	total_tokens bigint NOT NULL,
	type_counts  bytea NOT NULL,
	tags         bytea,
	root_id      text COLLATE "C" NOT NULL,
	model_usage  bytea,
	PRIMARY KEY (project, trace_id)
);
CREATE INDEX traces_list ON traces (project, start_ns DESC NULLS LAST, trace_id DESC);
CREATE INDEX traces_status ON traces (project, status, start_ns DESC NULLS LAST, trace_id DESC);
CREATE INDEX traces_duration ON traces (project, duration_ns);
CREATE INDEX traces_cost ON traces (project, cost);
-- Name substrings (three characters and more) through trigrams.
CREATE INDEX traces_name ON traces USING gin (name_lower gin_trgm_ops);

-- Each project's number of traces by status, in shards: every new trace
-- adds one to its status, a trace that completes moves from running to ok
-- or error, and concurrent writers pick different shards instead of
-- queueing on one row. The unfiltered list's exact total, and a status
-- filter's alone, is the sum of a few rows.
CREATE TABLE trace_counts (
	project integer NOT NULL,
	status  text NOT NULL,
	shard   integer NOT NULL,
	n       bigint NOT NULL,
	PRIMARY KEY (project, status, shard)
);

-- The root's tags, for the tag filter.
CREATE TABLE trace_tags (
	project  integer NOT NULL,
	tag      text NOT NULL,
	trace_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (project, tag, trace_id)
);

-- Models, users, sessions and services of a trace's spans (store.Facets).
CREATE TABLE trace_facets (
	project  integer NOT NULL,
	facet    text NOT NULL,
	trace_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (project, facet, trace_id)
);
CREATE INDEX trace_facets_trace ON trace_facets (project, trace_id);

CREATE TABLE metrics (
	seq        bigserial PRIMARY KEY,
	id         text COLLATE "C" NOT NULL,
	project    integer NOT NULL,
	span_id    text COLLATE "C" NOT NULL,
	dimension  text NOT NULL,
	value      double precision NOT NULL,
	comment    text,
	created_ns bigint NOT NULL
);
CREATE UNIQUE INDEX metrics_id ON metrics (project, id);
CREATE INDEX metrics_span ON metrics (project, span_id, seq);

CREATE TABLE events (
	seq        bigserial PRIMARY KEY,
	id         text COLLATE "C" NOT NULL,
	project    integer NOT NULL,
	trace_id   text COLLATE "C" NOT NULL,
	span_id    text COLLATE "C",
	kind       text NOT NULL,
	source     text NOT NULL,
	data       bytea,
	created_ns bigint NOT NULL
);
CREATE INDEX events_trace ON events (project, trace_id, seq);
CREATE INDEX events_span ON events (project, span_id, seq);
`,
}

// migrationLock is the advisory lock key that serializes migrations across
// replicas starting together ("opper" + schema, as a number).
const migrationLock int64 = 0x6f70706572_0001

// migrate brings the schema to this build's version. Replicas starting at
// once queue on an advisory lock: the first migrates, the others find the
// schema current. Each migration commits with its version, so one that
// fails leaves the schema at the last good version.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock) }()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS opper_schema_version (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create opper_schema_version: %w", err)
	}
	var v int
	switch err := conn.QueryRow(ctx, `SELECT version FROM opper_schema_version`).Scan(&v); {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := conn.Exec(ctx, `INSERT INTO opper_schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: init opper_schema_version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: read opper_schema_version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("the database schema is version %d, newer than this build's %d: "+
			"run a build at least as new as the one that migrated it", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE opper_schema_version SET version = $1`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	return nil
}
