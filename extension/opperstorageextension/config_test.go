package opperstorageextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		id   component.ID
		want *Config
	}{
		{component.MustNewID("opper_storage"), &Config{SQLite: &SQLiteConfig{Path: "./data/opper.db"}}},
		{component.MustNewIDWithName("opper_storage", "sqlite"), &Config{SQLite: &SQLiteConfig{Path: "/var/lib/opper/traces.db", FullSync: true}}},
		{component.MustNewIDWithName("opper_storage", "memory"), &Config{Memory: &MemoryConfig{MaxTraces: 500}}},
		{component.MustNewIDWithName("opper_storage", "memory_defaults"), &Config{Memory: &MemoryConfig{MaxTraces: 10_000}}},
		{component.MustNewIDWithName("opper_storage", "postgres"), &Config{Postgres: &PostgresConfig{
			DSN: "postgres://opper:secret@db.internal:5432/opper?sslmode=require", MaxConns: 20,
			ConnectTimeout: 5 * time.Second, OutboxLease: 2 * time.Minute}}},
		{component.MustNewIDWithName("opper_storage", "postgres_defaults"), &Config{Postgres: &PostgresConfig{
			DSN: "postgres://localhost/opper", MaxConns: 10, ConnectTimeout: 10 * time.Second, OutboxLease: 15 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmapValidate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func confmapValidate(cfg component.Config) error { return confmap.Validate(cfg) }

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		conf map[string]any
		want string
	}{
		{"two backends", map[string]any{"sqlite": map[string]any{"path": "x.db"}, "memory": map[string]any{}}, "set only one of sqlite, postgres or memory"},
		{"postgres and sqlite", map[string]any{"sqlite": map[string]any{}, "postgres": map[string]any{"dsn": "postgres://x/y"}}, "set only one of sqlite, postgres or memory"},
		{"postgres without dsn", map[string]any{"postgres": map[string]any{}}, "postgres::dsn must not be empty"},
		{"postgres conns", map[string]any{"postgres": map[string]any{"dsn": "postgres://x/y", "max_conns": 0}}, "postgres::max_conns must be at least 1, got 0"},
		{"postgres lease", map[string]any{"postgres": map[string]any{"dsn": "postgres://x/y", "outbox_lease": "10ms"}}, "postgres::outbox_lease must be at least 1s, got 10ms"},
		{"postgres timeout", map[string]any{"postgres": map[string]any{"dsn": "postgres://x/y", "connect_timeout": "0s"}}, "postgres::connect_timeout must be positive"},
		{"unknown postgres key", map[string]any{"postgres": map[string]any{"dsn": "postgres://x/y", "max_connections": 3}}, "'postgres' has invalid keys: max_connections"},
		{"empty path", map[string]any{"sqlite": map[string]any{"path": " "}}, "sqlite::path must not be empty"},
		{"page size", map[string]any{"sqlite": map[string]any{"page_size": 3000}}, "sqlite::page_size must be a power of two from 512 to 65536, got 3000"},
		{"max traces", map[string]any{"memory": map[string]any{"max_traces": 0}}, "memory::max_traces must be at least 1, got 0"},
		{"unknown key", map[string]any{"sqlite": map[string]any{"pth": "x.db"}}, "'sqlite' has invalid keys: pth"},
		{"unknown memory key", map[string]any{"memory": map[string]any{"max_trace": 5}}, "'memory' has invalid keys: max_trace"},
		{"unknown backend", map[string]any{"postgress": map[string]any{}}, "'opperstorageextension.Config' has invalid keys: postgress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			err := confmap.NewFromStringMap(tt.conf).Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
