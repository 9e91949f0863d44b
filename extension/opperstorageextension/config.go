package opperstorageextension // import "github.com/opperotel/bridge/extension/opperstorageextension"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/opperotel/bridge/internal/configkeys"
)

const (
	defaultSQLitePath     = "./data/opper.db"
	defaultMaxTraces      = 10_000
	defaultPostgresConns  = 10
	defaultConnectTimeout = 10 * time.Second
	defaultOutboxLease    = 15 * time.Second
	minOutboxLease        = time.Second
)

// Config selects the trace store backend; exactly one is set. A backend
// named in the user's configuration replaces the default one as a whole, so
// `memory: {}` does not also inherit the default sqlite section.
type Config struct {
	// SQLite is the embedded single-file store (the default).
	SQLite *SQLiteConfig `mapstructure:"sqlite"`
	// Memory keeps the traces in memory, bounded, for tests and demos:
	// nothing survives a restart.
	Memory *MemoryConfig `mapstructure:"memory"`
	// Postgres is a PostgreSQL database that several collectors (receiver
	// replicas behind a load balancer) share.
	Postgres *PostgresConfig `mapstructure:"postgres"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SQLiteConfig configures the embedded SQLite store.
type SQLiteConfig struct {
	// Path of the database file; its directory is created if missing.
	Path string `mapstructure:"path"`
	// FullSync makes every commit wait for the disk, so a write that was
	// acknowledged survives a power loss too; without it, it survives a crash
	// of the process (SQLite's WAL with synchronous=NORMAL).
	FullSync bool `mapstructure:"full_sync"`
	// PageSize is the page size of a new database file in bytes (a power
	// of two from 512 to 65536); an existing file keeps its own. 0: the
	// store's default.
	PageSize int `mapstructure:"page_size"`

	_ struct{}
}

// MemoryConfig configures the in-memory store.
type MemoryConfig struct {
	// MaxTraces bounds the traces kept, over all projects; the oldest
	// written trace is dropped to make room for a new one.
	MaxTraces int `mapstructure:"max_traces"`

	_ struct{}
}

// PostgresConfig configures the PostgreSQL store.
type PostgresConfig struct {
	// DSN is a libpq connection string or URL; it usually carries a
	// password, so it comes from the environment (${env:OPPER_PG_DSN}) and
	// is never printed.
	DSN configopaque.String `mapstructure:"dsn"`
	// MaxConns bounds this collector's connections to the database.
	MaxConns int32 `mapstructure:"max_conns"`
	// ConnectTimeout bounds reaching the database: at start (the collector
	// refuses to start without it) and for each new connection.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// OutboxLease is how long spans a receiver's forwarder took from the
	// outbox stay reserved for its replica after the replica's last sign
	// of life (it renews its leases while it runs and releases them when
	// it stops); a replica that dies mid-forward leaves them to the others
	// after this long.
	OutboxLease time.Duration `mapstructure:"outbox_lease"`

	_ struct{}
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Validator   = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

func createDefaultConfig() component.Config {
	return &Config{SQLite: &SQLiteConfig{Path: defaultSQLitePath}}
}

// Unmarshal implements confmap.Unmarshaler: a backend section replaces the
// default backend instead of merging into it, and a backend named without
// settings (`sqlite:` or `memory: {}`) gets its defaults. Unknown keys are
// refused first, named by their section, as in the receiver and exporter.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := configkeys.Check(conf, cfg); err != nil {
		return err
	}
	if conf.IsSet("sqlite") || conf.IsSet("memory") || conf.IsSet("postgres") {
		*cfg = Config{}
		if conf.IsSet("sqlite") {
			cfg.SQLite = &SQLiteConfig{Path: defaultSQLitePath}
		}
		if conf.IsSet("memory") {
			cfg.Memory = &MemoryConfig{MaxTraces: defaultMaxTraces}
		}
		if conf.IsSet("postgres") {
			cfg.Postgres = &PostgresConfig{MaxConns: defaultPostgresConns, ConnectTimeout: defaultConnectTimeout,
				OutboxLease: defaultOutboxLease}
		}
	}
	return conf.Unmarshal(cfg)
}

// Validate checks the configuration; the messages name the offending key.
func (cfg *Config) Validate() error {
	var errs []error
	switch n := countSet(cfg.SQLite != nil, cfg.Memory != nil, cfg.Postgres != nil); {
	case n > 1:
		errs = append(errs, errors.New("set only one of sqlite, postgres or memory"))
	case n == 0:
		errs = append(errs, errors.New("set one of sqlite, postgres or memory"))
	}
	if p := cfg.Postgres; p != nil {
		if strings.TrimSpace(string(p.DSN)) == "" {
			errs = append(errs, errors.New("postgres::dsn must not be empty (e.g. dsn: ${env:OPPER_PG_DSN})"))
		}
		if p.MaxConns < 1 {
			errs = append(errs, fmt.Errorf("postgres::max_conns must be at least 1, got %d", p.MaxConns))
		}
		if p.ConnectTimeout <= 0 {
			errs = append(errs, fmt.Errorf("postgres::connect_timeout must be positive, got %s", p.ConnectTimeout))
		}
		if p.OutboxLease < minOutboxLease {
			errs = append(errs, fmt.Errorf("postgres::outbox_lease must be at least %s, got %s", minOutboxLease, p.OutboxLease))
		}
	}
	if cfg.SQLite != nil && strings.TrimSpace(cfg.SQLite.Path) == "" {
		errs = append(errs, errors.New("sqlite::path must not be empty"))
	}
	if cfg.SQLite != nil && cfg.SQLite.PageSize != 0 {
		if p := cfg.SQLite.PageSize; p < 512 || p > 65536 || p&(p-1) != 0 {
			errs = append(errs, fmt.Errorf("sqlite::page_size must be a power of two from 512 to 65536, got %d", p))
		}
	}
	if cfg.Memory != nil && cfg.Memory.MaxTraces < 1 {
		errs = append(errs, fmt.Errorf("memory::max_traces must be at least 1, got %d", cfg.Memory.MaxTraces))
	}
	return errors.Join(errs...)
}

func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}
