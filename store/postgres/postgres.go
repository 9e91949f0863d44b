// Package postgres is the PostgreSQL backend of the trace store, for
// several collectors (receiver replicas behind a load balancer) sharing one
// trace tree. It keeps the layout of the SQLite backend (one row per span,
// a roll-up row per trace, the outbox in the span rows) and adds what
// concurrent writers in different processes need: per-trace advisory locks
// around every roll-up, read-modify-write updates under a row lock, and
// outbox leases. See README.md in the parent directory.
package postgres // import "github.com/opperotel/bridge/store/postgres"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opperotel/bridge/store"
)

// Config configures the store.
type Config struct {
	// DSN is a libpq connection string or URL
	// (postgres://user:pass@host:5432/db?sslmode=require).
	DSN string
	// MaxConns bounds the connection pool; 0: pgx's default (the larger of
	// 4 and the number of CPUs).
	MaxConns int32
	// ConnectTimeout bounds reaching the database at Open (and each new
	// connection later); 0: 10 s.
	ConnectTimeout time.Duration
	// OutboxLease is how long spans PendingForward handed to this store
	// stay reserved for it after its last sign of life: the store renews
	// its leases every third of this while it is open, and releases them
	// when it closes, so another replica takes them over only from a store
	// that died (or stalled for this long). 0: 15 s.
	OutboxLease time.Duration
}

const (
	defaultConnectTimeout = 10 * time.Second
	defaultOutboxLease    = 15 * time.Second
	// txAttempts bounds the retries of a transaction that lost a deadlock
	// or a serialization conflict to another writer.
	txAttempts = 8
)

// Store is the PostgreSQL trace store; see store.Store for the contract.
type Store struct {
	pool  *pgxpool.Pool
	lease time.Duration
	// owner names this store's outbox leases: one per Open, so a restarted
	// replica does not mistake its predecessor's leases for its own.
	owner uuid.UUID

	projMu   sync.RWMutex
	projects map[string]int32

	stopRenew context.CancelFunc
	renewDone chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects, checks that the database answers, and brings its schema
// to this build's version (one process at a time, under an advisory lock).
// A database that cannot be reached, or whose schema is newer than this
// build knows, is an error: a collector must not start on it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("postgres: the dsn is not a valid connection string or URL")
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	pcfg.ConnConfig.ConnectTimeout = timeout
	lease := cfg.OutboxLease
	if lease <= 0 {
		lease = defaultOutboxLease
	}
	where := fmt.Sprintf("%s:%d/%s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database at %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	s := &Store{pool: pool, lease: lease, owner: uuid.New(), projects: map[string]int32{}, renewDone: make(chan struct{})}
	renewCtx, stop := context.WithCancel(context.Background())
	s.stopRenew = stop
	go s.renewLeases(renewCtx)
	return s, nil
}

// Close implements store.Store: it releases this store's outbox leases, so
// another replica (or this one, restarted) forwards those spans at once.
func (s *Store) Close() error {
	s.stopRenew()
	<-s.renewDone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE spans SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`, s.owner)
	s.pool.Close()
	if err != nil && !unavailable(err) {
		return wrap("release outbox leases", err)
	}
	return nil
}

// renewLeases keeps this store's outbox leases alive while it runs: a
// forward may take longer than one lease (a slow next hop), and a dead
// replica's leases then run out within one OutboxLease of its death.
func (s *Store) renewLeases(ctx context.Context) {
	defer close(s.renewDone)
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A failure (the database is down) is retried at the next tick;
		// the lease was meant to outlast a few of them.
		_, _ = s.pool.Exec(ctx, `UPDATE spans SET lease_until = now() + $2::interval WHERE lease_owner = $1`, s.owner, s.lease)
	}
}

// projectID returns the id of a project, if it has one.
func (s *Store) projectID(ctx context.Context, name string) (int32, bool, error) {
	s.projMu.RLock()
	id, ok := s.projects[name]
	s.projMu.RUnlock()
	if ok {
		return id, true, nil
	}
	err := s.pool.QueryRow(ctx, `SELECT id FROM projects WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap("read project", err)
	}
	s.cacheProject(name, id)
	return id, true, nil
}

func (s *Store) cacheProject(name string, id int32) {
	s.projMu.Lock()
	s.projects[name] = id
	s.projMu.Unlock()
}

// ensureProject returns the id of a project, creating it if needed, in its
// own statement (a project, once made, stays).
func (s *Store) ensureProject(ctx context.Context, name string) (int32, error) {
	if id, ok, err := s.projectID(ctx, name); err != nil || ok {
		return id, err
	}
	var id int32
	var err error
	// A project another replica is creating at the same moment is not in
	// the statement's snapshot when the insert gives way to it; the next
	// statement sees it.
	for range 3 {
		err = s.pool.QueryRow(ctx, `
WITH ins AS (INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id)
SELECT id FROM ins UNION ALL SELECT id FROM projects WHERE name = $1 LIMIT 1`, name).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return 0, wrap("create project", err)
	}
	s.cacheProject(name, id)
	return id, nil
}

// inTx runs fn in a read-committed transaction, again from the start when
// it lost a deadlock or serialization conflict to another writer (another
// replica writing the same traces).
func (s *Store) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || attempt == txAttempts || !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return wrap(what, ctx.Err())
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
	return wrap(what, err)
}

// retryable reports a conflict between transactions that a retry
// resolves: a deadlock, a serialization failure, or a unique violation (a
// span COPY meant as new that another writer inserted meanwhile; the next
// attempt finds it stored).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001" || pe.Code == "23505")
}

// wrap names the operation in err, and marks an error that says the
// database cannot be reached or is not serving (as opposed to a bad
// request) as store.ErrUnavailable. ErrNotFound, ErrConflict and context
// errors pass through as they are.
func wrap(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case unavailable(err):
		return fmt.Errorf("postgres: %s: %w: %w", what, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// unavailable reports errors of a database that is down, restarting,
// unreachable or out of resources: connection failures, and the SQLSTATE
// classes 08 (connection exception), 53 (insufficient resources), 57P
// (operator intervention: shutdown, cannot connect now) and 58 (system
// error).
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c := pe.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P") ||
			strings.HasPrefix(c, "58")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "unexpected EOF")
}
