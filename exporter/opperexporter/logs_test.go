package opperexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/opperotel/bridge/exporter/opperexporter/internal/metadata"
	"github.com/opperotel/bridge/extension/opperstorageextension"
	"github.com/opperotel/bridge/internal/opperfake"
	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// pairExporter is one exporter config in a traces and a logs pipeline, as
// a collector builds it: two components over one shared exporter.
type pairExporter struct {
	traces exporter.Traces
	logs   exporter.Logs
	tel    *componenttest.Telemetry
	logged *observer.ObservedLogs
	stop   func()
}

func startPair(t testing.TB, cfg *Config, host component.Host) *pairExporter {
	t.Helper()
	return startPairAs(t, cfg, host, exportertest.NewNopSettings(metadata.Type))
}

// startPairWithID runs the pair as the exporter "opper", the id a
// persistent queue's storage is named after.
func startPairWithID(t testing.TB, cfg *Config, host component.Host) *pairExporter {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	return startPairAs(t, cfg, host, set)
}

func startPairAs(t testing.TB, cfg *Config, host component.Host, set exporter.Settings) *pairExporter {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	core, logged := observer.New(zap.InfoLevel)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	f := NewFactory()
	tr, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	lg, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, tr.Start(ctx, host))
	require.NoError(t, lg.Start(ctx, host))
	p := &pairExporter{traces: tr, logs: lg, tel: tel, logged: logged}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			require.NoError(t, tr.Shutdown(ctx))
			require.NoError(t, lg.Shutdown(ctx))
		})
	}
	t.Cleanup(func() {
		p.stop()
		require.NoError(t, tel.Shutdown(ctx))
	})
	return p
}

func (p *pairExporter) counter(t testing.TB, name string, attrs ...string) int64 {
	t.Helper()
	return counterOf(p.tel, name, attrs...)
}

// genaiPair is a real trace of the npm OpenTelemetry OpenAI
// instrumentation and the log records it emitted with it.
type genaiPair struct {
	name   string
	traces ptrace.Traces
	logs   plog.Logs
}

func genaiPairs(t testing.TB) []genaiPair {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.otlp-logs.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []genaiPair
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".otlp-logs.json")
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
		require.NoError(t, err)
		out = append(out, genaiPair{name: name, traces: otlpfixtures.Load(t, filepath.Join(fixtureDir, name+".otlp.json")), logs: ld})
	}
	return out
}

// joinedSpans is what the pair must become: the trace's spans with the
// records' content filled in, by the translator alone.
func joinedSpans(cfg *Config, p genaiPair) []translator.Span {
	tr := translator.New(cfg.translatorOptions(nil))
	spans := tr.ToOpper(p.traces)
	contents, _ := tr.LogContents(p.logs)
	translator.FillSpans(spans, contents)
	return spans
}

// splitChoices splits ld into the records other than gen_ai.choice and the
// gen_ai.choice records.
func splitChoices(ld plog.Logs) (other, choices plog.Logs) {
	other, choices = plog.NewLogs(), plog.NewLogs()
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				dst := other
				if lr.EventName() == "gen_ai.choice" {
					dst = choices
				}
				drl := dst.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(drl.Resource())
				dsl := drl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(dsl.Scope())
				lr.CopyTo(dsl.LogRecords().AppendEmpty())
			}
		}
	}
	return other, choices
}

func sqliteStorage(t testing.TB) (extHost, store.Store) {
	return startStorageExtension(t, &opperstorageextension.Config{
		SQLite: &opperstorageextension.SQLiteConfig{Path: filepath.Join(t.TempDir(), "opper.db")},
	})
}

// The orders a span and its records arrive in.
var joinOrders = []struct {
	name string
	send func(t *testing.T, p *pairExporter, pair genaiPair)
}{
	{"logs_first", func(t *testing.T, p *pairExporter, pair genaiPair) {
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
		require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
	}},
	{"spans_first", func(t *testing.T, p *pairExporter, pair genaiPair) {
		require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
	}},
	{"records_around_the_span", func(t *testing.T, p *pairExporter, pair genaiPair) {
		// As the SDKs export them: a call's input records when it starts,
		// its choices when it ends, each batch alone, and the span last
		// or in between.
		input, choices := splitChoices(pair.logs)
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), input))
		require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), choices))
	}},
	{"records_before_and_after_the_span", func(t *testing.T, p *pairExporter, pair genaiPair) {
		input, choices := splitChoices(pair.logs)
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), input))
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), choices))
		require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
	}},
	{"replayed", func(t *testing.T, p *pairExporter, pair genaiPair) {
		for range 2 {
			require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
			require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
		}
	}},
}

// TestLogsJoinStorageMode: in storage mode, whatever the order, every span
// of a real instrumented trace is stored once, with the content its log
// records carry, exactly as the translator joins them.
func TestLogsJoinStorageMode(t *testing.T) {
	for _, pair := range genaiPairs(t) {
		for _, order := range joinOrders {
			t.Run(pair.name+"/"+order.name, func(t *testing.T) {
				h, st := sqliteStorage(t)
				cfg := storageConfig()
				p := startPair(t, cfg, h)
				order.send(t, p, pair)

				want := joinedSpans(cfg, pair)
				for _, w := range want {
					got, err := st.GetSpan(t.Context(), cfg.Project, w.ID)
					require.NoError(t, err)
					assert.JSONEq(t, spanJSON(t, w), spanJSON(t, got), "span %s", w.Name)
					tree, err := st.GetTrace(t.Context(), cfg.Project, w.TraceID)
					require.NoError(t, err)
					assert.Len(t, tree.Spans, countTrace(want, w.TraceID), "each span stored once")
				}
				records := int64(pair.logs.LogRecordCount())
				assert.Zero(t, p.counter(t, "otelcol_exporter_opper_log_records_waiting"))
				assert.Zero(t, p.counter(t, "otelcol_exporter_opper_log_records_dropped"))
				assert.GreaterOrEqual(t, p.counter(t, "otelcol_exporter_opper_log_records_joined"), records)
			})
		}
	}
}

// A chat span of the stream fixture must come out with the messages its
// records carry: the join is not a no-op that the comparison above would
// miss if both sides lacked content.
func TestLogsJoinFillsGenerations(t *testing.T) {
	cfg := storageConfig()
	for _, pair := range genaiPairs(t) {
		if strings.Contains(pair.name, "error") || strings.Contains(pair.name, "embeddings") {
			continue
		}
		plain := translator.New(cfg.translatorOptions(nil)).ToOpper(pair.traces)
		for i, s := range joinedSpans(cfg, pair) {
			if s.Type != translator.TypeGeneration {
				continue
			}
			assert.Nil(t, plain[i].Input, "%s: the span alone has no input (the instrumentation puts it in logs)", pair.name)
			assert.NotNil(t, s.Input, "%s: %s input", pair.name, s.Name)
			assert.NotNil(t, s.Output, "%s: %s output", pair.name, s.Name)
		}
	}
}

// A record whose span never comes waits span_wait, then is dropped,
// counted and logged; the buffer is empty again.
func TestLogsSpanNeverArrives(t *testing.T) {
	h, _ := sqliteStorage(t)
	cfg := storageConfig()
	cfg.Logs.SpanWait = 1500 * time.Millisecond
	p := startPair(t, cfg, h)
	pair := genaiPairs(t)[0]
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
	records := int64(pair.logs.LogRecordCount())
	assert.Equal(t, records, p.counter(t, "otelcol_exporter_opper_log_records_waiting"))

	require.Eventually(t, func() bool {
		return p.counter(t, "otelcol_exporter_opper_log_records_dropped", "reason", dropSpanNotFound) == records
	}, 10*time.Second, 50*time.Millisecond)
	assert.Zero(t, p.counter(t, "otelcol_exporter_opper_log_records_waiting"))
	assert.Zero(t, p.counter(t, "otelcol_exporter_opper_log_records_joined"))
	entries := p.logged.FilterMessage(logDropMessage).All()
	require.Len(t, entries, 1)
	assert.Equal(t, dropSpanNotFound, entries[0].ContextMap()["reason"])
	assert.Contains(t, entries[0].ContextMap()["error"], "was not stored within logs::span_wait")
}

// A span stored without passing through this exporter (by the receiver,
// or another collector on the same PostgreSQL) gets the content waiting
// for it, through the sweep.
func TestLogsSpanStoredElsewhere(t *testing.T) {
	h, st := sqliteStorage(t)
	cfg := storageConfig()
	p := startPair(t, cfg, h)
	pair := genaiPairs(t)[0]
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))

	spans := translator.New(cfg.translatorOptions(nil)).ToOpper(pair.traces)
	require.NoError(t, st.UpsertSpans(t.Context(), cfg.Project, spans, false))
	want := joinedSpans(cfg, pair)
	require.Eventually(t, func() bool {
		return p.counter(t, "otelcol_exporter_opper_log_records_joined") == int64(pair.logs.LogRecordCount())
	}, 30*time.Second, 50*time.Millisecond, "the sweep's first look comes 5 s after the records")
	for _, w := range want {
		got, err := st.GetSpan(t.Context(), cfg.Project, w.ID)
		require.NoError(t, err)
		assert.JSONEq(t, spanJSON(t, w), spanJSON(t, got))
	}
}

// bigContentLogs is n GenAI records of n spans, each with a user message
// of size bytes.
func bigContentLogs(n, size int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetEventName("gen_ai.user.message")
		lr.SetTraceID(pcommon.TraceID{9, byte(i >> 8), byte(i)})
		lr.SetSpanID(pcommon.SpanID{9, byte(i >> 8), byte(i)})
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetEmptyMap().PutStr("content", strings.Repeat("x", size))
	}
	return ld
}

// The buffer holds at most max_buffered_bytes: the oldest content goes
// first, counted and logged, and what is waiting stays under the bound.
func TestLogsBufferIsBounded(t *testing.T) {
	h, _ := sqliteStorage(t)
	cfg := storageConfig()
	cfg.Logs.MaxBufferedBytes = 1 << 20
	p := startPair(t, cfg, h)
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), bigContentLogs(40, 100_000)))

	waiting := p.counter(t, "otelcol_exporter_opper_log_records_waiting")
	dropped := p.counter(t, "otelcol_exporter_opper_log_records_dropped", "reason", dropBufferFull)
	assert.Equal(t, int64(40), waiting+dropped)
	assert.Positive(t, dropped)
	assert.LessOrEqual(t, waiting*100_000, cfg.Logs.MaxBufferedBytes)
	require.Len(t, p.logged.FilterMessage(logDropMessage).All(), 1, "logged once for the whole burst")
}

// What waits when the collector stops is dropped, counted and logged
// (the buffer is memory; see the README).
func TestLogsWaitingAtShutdown(t *testing.T) {
	h, _ := sqliteStorage(t)
	p := startPair(t, storageConfig(), h)
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), bigContentLogs(3, 10)))
	p.stop()
	assert.Equal(t, int64(3), p.counter(t, "otelcol_exporter_opper_log_records_dropped", "reason", dropShutdown))
	assert.Len(t, p.logged.FilterMessage("GenAI log records still waiting for their span at shutdown are dropped; their content is not stored").All(), 1)
}

// Records that are not GenAI events, or have no span, or carry no content
// under metadata retention are counted as ignored and change nothing.
func TestLogsIgnored(t *testing.T) {
	h, st := sqliteStorage(t)
	cfg := storageConfig()
	cfg.Retention = translator.RetentionMetadata
	p := startPair(t, cfg, h)
	pair := genaiPairs(t)[0]
	require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Body().SetStr("GET /healthz 200")
	noSpan := lrs.AppendEmpty()
	noSpan.SetEventName("gen_ai.user.message")
	noSpan.Body().SetEmptyMap().PutStr("content", "hello")
	pair.logs.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), ld))

	assert.Equal(t, int64(ld.LogRecordCount()), p.counter(t, "otelcol_exporter_opper_log_records_received"))
	assert.Equal(t, int64(1), p.counter(t, "otelcol_exporter_opper_log_records_ignored", "reason", ignoreNotGenAI))
	assert.Equal(t, int64(1), p.counter(t, "otelcol_exporter_opper_log_records_ignored", "reason", ignoreNoSpan))
	assert.Equal(t, int64(ld.LogRecordCount()-2), p.counter(t, "otelcol_exporter_opper_log_records_ignored", "reason", ignoreNoContent))
	for _, s := range translator.New(cfg.translatorOptions(nil)).ToOpper(pair.traces) {
		got, err := st.GetSpan(t.Context(), cfg.Project, s.ID)
		require.NoError(t, err)
		assert.Nil(t, got.Input)
		assert.Nil(t, got.Output)
	}
}

// evaluationLogs is a gen_ai.evaluation.result record for the first span
// of td.
func evaluationLogs(td ptrace.Traces) plog.Logs {
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("gen_ai.evaluation.result")
	lr.SetTraceID(sp.TraceID())
	lr.SetSpanID(sp.SpanID())
	lr.SetTimestamp(sp.EndTimestamp())
	lr.Attributes().PutStr("gen_ai.evaluation.name", "relevance")
	lr.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.75)
	return ld
}

// An evaluation in a log record becomes a metric of its span, once.
func TestLogsEvaluationStorageMode(t *testing.T) {
	h, st := sqliteStorage(t)
	cfg := storageConfig()
	p := startPair(t, cfg, h)
	td := oneSpan("answer")
	ld := evaluationLogs(td)
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), ld))
	require.NoError(t, p.traces.ConsumeTraces(t.Context(), td))
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), ld)) // a replay
	id := translator.New(cfg.translatorOptions(nil)).ToOpper(td)[0].ID
	ms, total, err := st.ListMetrics(t.Context(), cfg.Project, id, 0, 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, total)
	assert.Equal(t, "relevance", ms[0].Dimension)
	assert.InDelta(t, 0.75, ms[0].Value, 1e-9)
}

// Endpoint mode: the span is read back and completed with one PATCH;
// records whose span is not stored yet are retried until it is.
func TestLogsJoinEndpointMode(t *testing.T) {
	for _, pair := range genaiPairs(t) {
		t.Run(pair.name+"/spans_first", func(t *testing.T) {
			fake := opperfake.New(opperfake.Options{APIKey: testKey})
			defer fake.Close()
			cfg := testConfig(fake.URL())
			p := startPair(t, cfg, componenttest.NewNopHost())
			require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
			require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
			checkFakeJoined(t, fake, cfg, pair)
		})
		t.Run(pair.name+"/logs_first", func(t *testing.T) {
			fake := opperfake.New(opperfake.Options{APIKey: testKey})
			defer fake.Close()
			cfg := testConfig(fake.URL())
			p := startPair(t, cfg, componenttest.NewNopHost())
			done := make(chan error, 1)
			// Without a queue the push retries in the caller: it returns
			// once the span is there.
			go func() { done <- p.logs.ConsumeLogs(context.Background(), pair.logs) }()
			require.Eventually(t, func() bool { return fake.Requests()["GET /v2/spans/{id} 404"] > 0 }, 5*time.Second, 10*time.Millisecond)
			require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
			require.NoError(t, <-done)
			checkFakeJoined(t, fake, cfg, pair)
		})
	}
}

// checkFakeJoined: every span of the pair is stored once, with the
// joined content, and completed with at most one PATCH.
func checkFakeJoined(t *testing.T, fake *opperfake.Server, cfg *Config, pair genaiPair) {
	t.Helper()
	want := joinedSpans(cfg, pair)
	require.Len(t, fake.Spans(), len(want))
	for _, w := range want {
		got, ok := fake.Span(w.ID)
		require.True(t, ok, "span %s", w.Name)
		assert.Equal(t, 1, got.Creates)
		assert.LessOrEqual(t, got.Updates, 1)
		if w.Input != nil {
			assert.Equal(t, *w.Input, textOf(t, got.Input), "span %s input", w.Name)
		}
		if w.Output != nil {
			assert.Equal(t, *w.Output, textOf(t, got.Output), "span %s output", w.Name)
		}
		if w.Instructions != nil {
			assert.Equal(t, *w.Instructions, got.Meta["instructions"], "span %s instructions", w.Name)
		}
		if w.Model != "" {
			assert.Equal(t, w.Model, got.Meta["model"], "span %s keeps its meta", w.Name)
		}
	}
}

// textOf reads stored content as the string it was sent as: a JSON string
// (PATCH sends strings), or JSON content (create sends JSON as JSON).
func textOf(t *testing.T, raw []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return s
}

// A record whose span never reaches the API is retried for span_wait,
// then dropped and counted; the push does not fail.
func TestLogsEndpointSpanNeverArrives(t *testing.T) {
	fake := opperfake.New(opperfake.Options{APIKey: testKey})
	defer fake.Close()
	cfg := testConfig(fake.URL())
	cfg.Logs.SpanWait = 300 * time.Millisecond
	p := startPair(t, cfg, componenttest.NewNopHost())
	pair := genaiPairs(t)[0]
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
	assert.Equal(t, int64(pair.logs.LogRecordCount()), p.counter(t, "otelcol_exporter_opper_log_records_dropped", "reason", dropSpanNotFound))
	assert.Empty(t, fake.Spans())
}

// An evaluation in a log record becomes a metric of its span over the API,
// once however often the records are replayed.
func TestLogsEvaluationEndpointMode(t *testing.T) {
	fake := opperfake.New(opperfake.Options{APIKey: testKey})
	defer fake.Close()
	cfg := testConfig(fake.URL())
	p := startPair(t, cfg, componenttest.NewNopHost())
	td := oneSpan("answer")
	require.NoError(t, p.traces.ConsumeTraces(t.Context(), td))
	ld := evaluationLogs(td)
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), ld))
	require.NoError(t, p.logs.ConsumeLogs(t.Context(), ld))
	id := translator.New(cfg.translatorOptions(nil)).ToOpper(td)[0].ID
	got, ok := fake.Span(id)
	require.True(t, ok)
	require.Len(t, got.Metrics, 1)
	assert.Equal(t, "relevance", got.Metrics[0].Dimension)
	assert.Zero(t, got.Updates, "an evaluation alone does not rewrite the span")
}

// API v3 cannot set a span's input after its create: the logs pipeline is
// refused at start-up with a clear message.
func TestLogsRefusedOnV3(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.APIVersion = APIVersionV3
	_, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.ErrorContains(t, err, "the logs pipeline needs api_version v2 (or storage)")
}

// Endpoint mode with a persistent queue: records whose span is not stored
// yet wait in the queue through a restart of the collector, and reach the
// span once it comes.
func TestLogsPersistentQueueSurvivesRestart(t *testing.T) {
	fake := opperfake.New(opperfake.Options{APIKey: testKey})
	defer fake.Close()
	dir := t.TempDir()
	pair := genaiPairs(t)[0]

	run := func(send func(p *pairExporter)) {
		ctx := context.Background()
		fsFactory := filestorage.NewFactory()
		fsCfg := fsFactory.CreateDefaultConfig().(*filestorage.Config)
		fsCfg.Directory = dir
		ext, err := fsFactory.Create(ctx, extensiontest.NewNopSettings(fsFactory.Type()), fsCfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
		host := &storageHost{Host: componenttest.NewNopHost(), ext: map[component.ID]component.Component{storageID: ext}}

		cfg := persistentConfig(fake.URL())
		cfg.Retention = translator.RetentionFull
		p := startPairWithID(t, cfg, host)
		send(p)
		p.stop()
		require.NoError(t, ext.Shutdown(ctx))
	}
	// First run: the span is not stored; the records are queued and
	// retried until the collector stops.
	run(func(p *pairExporter) {
		require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
		require.Eventually(t, func() bool { return fake.Requests()["GET /v2/spans/{id} 404"] >= 2 }, 5*time.Second, 10*time.Millisecond)
	})
	require.Empty(t, fake.Spans())
	// Second run: the span comes, and the queued records with it.
	cfg := testConfig(fake.URL())
	run(func(p *pairExporter) {
		require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
		require.Eventually(t, func() bool {
			return p.counter(t, "otelcol_exporter_opper_log_records_joined") == int64(pair.logs.LogRecordCount())
		}, 10*time.Second, 20*time.Millisecond)
	})
	checkFakeJoined(t, fake, cfg, pair)
}

// Endpoint mode against this project's receiver: the GET and PATCH round
// trip gives the stored span exactly the joined span (model, usage, meta
// and the records' content), for both orders.
func TestLogsJoinIntoOurReceiver(t *testing.T) {
	for _, logsFirst := range []bool{false, true} {
		for _, pair := range genaiPairs(t) {
			t.Run(fmt.Sprintf("%s/logs_first=%v", pair.name, logsFirst), func(t *testing.T) {
				rcfg, url := ourReceiverConfig(t)
				startOurReceiver(t, rcfg)
				cfg := testConfig(url)
				p := startPair(t, cfg, componenttest.NewNopHost())
				if logsFirst {
					done := make(chan error, 1)
					go func() { done <- p.logs.ConsumeLogs(context.Background(), pair.logs) }()
					time.Sleep(50 * time.Millisecond)
					require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
					require.NoError(t, <-done)
				} else {
					require.NoError(t, p.traces.ConsumeTraces(t.Context(), pair.traces))
					require.NoError(t, p.logs.ConsumeLogs(t.Context(), pair.logs))
				}
				for _, w := range joinedSpans(cfg, pair) {
					var got opperapi.Span
					getJSON(t, url+"/v2/spans/"+w.ID, &got)
					s, err := decodeStoredSpanV2(mustJSON(t, got))
					require.NoError(t, err)
					assert.Equal(t, w.Input, s.Input, "span %s", w.Name)
					assert.Equal(t, w.Output, s.Output, "span %s", w.Name)
					assert.Equal(t, w.Instructions, s.Instructions, "span %s", w.Name)
					assert.Equal(t, w.Model, s.Model, "span %s", w.Name)
					assert.Equal(t, w.Usage, s.Usage, "span %s", w.Name)
					assert.Equal(t, w.Error, s.Error, "span %s", w.Name)
				}
			})
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// Spans and their records pushed at the same moment, by concurrent
// senders, records split as the SDKs split them: once every push has
// returned, nothing waits for the sweep (first retry 5 s later) and every
// record is joined.
func TestLogsJoinConcurrentPushes(t *testing.T) {
	h, _ := sqliteStorage(t)
	cfg := storageConfig()
	p := startPair(t, cfg, h)
	traces, logs := llmLoad(t, 1, 100)
	var wg sync.WaitGroup
	records := 0
	for i := range traces {
		input, choices := splitChoices(logs[i])
		records += logs[i].LogRecordCount()
		wg.Go(func() { assert.NoError(t, p.logs.ConsumeLogs(t.Context(), input)) })
		wg.Go(func() { assert.NoError(t, p.traces.ConsumeTraces(t.Context(), traces[i])) })
		wg.Go(func() { assert.NoError(t, p.logs.ConsumeLogs(t.Context(), choices)) })
	}
	wg.Wait()
	assert.Zero(t, p.counter(t, "otelcol_exporter_opper_log_records_waiting"))
	assert.EqualValues(t, records, p.counter(t, "otelcol_exporter_opper_log_records_joined"))
}
