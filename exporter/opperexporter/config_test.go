package opperexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/opperotel/bridge/translator"
)

func loadConfig(t *testing.T, file string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", file))
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	if err := cm.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(t, "config.yaml")
	require.NoError(t, err)

	assert.Equal(t, "http://localhost:8090", cfg.ClientConfig.Endpoint)
	assert.Equal(t, configopaque.String("secret-key"), cfg.APIKey)
	assert.Equal(t, APIVersionV2, cfg.APIVersion)
	assert.Equal(t, translator.RetentionFull, cfg.Retention)
	require.Len(t, cfg.RetentionRules, 1)
	assert.Equal(t, map[string]string{"service.name": "checkout"}, cfg.RetentionRules[0].Match)
	assert.Equal(t, translator.RetentionMetadata, cfg.RetentionRules[0].Retention)
	assert.Equal(t, 65536, cfg.MaxFieldBytes)
	assert.Equal(t, "task", cfg.DefaultType)
	assert.Equal(t, map[string]string{"embedding": "generation"}, cfg.TypeMap)
	assert.Equal(t, "testdata/prices.json", cfg.PriceTable)
	assert.Equal(t, 8, cfg.MaxConcurrency)
	assert.Equal(t, BulkOn, cfg.Bulk)
	assert.Equal(t, 3*time.Second, cfg.ParentWait)
	assert.Equal(t, LogsConfig{SpanWait: 45 * time.Second, MaxBufferedBytes: 8 << 20}, cfg.Logs)
	assert.Equal(t, 10*time.Second, cfg.ClientConfig.Timeout)
	assert.Equal(t, configcompression.TypeGzip, cfg.ClientConfig.Compression)
	require.Len(t, cfg.ClientConfig.Headers, 1)
	assert.Equal(t, "x-extra", cfg.ClientConfig.Headers[0].Name)

	q := cfg.QueueConfig.Get()
	require.NotNil(t, q)
	assert.Equal(t, 2, q.NumConsumers)
	assert.Equal(t, int64(100), q.QueueSize)
	require.NotNil(t, q.StorageID)
	assert.Equal(t, component.MustNewIDWithName("file_storage", "opper"), *q.StorageID)
	b := q.Batch.Get()
	require.NotNil(t, b)
	assert.Equal(t, 500*time.Millisecond, b.FlushTimeout)
	assert.Equal(t, int64(1000), b.MinSize)
	assert.Equal(t, int64(defaultBatchMaxSize), b.MaxSize, "defaults kept under a partial batch section")

	assert.True(t, cfg.RetryConfig.Enabled)
	assert.Equal(t, time.Second, cfg.RetryConfig.InitialInterval)
	assert.Equal(t, time.Duration(0), cfg.RetryConfig.MaxElapsedTime)
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "https://api.opper.ai", cfg.ClientConfig.Endpoint)
	assert.Equal(t, 30*time.Second, cfg.ClientConfig.Timeout)
	assert.Equal(t, APIVersionV2, cfg.APIVersion)
	assert.Equal(t, translator.RetentionMetadata, cfg.Retention)
	assert.Equal(t, 256<<10, cfg.MaxFieldBytes)
	assert.Equal(t, 16, cfg.MaxConcurrency)
	assert.Equal(t, BulkAuto, cfg.Bulk)
	assert.Equal(t, 10*time.Second, cfg.ParentWait)
	assert.Equal(t, LogsConfig{SpanWait: 2 * time.Minute, MaxBufferedBytes: 64 << 20}, cfg.Logs)
	q := cfg.QueueConfig.Get()
	require.NotNil(t, q, "the sending queue is on by default")
	require.NotNil(t, q.Batch.Get(), "batching is on by default")
	assert.True(t, cfg.RetryConfig.Enabled)
}

func TestQueueAndBatchCanBeDisabled(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"sending_queue": map[string]any{"batch": map[string]any{"enabled": false}},
	}).Unmarshal(cfg))
	require.NotNil(t, cfg.QueueConfig.Get())
	assert.Nil(t, cfg.QueueConfig.Get().Batch.Get())

	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"sending_queue": map[string]any{"enabled": false},
	}).Unmarshal(cfg))
	assert.False(t, cfg.QueueConfig.HasValue())
}

func TestInvalidConfigs(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"bad_empty_endpoint.yaml", "endpoint must be set"},
		{"bad_endpoint_version.yaml", "must be the server root without the API version"},
		{"bad_api_version.yaml", `api_version must be "v2" or "v3", got "v4"`},
		{"bad_retention.yaml", `retention must be "metadata" or "full", got "everything"`},
		{"bad_retention_rule.yaml", "retention_rules[0]: match must list at least one resource attribute"},
		{"bad_max_concurrency.yaml", "max_concurrency must be at least 1, got 0"},
		{"bad_bulk.yaml", `bulk must be "auto", "on" or "off", got "sometimes"`},
		{"bad_bulk_v3.yaml", "bulk: on needs api_version v2"},
		{"bad_max_field_bytes.yaml", "max_field_bytes must be 0 (no limit) or at least 64, got 10"},
		{"bad_parent_wait.yaml", "parent_wait must not be negative"},
		{"bad_storage_endpoint.yaml", `endpoint and storage are mutually exclusive: set endpoint to send spans over HTTP (the hosted Opper API or a remote opper receiver), or storage to write them into the "opper_storage" extension of this collector`},
		{"bad_storage_api_key.yaml", "api_key is sent to an endpoint"},
		{"bad_storage_project.yaml", "project must not be empty"},
		{"bad_logs.yaml", "logs::span_wait must be positive, got 0s"},
		{"bad_logs.yaml", "logs::max_buffered_bytes must be at least 1 MiB (1048576), got 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := loadConfig(t, tt.file)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPriceTableLoaded(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.PriceTable = "testdata/missing.json"
	_, err := newExporter(cfg, exportertestSettings())
	require.ErrorContains(t, err, "price table")

	cfg.PriceTable = "testdata/prices.json"
	_, err = newExporter(cfg, exportertestSettings())
	require.NoError(t, err)
}
