package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/opperotel/bridge/exporter/opperexporter/internal/metadata"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// NewFactory returns the factory of the opper exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

// Batches bigger than this are split: it bounds the memory and latency of
// one push while keeping most parents in the same batch as their children.
const defaultBatchMaxSize = 16384

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Endpoint = defaultEndpoint
	client.Timeout = defaultTimeout
	// Bodies are large (a bulk request is up to ~4 MiB): write them in
	// few syscalls, as otlphttpexporter does.
	client.WriteBufferSize = 512 * 1024
	// One request per span at max_concurrency needs that many idle
	// connections per host, or every request opens a new one (Go keeps 2).
	if ka := client.Keepalive.Get(); ka != nil {
		ka.MaxIdleConnsPerHost = 100
	}

	// The queue is on by default, and so is batching (exporterhelper leaves
	// it off unless `batch:` is present): per-span APIs gain most from
	// large batches, where parents and children travel together.
	queue := exporterhelper.NewDefaultQueueConfig()
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.MaxSize = defaultBatchMaxSize
	queue.Batch = configoptional.Some(batch)

	return &Config{
		ClientConfig:   client,
		QueueConfig:    configoptional.Some(queue),
		RetryConfig:    configretry.NewDefaultBackOffConfig(),
		APIVersion:     APIVersionV2,
		Retention:      translator.RetentionMetadata,
		MaxFieldBytes:  translator.DefaultMaxFieldBytes,
		DefaultType:    translator.TypeFunction,
		MaxConcurrency: defaultMaxConcurrency,
		Bulk:           BulkAuto,
		ParentWait:     defaultParentWait,
		Project:        store.DefaultProject,
		Logs:           LogsConfig{SpanWait: defaultLogsSpanWait, MaxBufferedBytes: defaultLogsMaxBufferedBytes},
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	oCfg := cfg.(*Config)
	e, err := exporters.acquire(oCfg, set)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces, e.helperOptions(oCfg)...)
	if err != nil {
		return nil, err
	}
	return pushBack{exp}, nil
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	oCfg := cfg.(*Config)
	if oCfg.Storage == nil && oCfg.APIVersion == APIVersionV3 {
		return nil, errors.New("the logs pipeline needs api_version v2 (or storage): GenAI log records fill in a span's input, which API v3 cannot update")
	}
	e, err := exporters.acquire(oCfg, set)
	if err != nil {
		return nil, err
	}
	e.joinsLogs.Store(true)
	exp, err := exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, e.helperOptions(oCfg)...)
	if err != nil {
		return nil, err
	}
	return pushBackLogs{exp}, nil
}

func (e *sharedExporter) helperOptions(cfg *Config) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// Bound each attempt by the HTTP client's timeout instead.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithRetry(cfg.RetryConfig),
		exporterhelper.WithQueue(cfg.QueueConfig),
	}
}

// One exporter serves both pipelines of a configuration: the content of
// GenAI log records waits for its span in the exporter that writes the
// span. The collector passes the same *Config for the traces and the logs
// pipeline of one exporter id, as otlpreceiver relies on too.
var exporters = sharedExporters{m: map[*Config]*sharedExporter{}}

type sharedExporters struct {
	mu sync.Mutex
	m  map[*Config]*sharedExporter
}

// sharedExporter is an opperExporter with the lifecycle of its last user:
// started by the first pipeline to start, shut down by the last.
type sharedExporter struct {
	*opperExporter
	owner   *sharedExporters
	cfg     *Config
	users   int
	started bool
}

func (s *sharedExporters) acquire(cfg *Config, set exporter.Settings) (*sharedExporter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[cfg]; ok {
		e.users++
		return e, nil
	}
	oe, err := newExporter(cfg, set)
	if err != nil {
		return nil, err
	}
	e := &sharedExporter{opperExporter: oe, owner: s, cfg: cfg, users: 1}
	s.m[cfg] = e
	return e, nil
}

func (e *sharedExporter) start(ctx context.Context, host component.Host) error {
	e.owner.mu.Lock()
	defer e.owner.mu.Unlock()
	if e.started {
		return nil
	}
	if err := e.opperExporter.start(ctx, host); err != nil {
		return err
	}
	e.started = true
	return nil
}

func (e *sharedExporter) shutdown(ctx context.Context) error {
	e.owner.mu.Lock()
	e.users--
	last := e.users <= 0
	if last && e.owner.m[e.cfg] == e {
		delete(e.owner.m, e.cfg)
	}
	e.owner.mu.Unlock()
	if !last {
		return nil
	}
	return e.opperExporter.shutdown(ctx)
}
