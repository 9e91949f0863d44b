package opperexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/opperotel/bridge/translator"
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
		{"top level", map[string]any{"retension": "full", "api_kee": "k"},
			"'opperexporter.Config' has invalid keys: api_kee, retension"},
		{"sending_queue", map[string]any{"sending_queue": map[string]any{"queue_sise": 10}},
			"'sending_queue' has invalid keys: queue_sise"},
		{"sending_queue.batch", map[string]any{"sending_queue": map[string]any{"batch": map[string]any{"flush_timout": "1s"}}},
			"'sending_queue.batch' has invalid keys: flush_timout"},
		{"sending_queue.batch.partition", map[string]any{"sending_queue": map[string]any{"batch": map[string]any{"partition": map[string]any{"bogus": 1}}}},
			"'sending_queue.batch.partition' has invalid keys: bogus"},
		{"retry_on_failure", map[string]any{"retry_on_failure": map[string]any{"max_elapsed": "1m"}},
			"'retry_on_failure' has invalid keys: max_elapsed"},
		{"logs", map[string]any{"logs": map[string]any{"span_weight": "10s"}},
			"'logs' has invalid keys: span_weight"},
		{"tls", map[string]any{"tls": map[string]any{"insecure_skip_verfy": true}},
			"'tls' has invalid keys: insecure_skip_verfy"},
		{"tls.tpm", map[string]any{"tls": map[string]any{"tpm": map[string]any{"bogus": 1}}},
			"'tls.tpm' has invalid keys: bogus"},
		{"keepalive", map[string]any{"keepalive": map[string]any{"idle_timeout": "1m"}},
			"'keepalive' has invalid keys: idle_timeout"},
		{"auth", map[string]any{"auth": map[string]any{"authenticater": "oauth2client"}},
			"'auth' has invalid keys: authenticater"},
		{"compression_params", map[string]any{"compression_params": map[string]any{"lvl": 1}},
			"'compression_params' has invalid keys: lvl"},
		{"middlewares[i]", map[string]any{"middlewares": []any{map[string]any{"id": "m", "bogus": 1}}},
			"'middlewares[0]' has invalid keys: bogus"},
		{"retention_rules[i]", map[string]any{"retention_rules": []any{
			map[string]any{"match": map[string]any{"a": "b"}, "retention": "full"},
			map[string]any{"matches": map[string]any{"a": "b"}, "retention": "full"},
		}}, "'retention_rules[1]' has invalid keys: matches"},
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
		"headers":         map[string]any{"X-Any-Header": "1", "x-other": "2"},
		"type_map":        map[string]any{"anything": "generation"},
		"retention_rules": []any{map[string]any{"match": map[string]any{"any.attribute": "x"}, "retention": "full"}},
		"keepalive":       map[string]any{"enabled": true, "max_idle_conns": 3},
		"sending_queue":   map[string]any{"enabled": true, "batch": map[string]any{"enabled": false}},
	})
	require.NoError(t, err)
	assert.Len(t, cfg.ClientConfig.Headers, 2)
	assert.Equal(t, "generation", cfg.TypeMap["anything"])
	assert.Nil(t, cfg.QueueConfig.Get().Batch.Get())
}

func TestDefaultConfigRoundTrips(t *testing.T) {
	conf := confmap.New()
	require.NoError(t, conf.Marshal(createDefaultConfig()))
	cfg, err := unmarshalAsCollector(conf.ToStringMap())
	require.NoError(t, err)
	assert.Equal(t, translator.DefaultMaxFieldBytes, cfg.MaxFieldBytes)
}
