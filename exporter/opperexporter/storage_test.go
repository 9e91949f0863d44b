package opperexporter

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opperotel/bridge/extension/opperstorageextension"
	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

var opperStorageID = component.MustNewID("opper_storage")

// fixturesDir holds the project's real OTLP payloads.
const fixturesDir = "../../testdata/otlp"

func confmapUnmarshal(cfg *Config, m map[string]any) error {
	return confmap.NewFromStringMap(m).Unmarshal(cfg)
}

func TestLoadStorageConfig(t *testing.T) {
	cfg, err := loadConfig(t, "config_storage.yaml")
	require.NoError(t, err)
	assert.Equal(t, &opperStorageID, cfg.Storage)
	assert.Equal(t, "team-a", cfg.Project)
	assert.Empty(t, cfg.ClientConfig.Endpoint, "the hosted API's default endpoint does not apply in storage mode")
	q := cfg.QueueConfig.Get()
	require.NotNil(t, q)
	assert.True(t, q.WaitForResult, "an OTLP answer means stored")
	assert.False(t, q.BlockOnOverflow, "overload is refused, not buffered")
	assert.Nil(t, q.Batch.Get(), "the store's group commit batches")
	assert.False(t, cfg.RetryConfig.Enabled, "the sender retries what it was refused")

	// Keys the user sets win over storage mode's defaults.
	cfg = createDefaultConfig().(*Config)
	require.NoError(t, confmapUnmarshal(cfg, map[string]any{
		"storage":          "opper_storage",
		"sending_queue":    map[string]any{"num_consumers": 3},
		"retry_on_failure": map[string]any{"enabled": true},
	}))
	assert.Equal(t, 3, cfg.QueueConfig.Get().NumConsumers)
	assert.False(t, cfg.QueueConfig.Get().WaitForResult)
	assert.True(t, cfg.RetryConfig.Enabled)
}

// extHost runs one opper_storage extension.
type extHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func startStorageExtension(t testing.TB, cfg *opperstorageextension.Config) (extHost, store.Store) {
	t.Helper()
	ctx := context.Background()
	ext, err := opperstorageextension.NewFactory().Create(ctx, extensiontest.NewNopSettings(component.MustNewType("opper_storage")), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(ctx)) })
	h := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{opperStorageID: ext}}
	st, err := opperstorageextension.GetStore(h, opperStorageID, component.MustNewID("test"))
	require.NoError(t, err)
	return h, st
}

func storageConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = ""
	cfg.Storage = &opperStorageID
	cfg.Retention = translator.RetentionFull
	cfg.QueueConfig = configoptional.Some(storageModeQueue())
	cfg.RetryConfig.Enabled = false
	return cfg
}

func startStorageExporter(t *testing.T, cfg *Config, h extHost) *testExporter {
	t.Helper()
	return startExporterOn(t, cfg, h)
}

// TestStorageModeFixtures: every fixture written through the exporter's
// storage mode reads back from the store exactly as the translator maps
// it, in the configured project, never queued for the receiver's pipeline,
// and stored once however often the export is replayed.
func TestStorageModeFixtures(t *testing.T) {
	h, st := startStorageExtension(t, &opperstorageextension.Config{
		SQLite: &opperstorageextension.SQLiteConfig{Path: filepath.Join(t.TempDir(), "opper.db")},
	})
	cfg := storageConfig()
	cfg.Project = "team-a"
	exp := startStorageExporter(t, cfg, h)
	tr := translator.New(cfg.translatorOptions(nil))

	total := 0
	for _, path := range otlpfixtures.Files(t, fixturesDir) {
		td := otlpfixtures.Load(t, path)
		want := tr.ToOpper(td)
		for range 3 { // a retry, a replay of a persistent queue
			require.NoError(t, exp.ConsumeTraces(t.Context(), td), path)
		}
		total += len(want)
		for _, w := range want {
			got, err := st.GetSpan(t.Context(), "team-a", w.ID)
			require.NoError(t, err, "%s: span %s", path, w.Name)
			assert.JSONEq(t, spanJSON(t, w), spanJSON(t, got), "%s: span %s", path, w.Name)
			tree, err := st.GetTrace(t.Context(), "team-a", w.TraceID)
			require.NoError(t, err)
			assert.Equal(t, countTrace(want, w.TraceID), len(tree.Spans), "%s: trace %s stored once", path, w.TraceID)
		}
	}
	_, err := st.GetTrace(t.Context(), "default", tr.ToOpper(otlpfixtures.Load(t, otlpfixtures.Files(t, fixturesDir)[0]))[0].TraceID)
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing in another project")

	pending, err := st.PendingForward(t.Context(), 1000, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, pending, "the exporter's spans are never handed to a receiver's pipeline")
	assert.EqualValues(t, 3*total, exp.counter(t, "otelcol_exporter_opper_spans_sent"))
}

// spanJSON compares spans as the API serves them: Meta values the store
// decodes come back as JSON, not as the translator's typed values.
func spanJSON(t *testing.T, s translator.Span) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

func countTrace(spans []translator.Span, traceID string) int {
	n := 0
	for _, s := range spans {
		if s.TraceID == traceID {
			n++
		}
	}
	return n
}

// TestStorageModeRetention: metadata retention keeps content out of the
// store, as it keeps it off the wire.
func TestStorageModeRetention(t *testing.T) {
	h, st := startStorageExtension(t, &opperstorageextension.Config{Memory: &opperstorageextension.MemoryConfig{MaxTraces: 1000}})
	cfg := storageConfig()
	cfg.Retention = translator.RetentionMetadata
	exp := startStorageExporter(t, cfg, h)
	td := otlpfixtures.Load(t, filepath.Join(fixturesDir, "openinference-tools.otlp.json"))
	require.NoError(t, exp.ConsumeTraces(t.Context(), td))
	spans := translator.New(translator.Options{Retention: translator.RetentionFull}).ToOpper(td)
	withContent := 0
	for _, w := range spans {
		got, err := st.GetSpan(t.Context(), store.DefaultProject, w.ID)
		require.NoError(t, err)
		if w.Input != nil || w.Output != nil {
			withContent++
		}
		assert.Nil(t, got.Input, w.Name)
		assert.Nil(t, got.Output, w.Name)
		assert.Nil(t, got.Instructions, w.Name)
	}
	assert.Positive(t, withContent, "the fixture has content to drop")
}

// blockingStore holds every write until released.
type blockingStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) UpsertSpans(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.UpsertSpans(ctx, project, spans, forward)
}

type fixedStore struct{ st store.Store }

func (f fixedStore) TraceStore() store.Store                   { return f.st }
func (fixedStore) Start(context.Context, component.Host) error { return nil }
func (fixedStore) Shutdown(context.Context) error              { return nil }

// TestStorageModePushBack: when the store falls behind and the queue is
// full, the sender is refused at once with a retry delay (which the OTLP
// receiver answers as 429 with Retry-After, or RESOURCE_EXHAUSTED), and
// every call that was answered without error is in the store.
func TestStorageModePushBack(t *testing.T) {
	_, mem := startStorageExtension(t, &opperstorageextension.Config{Memory: &opperstorageextension.MemoryConfig{MaxTraces: 100}})
	bs := &blockingStore{Store: mem, entered: make(chan struct{}, 10), release: make(chan struct{})}
	h := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{opperStorageID: fixedStore{bs}}}
	cfg := storageConfig()
	q := storageModeQueue()
	q.NumConsumers = 1
	// The span being written still counts until its write ends: one
	// written, one waiting, and the queue is full.
	q.QueueSize = 2
	cfg.QueueConfig = configoptional.Some(q)
	exp := startStorageExporter(t, cfg, h)

	first := storeSpan(1)
	var wg sync.WaitGroup
	var firstErr error
	wg.Go(func() { firstErr = exp.ConsumeTraces(context.Background(), first) })
	<-bs.entered // the only consumer is writing; the queue is empty

	second := storeSpan(2)
	var secondErr error
	wg.Go(func() { secondErr = exp.ConsumeTraces(context.Background(), second) })
	// The second waits in the queue and fills it; a third is refused.
	require.Eventually(t, func() bool {
		m, err := exp.tel.GetMetric("otelcol_exporter_queue_size")
		if err != nil {
			return false
		}
		g, ok := m.Data.(metricdata.Gauge[int64])
		return ok && len(g.DataPoints) == 1 && g.DataPoints[0].Value == 2
	}, 5*time.Second, 5*time.Millisecond)
	err := exp.ConsumeTraces(context.Background(), storeSpan(3))
	require.ErrorIs(t, err, exporterhelper.ErrQueueIsFull)
	st, ok := status.FromError(err)
	require.True(t, ok, "the error carries a gRPC status: %v", err)
	assert.Equal(t, codes.ResourceExhausted, st.Code())
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	assert.Equal(t, time.Second, delay)

	close(bs.release)
	wg.Wait()
	require.NoError(t, firstErr)
	require.NoError(t, secondErr)
	for _, td := range []ptrace.Traces{first, second} {
		sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		id := translator.SpanUUID(sp.TraceID(), sp.SpanID())
		_, err := mem.GetSpan(t.Context(), store.DefaultProject, id)
		assert.NoError(t, err, "an acknowledged span is stored")
	}
}

func storeSpan(n byte) ptrace.Traces {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID([16]byte{1, n})
	sp.SetSpanID([8]byte{2, n})
	sp.SetName("step")
	sp.SetStartTimestamp(1)
	sp.SetEndTimestamp(2)
	return td
}

// TestStorageModeStoreFailure: a failed write fails the push (the sender
// is told to retry) and is not counted as sent.
func TestStorageModeStoreFailure(t *testing.T) {
	_, mem := startStorageExtension(t, &opperstorageextension.Config{Memory: &opperstorageextension.MemoryConfig{MaxTraces: 100}})
	require.NoError(t, mem.Close())
	h := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{opperStorageID: fixedStore{mem}}}
	exp := startStorageExporter(t, storageConfig(), h)
	err := exp.ConsumeTraces(context.Background(), storeSpan(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `writing 1 spans into the trace store "opper_storage"`)
	assert.False(t, errors.Is(err, exporterhelper.ErrQueueIsFull))
	assert.Zero(t, exp.counter(t, "otelcol_exporter_opper_spans_sent"))
}
