// Package sqlite is the embedded trace store: one SQLite file, through the
// pure-Go modernc.org/sqlite driver (no cgo), in WAL mode with one writer
// connection and a pool of readers. README.md in the parent directory
// describes the layout.
package sqlite // import "github.com/opperotel/bridge/store/sqlite"

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/opperotel/bridge/store"
)

// Config configures the SQLite store.
type Config struct {
	// Path is the database file; its directory is created if missing.
	Path string
	// FullSync makes every commit wait for the disk (synchronous=FULL), so
	// a write that returned survives a power loss too. By default
	// (synchronous=NORMAL in WAL mode) it survives a crash of the process,
	// and a power loss can take back the last commits, never corrupt the file.
	FullSync bool
	// BusyTimeout is how long a statement waits for a lock held by another
	// process sharing the file; 0 means 10s.
	BusyTimeout time.Duration
	// CacheSizeMiB is the page cache of each connection; 0 means 32.
	CacheSizeMiB int
	// MmapSizeMiB maps that much of the file into memory for reads, which
	// saves a copy per page read; 0 means 256, negative disables it.
	MmapSizeMiB int
	// MaxReaders bounds the read connections; 0 means 2*GOMAXPROCS, at least 4.
	MaxReaders int
	// PageSize is the page size of a new database file in bytes, a power
	// of two from 512 to 65536; 0 means 4096. An existing file keeps its own.
	PageSize int
}

// Store is the SQLite trace store. It is safe for concurrent use; writes
// are serialized on one connection, reads run concurrently on the others
// and see the last committed state (WAL snapshots).
type Store struct {
	w  *sql.DB // exactly one connection: every write transaction
	r  *sql.DB // read-only connections
	ck *checkpointer

	prepared map[string]*sql.Stmt // by SQL text, written once in Open

	projMu   sync.RWMutex
	projects map[string]int64 // committed projects only

	// Group commit (writer.go): callers queue writes, one goroutine
	// applies them. queueMu orders sends against Close closing the queue.
	queue      chan *writeOp
	queueMu    sync.RWMutex
	closed     bool
	writerDone chan struct{}
	rollups    *rollupCache // the writer's alone
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store at cfg.Path and brings its schema to the
// current version.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if cfg.CacheSizeMiB <= 0 {
		cfg.CacheSizeMiB = 32
	}
	if cfg.MmapSizeMiB == 0 {
		cfg.MmapSizeMiB = 256
	}
	if cfg.MaxReaders <= 0 {
		cfg.MaxReaders = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = 4096
	}

	w, err := sql.Open("sqlite", dsn(cfg, roleWriter))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// One connection that never expires: writes serialize on it, and the
	// statements prepared on it stay prepared.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The page size only takes on a new file, before it turns to WAL.
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", cfg.PageSize)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %s: page size: %w", cfg.Path, err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil || mode != "wal" {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %s: WAL mode (got %q): %w", cfg.Path, mode, err)
	}
	if err := migrate(ctx, w); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", cfg.Path, err)
	}
	r, err := sql.Open("sqlite", dsn(cfg, roleReader))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(cfg.MaxReaders)
	r.SetMaxIdleConns(cfg.MaxReaders)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	ck, err := startCheckpointer(dsn(cfg, roleCheckpointer))
	if err != nil {
		_ = errors.Join(r.Close(), w.Close())
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	s := &Store{w: w, r: r, ck: ck, projects: map[string]int64{},
		queue: make(chan *writeOp, queueLen), writerDone: make(chan struct{}), rollups: newRollupCache()}
	go s.runWriter()
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}

type role int

const (
	roleWriter role = iota
	roleReader
	roleCheckpointer
)

// walBackstop is the WAL size, in pages, at which the writer checkpoints
// itself: only when the background checkpointer falls that far behind.
const walBackstop = 50000

// cacheMiB is a connection's page cache: the writer's holds the hot
// B-tree pages every commit changes; a reader's mostly sees pages through
// mmap and needs the cache only for pages still in the WAL; the
// checkpointer only moves pages. Sizing each for its job keeps the
// process's memory down as pages grow (with 16 KiB pages, equal caches all
// filled and took 160 MB more).
func cacheMiB(cfg Config, r role) int {
	switch r {
	case roleReader:
		return max(cfg.CacheSizeMiB/4, 2)
	case roleCheckpointer:
		return 2
	}
	return cfg.CacheSizeMiB
}

// dsn builds the driver's connection string. The writer begins every
// transaction IMMEDIATE, taking the write lock up front, so a transaction
// never fails half-way on a lock another process took meanwhile.
func dsn(cfg Config, r role) string {
	q := url.Values{}
	mode := "NORMAL"
	if cfg.FullSync {
		mode = "FULL"
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous("+mode+")")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheMiB(cfg, r)*1024))
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	if cfg.MmapSizeMiB > 0 && r == roleReader {
		q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", int64(cfg.MmapSizeMiB)<<20))
	}
	switch r {
	case roleReader:
		q.Add("_pragma", "query_only(1)")
	case roleWriter:
		q.Set("_txlock", "immediate")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstop))
	}
	return "file:" + url.PathEscape(cfg.Path) + "?" + q.Encode()
}

// Close stops accepting writes, waits for the writes already queued to
// commit (their callers get their results as usual), and closes the
// store's connections; the WAL is checkpointed into the database file when
// the last connection closes. Writes submitted after Close fail.
func (s *Store) Close() error {
	s.queueMu.Lock()
	first := !s.closed
	if first {
		s.closed = true
		close(s.queue)
	}
	s.queueMu.Unlock()
	<-s.writerDone
	if !first {
		return nil
	}
	return errors.Join(s.ck.stop(), s.r.Close(), s.w.Close())
}

// projectID returns the id of a committed project, or ok false when the
// project has never been written to.
func (s *Store) projectID(ctx context.Context, name string) (int64, bool, error) {
	s.projMu.RLock()
	id, ok := s.projects[name]
	s.projMu.RUnlock()
	if ok {
		return id, true, nil
	}
	err := s.r.QueryRowContext(ctx, `SELECT id FROM projects WHERE name = ?`, name).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("sqlite: read project: %w", err)
	}
	s.cacheProject(name, id)
	return id, true, nil
}

// cacheProject remembers a committed project id. Only committed ids may be
// cached: an id from a rolled-back transaction can be handed to another
// project later.
func (s *Store) cacheProject(name string, id int64) {
	s.projMu.Lock()
	s.projects[name] = id
	s.projMu.Unlock()
}

// writeProjectID returns the project's id inside a write transaction,
// creating the project if needed; created reports that the id must be
// cached only once tx commits.
func (s *Store) writeProjectID(ctx context.Context, tx *sql.Tx, name string) (id int64, created bool, err error) {
	s.projMu.RLock()
	id, ok := s.projects[name]
	s.projMu.RUnlock()
	if ok {
		return id, false, nil
	}
	err = tx.QueryRowContext(ctx, `SELECT id FROM projects WHERE name = ?`, name).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("read project: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO projects (name) VALUES (?) RETURNING id`, name).Scan(&id); err != nil {
		return 0, false, fmt.Errorf("create project: %w", err)
	}
	return id, true, nil
}

// writeTx runs fn in a write transaction, through the writer (writer.go):
// fn may share the transaction with other writes, inside a savepoint of
// its own, and must use the context it is given. An error fn returns is
// returned as is, and undoes fn's changes only.
func (s *Store) writeTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.submit(ctx, &writeOp{fn: fn})
}

// readTx runs fn in a read transaction: every query in it sees one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}
