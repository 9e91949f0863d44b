package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/opperotel/bridge/internal/configkeys"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// APIVersion selects the Opper trace API the exporter speaks.
type APIVersion string

const (
	// APIVersionV2 uses `/v2/spans` with client-chosen ids (idempotent).
	APIVersionV2 APIVersion = "v2"
	// APIVersionV3 uses `/v3/spans`, where the server assigns ids.
	APIVersionV3 APIVersion = "v3"
)

// BulkMode says whether the exporter uses `POST /v2/spans/batch`.
type BulkMode string

const (
	// BulkAuto tries the bulk endpoint once and falls back to one request
	// per span, for good, when the server answers 404 or 405.
	BulkAuto BulkMode = "auto"
	// BulkOn always uses the bulk endpoint.
	BulkOn BulkMode = "on"
	// BulkOff always sends one request per span.
	BulkOff BulkMode = "off"
)

// RetentionRule sets the retention of spans whose resource attributes equal
// every entry of Match, e.g. {match: {service.name: checkout}, retention: full}.
type RetentionRule struct {
	// Match maps resource attribute keys to the values they must have.
	Match map[string]string `mapstructure:"match"`
	// Retention is `metadata` or `full`.
	Retention translator.Retention `mapstructure:"retention"`
	_         struct{}
}

// Config defines the configuration of the opper exporter.
type Config struct {
	// ClientConfig holds endpoint (the server root, e.g. https://api.opper.ai),
	// timeout, headers, TLS, compression, auth and the other HTTP client settings.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// QueueConfig is the exporterhelper sending queue; on by default, with batching.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// RetryConfig is the exporterhelper retry policy for retryable failures.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// APIKey is sent as `Authorization: Bearer <api_key>`; empty sends no header.
	APIKey configopaque.String `mapstructure:"api_key"`
	// APIVersion is `v2` (default) or `v3`.
	APIVersion APIVersion `mapstructure:"api_version"`

	// Retention is the default content retention: `metadata` or `full`.
	Retention translator.Retention `mapstructure:"retention"`
	// RetentionRules override Retention for matching resources; the first match wins.
	RetentionRules []RetentionRule `mapstructure:"retention_rules"`
	// MaxFieldBytes caps input, output and instructions per span; 0 means no limit.
	MaxFieldBytes int `mapstructure:"max_field_bytes"`
	// DefaultType is the Opper type of spans without GenAI evidence.
	DefaultType string `mapstructure:"default_type"`
	// TypeMap renames span types after they are decided.
	TypeMap map[string]string `mapstructure:"type_map"`
	// PriceTable is a JSON file that extends or overrides the embedded prices.
	PriceTable string `mapstructure:"price_table"`

	// MaxConcurrency bounds the requests in flight per exporter.
	MaxConcurrency int `mapstructure:"max_concurrency"`
	// Bulk is `auto` (default), `on` or `off`; only API v2 has a bulk endpoint.
	Bulk BulkMode `mapstructure:"bulk"`
	// ParentWait is how long a span whose parent is not stored yet is held
	// back (through retries) before a placeholder parent is created for it;
	// 0 creates placeholders at once.
	ParentWait time.Duration `mapstructure:"parent_wait"`

	// Storage names an opper_storage extension of this collector to write
	// the translated spans into, instead of sending them to an endpoint.
	Storage *component.ID `mapstructure:"storage"`
	// Project is the store project the spans are written into (storage
	// mode); with the receiver's api_keys, the project of the key that
	// should see them.
	Project string `mapstructure:"project"`

	// Logs joins the GenAI events of a logs pipeline to their spans.
	Logs LogsConfig `mapstructure:"logs"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LogsConfig configures the join of GenAI log records to their spans.
type LogsConfig struct {
	// SpanWait is how long a log record's content waits for its span: in
	// the join buffer (storage mode), or through retries (endpoint mode).
	// After that it is dropped and counted.
	SpanWait time.Duration `mapstructure:"span_wait"`
	// MaxBufferedBytes bounds the content waiting in the join buffer
	// (storage mode); the oldest is dropped first.
	MaxBufferedBytes int64 `mapstructure:"max_buffered_bytes"`
	_                struct{}
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Validator   = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

// Defaults that are not the collector's own.
const (
	defaultEndpoint       = "https://api.opper.ai"
	defaultTimeout        = 30 * time.Second
	defaultMaxConcurrency = 16
	defaultParentWait     = 10 * time.Second
	// Instrumentations emit a call's messages as it runs and export its
	// span when it ends, in batches seconds apart: long calls (reasoning
	// models, slow tools) need minutes.
	defaultLogsSpanWait         = 2 * time.Minute
	defaultLogsMaxBufferedBytes = 64 << 20
)

// Unmarshal implements confmap.Unmarshaler. Unknown keys are refused first:
// confmap would refuse them by itself, but the squashed
// confighttp.ClientConfig decodes with unused keys ignored, which switches
// that check off for the whole config (`retension: full` would run with the
// default). In storage mode the endpoint's default (the hosted API) does not
// apply, and the queue and retry defaults are those of a local write: see
// storageModeQueue.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := configkeys.Unmarshal(conf, cfg); err != nil {
		return err
	}
	if cfg.Storage == nil {
		return nil
	}
	if !conf.IsSet("endpoint") {
		cfg.ClientConfig.Endpoint = ""
	}
	if !conf.IsSet("sending_queue") {
		cfg.QueueConfig = configoptional.Some(storageModeQueue())
	}
	if !conf.IsSet("retry_on_failure") {
		cfg.RetryConfig.Enabled = false
	}
	return nil
}

// storageModeQueue is the sending queue of storage mode: an OTLP answer
// means stored, and overload pushes back. The caller waits for the store's
// commit (wait_for_result), so it is told only what is durable and nothing
// acknowledged waits in memory; a full queue refuses at once (the exporter
// turns that into RESOURCE_EXHAUSTED / 429 with Retry-After). There is no
// batching: the store's group commit merges what the consumers write
// concurrently, without the batcher's timer, which would hold every caller
// for its flush_timeout whenever less than min_size is in flight.
func storageModeQueue() exporterhelper.QueueBatchConfig {
	q := exporterhelper.NewDefaultQueueConfig()
	q.WaitForResult = true
	q.BlockOnOverflow = false
	q.Sizer = exporterhelper.RequestSizerTypeItems
	q.QueueSize = storageQueueSpans
	q.NumConsumers = storageQueueConsumers
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	return q
}

// Storage mode's queue: spans waiting for a consumer (their senders wait
// too), and consumers translating and writing at once; more of them make
// the store's commits larger, not its writer faster.
const (
	storageQueueSpans     = 50_000
	storageQueueConsumers = 8
)

// Validate checks the configuration; the collector calls it at start-up.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Storage != nil {
		if cfg.ClientConfig.Endpoint != "" {
			errs = append(errs, fmt.Errorf("endpoint and storage are mutually exclusive: set endpoint to send spans over HTTP "+
				"(the hosted Opper API or a remote opper receiver), or storage to write them into the %q extension of this collector", cfg.Storage))
		}
		if cfg.APIKey != "" {
			errs = append(errs, errors.New("api_key is sent to an endpoint; with storage the spans are written into the store directly: remove api_key"))
		}
		if err := store.ValidateProject(cfg.Project); err != nil {
			errs = append(errs, fmt.Errorf("project %w", err))
		}
	} else if err := validateEndpoint(cfg.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	switch cfg.APIVersion {
	case APIVersionV2, APIVersionV3:
	default:
		errs = append(errs, fmt.Errorf("api_version must be %q or %q, got %q", APIVersionV2, APIVersionV3, cfg.APIVersion))
	}
	if !cfg.Retention.Valid() {
		errs = append(errs, fmt.Errorf("retention must be %q or %q, got %q", translator.RetentionMetadata, translator.RetentionFull, cfg.Retention))
	}
	for i, r := range cfg.RetentionRules {
		if len(r.Match) == 0 {
			errs = append(errs, fmt.Errorf("retention_rules[%d]: match must list at least one resource attribute", i))
		}
		if !r.Retention.Valid() {
			errs = append(errs, fmt.Errorf("retention_rules[%d]: retention must be %q or %q, got %q", i, translator.RetentionMetadata, translator.RetentionFull, r.Retention))
		}
	}
	if err := translator.ValidateMaxFieldBytes(cfg.MaxFieldBytes); err != nil {
		errs = append(errs, err)
	}
	for from, to := range cfg.TypeMap {
		if from == "" || to == "" {
			errs = append(errs, fmt.Errorf("type_map: empty type in %q: %q", from, to))
		}
	}
	if cfg.MaxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("max_concurrency must be at least 1, got %d", cfg.MaxConcurrency))
	}
	switch cfg.Bulk {
	case BulkAuto, BulkOff:
	case BulkOn:
		if cfg.APIVersion == APIVersionV3 {
			errs = append(errs, errors.New("bulk: on needs api_version v2: API v3 has no bulk endpoint"))
		}
	default:
		errs = append(errs, fmt.Errorf("bulk must be %q, %q or %q, got %q", BulkAuto, BulkOn, BulkOff, cfg.Bulk))
	}
	if cfg.ParentWait < 0 {
		errs = append(errs, fmt.Errorf("parent_wait must not be negative, got %v", cfg.ParentWait))
	}
	if cfg.Logs.SpanWait <= 0 {
		errs = append(errs, fmt.Errorf("logs::span_wait must be positive, got %v", cfg.Logs.SpanWait))
	}
	if cfg.Logs.MaxBufferedBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("logs::max_buffered_bytes must be at least 1 MiB (1048576), got %d", cfg.Logs.MaxBufferedBytes))
	}
	if cfg.ClientConfig.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout must not be negative, got %v", cfg.ClientConfig.Timeout))
	}
	return errors.Join(errs...)
}

func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New(`endpoint must be set, e.g. "https://api.opper.ai" or "http://localhost:8090"; or write into this collector's store with storage: opper_storage`)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q is not a valid URL: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint %q must start with http:// or https://", endpoint)
	}
	if u.Host == "" {
		return fmt.Errorf("endpoint %q has no host", endpoint)
	}
	if p := strings.TrimSuffix(u.Path, "/"); strings.HasSuffix(p, "/v2") || strings.HasSuffix(p, "/v3") {
		return fmt.Errorf("endpoint %q must be the server root without the API version (the exporter adds /v2/spans or /v3/spans itself)", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("endpoint %q must not have a query or fragment", endpoint)
	}
	return nil
}

// translatorOptions maps the configuration onto the translator's options;
// prices are loaded by the caller.
func (cfg *Config) translatorOptions(prices *translator.PriceTable) translator.Options {
	rules := make([]translator.RetentionRule, 0, len(cfg.RetentionRules))
	for _, r := range cfg.RetentionRules {
		rules = append(rules, translator.RetentionRule{Match: r.Match, Retention: r.Retention})
	}
	return translator.Options{
		Retention:      cfg.Retention,
		RetentionRules: rules,
		MaxFieldBytes:  cfg.MaxFieldBytes,
		DefaultType:    cfg.DefaultType,
		TypeMap:        cfg.TypeMap,
		Prices:         prices,
	}
}
