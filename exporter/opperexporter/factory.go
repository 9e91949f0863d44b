package opperexporter // import "github.com/opperotel/bridge/exporter/opperexporter"

import (
	"context"

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
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	oCfg := cfg.(*Config)
	e, err := newExporter(oCfg, set)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// Bound each attempt by the HTTP client's timeout instead.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithRetry(oCfg.RetryConfig),
		exporterhelper.WithQueue(oCfg.QueueConfig),
	)
	if err != nil {
		return nil, err
	}
	return pushBack{exp}, nil
}
