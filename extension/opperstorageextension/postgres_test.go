package opperstorageextension

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/opperotel/bridge/extension/opperstorageextension/internal/metadata"
	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/translator"
)

// withPassword puts a password into a DSN: the test server trusts every
// connection, so it is accepted, and it must show up in no log or error.
func withPassword(dsn string) string {
	return strings.Replace(dsn, "postgres://postgres@", "postgres://postgres:s3cret-pw@", 1)
}

func TestPostgresBackend(t *testing.T) {
	ctx := context.Background()
	core, logs := observer.New(zap.DebugLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	dsn, err := pgtest.NewServer(t).NewDatabase(ctx)
	require.NoError(t, err)
	cfg := &Config{Postgres: &PostgresConfig{DSN: configopaque.String(withPassword(dsn)), MaxConns: 4,
		ConnectTimeout: 5 * time.Second, OutboxLease: time.Minute}}
	ext, err := NewFactory().Create(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	id := component.MustNewID("opper_storage")
	h := host{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{id: ext}}
	st, err := GetStore(h, id, component.MustNewID("opper"))
	require.NoError(t, err)
	require.NoError(t, st.UpsertSpans(ctx, "default", []translator.Span{span("a")}, false))
	got, err := st.GetSpan(ctx, "default", "a")
	require.NoError(t, err)
	assert.Equal(t, "a", got.Name)
	require.NoError(t, ext.Shutdown(ctx))

	opened := logs.FilterMessage("Trace store opened").All()
	require.Len(t, opened, 1)
	assert.Equal(t, "postgres", opened[0].ContextMap()["backend"])
	assert.Contains(t, opened[0].ContextMap()["database"], "127.0.0.1:")
	for _, e := range logs.All() {
		assert.NotContains(t, e.Message+" "+strings.Join(mapValues(e.ContextMap()), " "), "s3cret-pw")
	}
	assert.NotContains(t, (&PostgresConfig{DSN: cfg.Postgres.DSN}).DSN.String(), "s3cret-pw", "configopaque hides the dsn")
}

func mapValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// An unreachable database stops the collector at start, with a message
// that says where it looked, and without the password.
func TestPostgresUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cfg := &Config{Postgres: &PostgresConfig{DSN: configopaque.String("postgres://opper:s3cret-pw@" + addr + "/opper?sslmode=disable"),
		MaxConns: 2, ConnectTimeout: 2 * time.Second, OutboxLease: time.Minute}}
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opening the PostgreSQL store: postgres: cannot reach the database at 127.0.0.1:")
	assert.NotContains(t, err.Error(), "s3cret-pw")
	require.NoError(t, ext.Shutdown(context.Background()))

	cfg.Postgres.DSN = "postgres://opper:s3cret-pw@%zz/x"
	ext, err = NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the dsn is not a valid connection string")
	assert.NotContains(t, err.Error(), "s3cret-pw")
}
