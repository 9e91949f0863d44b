package opperstorageextension // import "github.com/opperotel/bridge/extension/opperstorageextension"

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/memory"
	"github.com/opperotel/bridge/store/postgres"
	"github.com/opperotel/bridge/store/sqlite"
)

// StoreProvider is what the opper_storage extension offers the components
// that name it: the open trace store. The store belongs to the extension,
// which opens it before any pipeline component starts and closes it after
// they have all shut down; components must not Close it.
type StoreProvider interface {
	TraceStore() store.Store
}

// GetStore returns the trace store of the opper_storage extension id, for
// the component named requester (used in the error messages).
func GetStore(host component.Host, id component.ID, requester component.ID) (store.Store, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("%s: storage %q: no such extension is running; "+
			"configure it under `extensions:` (e.g. `%s: {sqlite: {path: ./data/opper.db}}`) and list it in `service::extensions`",
			requester, id, id)
	}
	p, ok := ext.(StoreProvider)
	if !ok {
		return nil, fmt.Errorf("%s: storage %q is not an %s extension", requester, id, componentType)
	}
	st := p.TraceStore()
	if st == nil {
		return nil, fmt.Errorf("%s: storage %q has not opened its store (did it fail to start?)", requester, id)
	}
	return st, nil
}

// componentType is the extension's type, for messages.
const componentType = "opper_storage"

type storageExtension struct {
	cfg    *Config
	logger *zap.Logger

	mu    sync.Mutex
	store store.Store
}

var (
	_ extension.Extension = (*storageExtension)(nil)
	_ StoreProvider       = (*storageExtension)(nil)
)

func newExtension(cfg *Config, set extension.Settings) *storageExtension {
	return &storageExtension{cfg: cfg, logger: set.Logger}
}

// Start opens the configured backend.
func (e *storageExtension) Start(ctx context.Context, _ component.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.store != nil {
		return errors.New("opper_storage: already started")
	}
	st, err := Open(ctx, e.cfg)
	if err != nil {
		return err
	}
	e.store = st
	switch {
	case e.cfg.SQLite != nil:
		e.logger.Info("Trace store opened", zap.String("backend", "sqlite"), zap.String("path", e.cfg.SQLite.Path))
	case e.cfg.Memory != nil:
		e.logger.Info("Trace store opened", zap.String("backend", "memory"), zap.Int("max_traces", e.cfg.Memory.MaxTraces))
	case e.cfg.Postgres != nil:
		e.logger.Info("Trace store opened", zap.String("backend", "postgres"), zap.String("database", postgresWhere(e.cfg.Postgres)),
			zap.Int32("max_conns", e.cfg.Postgres.MaxConns), zap.Duration("outbox_lease", e.cfg.Postgres.OutboxLease))
	}
	return nil
}

// Open opens the backend cfg selects. The receiver's deprecated inline
// storage section opens its own store with it too.
func Open(ctx context.Context, cfg *Config) (store.Store, error) {
	switch {
	case cfg.SQLite != nil:
		st, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.SQLite.Path, FullSync: cfg.SQLite.FullSync, PageSize: cfg.SQLite.PageSize})
		if err != nil {
			return nil, fmt.Errorf("opper_storage: opening the SQLite store %q: %w", cfg.SQLite.Path, err)
		}
		return st, nil
	case cfg.Memory != nil:
		return memory.NewBounded(cfg.Memory.MaxTraces), nil
	case cfg.Postgres != nil:
		p := cfg.Postgres
		st, err := postgres.Open(ctx, postgres.Config{DSN: string(p.DSN), MaxConns: p.MaxConns,
			ConnectTimeout: p.ConnectTimeout, OutboxLease: p.OutboxLease})
		if err != nil {
			return nil, fmt.Errorf("opper_storage: opening the PostgreSQL store: %w", err)
		}
		return st, nil
	}
	return nil, errors.New("opper_storage: no backend configured; set sqlite, postgres or memory")
}

// TraceStore implements StoreProvider; nil before Start and after Shutdown.
func (e *storageExtension) TraceStore() store.Store {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.store
}

// Shutdown closes the store: the collector shuts extensions down after the
// pipelines, so every component that wrote to it has finished, and the
// store commits what is queued before it closes.
func (e *storageExtension) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.store == nil {
		return nil
	}
	err := e.store.Close()
	e.store = nil
	if err != nil {
		return fmt.Errorf("opper_storage: closing the store: %w", err)
	}
	return nil
}

// postgresWhere is the host, port and database of the DSN, for the log:
// never the user or password.
func postgresWhere(p *PostgresConfig) string {
	cfg, err := pgconn.ParseConfig(string(p.DSN))
	if err != nil {
		return "(unparsable dsn)"
	}
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}
