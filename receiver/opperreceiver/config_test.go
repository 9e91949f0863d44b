package opperreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
	"github.com/opperotel/bridge/translator"
)

func loadConfig(t *testing.T, path, id string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(path)
	require.NoError(t, err)
	if id != "" {
		cm, err = cm.Sub(id)
		require.NoError(t, err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := cm.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func TestLoadConfig(t *testing.T) {
	custom := createDefaultConfig().(*Config)
	custom.ServerConfig.NetAddr.Endpoint = "0.0.0.0:9090"
	custom.ServerConfig.MaxRequestBodySize = 1 << 20
	cors := confighttp.NewDefaultCORSConfig()
	cors.AllowedOrigins = []string{"https://traces.example.com"}
	custom.ServerConfig.CORS = configoptional.Some(cors)
	custom.Storage = StorageConfig{SQLite: &SQLiteConfig{Path: "/var/lib/opper/traces.db"}}
	custom.APIKeys = []APIKeyConfig{{Key: "team-a-key", Project: "team-a"}, {Key: "team-b-key", Project: "team-b"}}
	custom.Retention = RetentionConfig{
		Default:  translator.RetentionMetadata,
		Projects: map[string]translator.Retention{"team-a": translator.RetentionFull},
	}
	custom.Forward = ForwardConfig{
		Enabled: true, IncompleteSpanTimeout: 2 * time.Minute, BatchSize: 500, PollInterval: time.Second,
		RetryInitialInterval: 200 * time.Millisecond, RetryMaxInterval: 10 * time.Second,
	}
	custom.MaxFieldBytes = 64 << 10
	custom.Playground = PlaygroundConfig{RunsPerMinute: 10, Providers: []playground.Provider{
		{Name: "openai", Endpoint: "https://api.openai.com/v1", APIKey: "sk-test-openai", Models: []string{"gpt-4o-mini", "gpt-4o"}},
		{Name: "local", Endpoint: "http://localhost:11434/v1", Models: []string{"llama3.2"}, Timeout: 2 * time.Minute},
	}}

	anonymous := createDefaultConfig().(*Config)
	anonymous.ServerConfig.NetAddr.Endpoint = "0.0.0.0:8090"
	anonymous.AllowAnonymous = true
	anonymous.Forward.Enabled = false
	anonymous.AllowedHosts = []string{"opper.internal", "10.0.0.5"}
	anonymous.Explorer.Enabled = false

	shared := createDefaultConfig().(*Config)
	ext := component.MustNewIDWithName("opper_storage", "traces")
	shared.Storage = StorageConfig{Extension: &ext}

	tests := []struct {
		id       component.ID
		expected *Config
	}{
		{id: component.NewIDWithName(metadata.Type, "shared"), expected: shared},
		{id: component.NewID(metadata.Type), expected: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), expected: custom},
		// `sqlite:` without settings gets the default path.
		{id: component.NewIDWithName(metadata.Type, "anonymous"), expected: anonymous},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg, err := loadConfig(t, filepath.Join("testdata", "config.yaml"), tt.id.String())
			require.NoError(t, err)
			assert.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "localhost:8090", cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, &SQLiteConfig{Path: "./data/opper.db"}, cfg.Storage.SQLite)
	assert.Nil(t, cfg.Storage.Extension)
	assert.Empty(t, cfg.APIKeys)
	assert.False(t, cfg.AllowAnonymous)
	assert.Equal(t, translator.RetentionFull, cfg.Retention.Default)
	assert.True(t, cfg.Forward.Enabled)
	assert.True(t, cfg.Explorer.Enabled)
	assert.Empty(t, cfg.AllowedHosts)
	assert.Equal(t, 10*time.Minute, cfg.Forward.IncompleteSpanTimeout)
	assert.Empty(t, cfg.Playground.Providers)
	assert.Equal(t, 30, cfg.Playground.RunsPerMinute)
	assert.NoError(t, confmap.Validate(cfg))
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		file string
		want []string // every one of these appears in the error
	}{
		{"bad_no_storage.yaml", []string{"storage: name the opper_storage extension that holds the traces, e.g. `storage: opper_storage`"}},
		{"bad_storage_id.yaml", []string{`storage: "opper storage!" is not the id of an opper_storage extension`}},
		{"bad_postgres.yaml", []string{"invalid keys: postgres"}},
		{"bad_anonymous_public.yaml", []string{`endpoint "0.0.0.0:8090" is not a loopback address and no api_keys are set`, "allow_anonymous: true"}},
		{"bad_empty_key.yaml", []string{"api_keys[0]: key must not be empty"}},
		{"bad_no_project.yaml", []string{"api_keys[0]: project must not be empty"}},
		{"bad_duplicate_key.yaml", []string{"api_keys[1]: the same key is already listed at api_keys[0]"}},
		{"bad_retention.yaml", []string{`retention::default: "everything" is not a retention; use full or metadata`, `retention::projects::a: "none"`}},
		{"bad_forward_timeout.yaml", []string{"forward::incomplete_span_timeout must be positive", "forward::batch_size must be positive"}},
		{"bad_allowed_hosts.yaml", []string{"allowed_hosts[0]: must be a host name or IP address, without scheme or path",
			"allowed_hosts[1]: must be a host name or IP address without a port", "allowed_hosts[2]: must not be empty"}},
		{"bad_explorer.yaml", []string{"invalid keys: path"}},
		{"bad_playground.yaml", []string{"playground::runs_per_minute must be at least 1, got 0",
			`playground provider "openai": endpoint "https://api.openai.com/v1/chat/completions" must be the base URL, without /chat/completions`,
			`playground providers: name "openai" is used twice`,
			`playground::providers::2: playground provider: name is required`}},
		{"bad_retry_intervals.yaml", []string{"forward::retry_initial_interval must be positive and not above forward::retry_max_interval"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			// A mistake is refused when the file is read or when it is
			// validated, both before the collector starts.
			cfg, err := loadConfig(t, filepath.Join("testdata", tt.file), "")
			if err == nil {
				err = confmap.Validate(cfg)
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			// Keys are never echoed in messages.
			assert.NotContains(t, err.Error(), "k1")
		})
	}
}

func TestIsLocalEndpoint(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"localhost:8090": true, "LOCALHOST:1": true, "127.0.0.1:8090": true, "127.1.2.3:80": true, "[::1]:8090": true,
		"0.0.0.0:8090": false, ":8090": false, "[::]:8090": false, "10.0.0.1:8090": false, "example.com:80": false, "nonsense": false,
	} {
		cfg := createDefaultConfig().(*Config)
		cfg.ServerConfig.NetAddr.Endpoint = endpoint
		assert.Equal(t, want, isLocalEndpoint(cfg.ServerConfig.NetAddr), endpoint)
	}
}
