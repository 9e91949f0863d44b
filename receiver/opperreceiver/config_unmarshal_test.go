package opperreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

// unmarshalAsCollector decodes raw the way the collector decodes a
// component's section: into a component.Config holding the defaults.
func unmarshalAsCollector(raw map[string]any) (*Config, error) {
	var cfg component.Config = NewFactory().CreateDefaultConfig()
	err := confmap.NewFromStringMap(raw).Unmarshal(&cfg)
	return cfg.(*Config), err
}

func TestUnknownKeysRefused(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"top level", map[string]any{"api_key": "k"},
			"'opperreceiver.Config' has invalid keys: api_key"},
		{"tls", map[string]any{"tls": map[string]any{"cert_file": "c", "key": "k"}},
			"'tls' has invalid keys: key"},
		{"cors", map[string]any{"cors": map[string]any{"allowed_origin": []any{"*"}}},
			"'cors' has invalid keys: allowed_origin"},
		{"auth", map[string]any{"auth": map[string]any{"authenticater": "basicauth"}},
			"'auth' has invalid keys: authenticater"},
		{"keepalive", map[string]any{"keepalive": map[string]any{"idle_conn_timeout": "1m"}},
			"'keepalive' has invalid keys: idle_conn_timeout"},
		{"api_keys[i]", map[string]any{"api_keys": []any{
			map[string]any{"key": "a", "project": "p"},
			map[string]any{"key": "b", "projects": "p"},
		}}, "'api_keys[1]' has invalid keys: projects"},
		{"retention", map[string]any{"retention": map[string]any{"defaults": "full"}},
			"'retention' has invalid keys: defaults"},
		{"forward", map[string]any{"forward": map[string]any{"enable": false}},
			"'forward' has invalid keys: enable"},
		{"storage", map[string]any{"storage": map[string]any{"sqlite3": map[string]any{"path": "x"}}},
			"'storage' has invalid keys: sqlite3"},
		{"storage.sqlite", map[string]any{"storage": map[string]any{"sqlite": map[string]any{"file": "x"}}},
			"'storage.sqlite' has invalid keys: file"},
		{"storage postgres", map[string]any{"storage": map[string]any{"postgres": map[string]any{"dsn": "x"}}},
			"'storage' has invalid keys: postgres"},
		{"playground", map[string]any{"playground": map[string]any{"runs_per_min": 5}},
			"'playground' has invalid keys: runs_per_min"},
		{"playground.providers[i]", map[string]any{"playground": map[string]any{"providers": []any{
			map[string]any{"name": "openai", "endpoint": "https://api.openai.com/v1", "apikey": "k", "models": []any{"m"}},
		}}}, "'playground.providers[0]' has invalid keys: apikey"},
		{"storage extension field", map[string]any{"storage": map[string]any{"Extension": "opper_storage"}},
			"'storage' has invalid keys: Extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := unmarshalAsCollector(tt.raw)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestFreeFormKeysAccepted(t *testing.T) {
	cfg, err := unmarshalAsCollector(map[string]any{
		"response_headers": map[string]any{"X-Any-Header": "1"},
		"retention":        map[string]any{"projects": map[string]any{"any project": "metadata"}},
		"cors":             map[string]any{"enabled": true, "allowed_origins": []any{"*"}},
		// StorageConfig's own Unmarshal still gives a bare backend its defaults.
		"storage": map[string]any{"sqlite": nil},
	})
	require.NoError(t, err)
	assert.Len(t, cfg.ServerConfig.ResponseHeaders, 1)
	assert.Equal(t, "metadata", string(cfg.Retention.Projects["any project"]))
	assert.Equal(t, &SQLiteConfig{Path: defaultSQLitePath}, cfg.Storage.SQLite)

	// The short form names the extension.
	cfg, err = unmarshalAsCollector(map[string]any{"storage": "opper_storage/shared"})
	require.NoError(t, err)
	require.NotNil(t, cfg.Storage.Extension)
	assert.Equal(t, "opper_storage/shared", cfg.Storage.Extension.String())
}

func TestDefaultConfigRoundTrips(t *testing.T) {
	conf := confmap.New()
	require.NoError(t, conf.Marshal(createDefaultConfig()))
	cfg, err := unmarshalAsCollector(conf.ToStringMap())
	require.NoError(t, err)
	assert.Equal(t, createDefaultConfig(), cfg)
}
