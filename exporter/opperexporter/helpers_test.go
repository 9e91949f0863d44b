package opperexporter

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/opperotel/bridge/exporter/opperexporter/internal/metadata"
	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/translator"
)

const testKey = "op-test-key"

// testConfig is the default config pointed at endpoint, with fast retries,
// no queue (ConsumeTraces is synchronous) and content kept.
func testConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.ClientConfig.Timeout = 5 * time.Second
	cfg.APIKey = testKey
	cfg.Retention = translator.RetentionFull
	cfg.Bulk = BulkOff
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 20 * time.Second
	cfg.RetryConfig.RandomizationFactor = 0
	return cfg
}

// withQueue turns on an in-memory queue without batching, so every
// ConsumeTraces stays its own request and requests run concurrently.
func withQueue(cfg *Config, consumers int) {
	q := exporterhelper.NewDefaultQueueConfig()
	q.NumConsumers = consumers
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	cfg.QueueConfig = configoptional.Some(q)
}

type testExporter struct {
	exporter.Traces
	tel *componenttest.Telemetry
}

func startExporter(t testing.TB, cfg *Config) *testExporter {
	t.Helper()
	return startExporterOn(t, cfg, componenttest.NewNopHost())
}

// startExporterOn starts the exporter on host (storage mode needs one with
// an opper_storage extension).
func startExporterOn(t testing.TB, cfg *Config, host component.Host) *testExporter {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), host))
	te := &testExporter{Traces: exp, tel: tel}
	t.Cleanup(func() {
		require.NoError(t, exp.Shutdown(context.Background()))
		require.NoError(t, tel.Shutdown(context.Background()))
	})
	return te
}

// counter returns the sum of a counter's data points whose attributes
// include attrs (key, value pairs).
func (te *testExporter) counter(t testing.TB, name string, attrs ...string) int64 {
	t.Helper()
	return counterOf(te.tel, name, attrs...)
}

// counterOf is the sum of a counter's data points in tel whose attributes
// include attrs; 0 when it was never recorded.
func counterOf(tel *componenttest.Telemetry, name string, attrs ...string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	return sumPoints(m, attrs...)
}

// fixtureDir holds the real OTLP payloads every fixture test sends.
const fixtureDir = "../../testdata/otlp"

// allFixtures merges every fixture into one Traces.
func allFixtures(t testing.TB) ptrace.Traces {
	all := ptrace.NewTraces()
	for _, f := range otlpfixtures.Files(t, fixtureDir) {
		otlpfixtures.Load(t, f).ResourceSpans().MoveAndAppendTo(all.ResourceSpans())
	}
	return all
}

// childrenFirst splits td into one Traces per span, deepest spans first,
// the order in which OTel ends and usually exports them.
func childrenFirst(td ptrace.Traces) []ptrace.Traces {
	type loc struct{ i, j, k, depth int }
	var locs []loc
	parents := map[[24]byte][24]byte{}
	key := func(s ptrace.Span) [24]byte {
		var k [24]byte
		tid, sid := s.TraceID(), s.SpanID()
		copy(k[:16], tid[:])
		copy(k[16:], sid[:])
		return k
	}
	pkey := func(s ptrace.Span) [24]byte {
		var k [24]byte
		tid, pid := s.TraceID(), s.ParentSpanID()
		copy(k[:16], tid[:])
		copy(k[16:], pid[:])
		return k
	}
	forEach(td, func(_, _, _ int, s ptrace.Span) {
		if !s.ParentSpanID().IsEmpty() {
			parents[key(s)] = pkey(s)
		}
	})
	forEach(td, func(i, j, k int, s ptrace.Span) {
		d := 0
		for cur, ok := parents[key(s)]; ok && d < 64; cur, ok = parents[cur] {
			d++
		}
		locs = append(locs, loc{i, j, k, d})
	})
	slices.SortStableFunc(locs, func(a, b loc) int { return b.depth - a.depth })
	out := make([]ptrace.Traces, 0, len(locs))
	for _, l := range locs {
		one := ptrace.NewTraces()
		rs := td.ResourceSpans().At(l.i)
		drs := one.ResourceSpans().AppendEmpty()
		rs.Resource().CopyTo(drs.Resource())
		ss := rs.ScopeSpans().At(l.j)
		dss := drs.ScopeSpans().AppendEmpty()
		ss.Scope().CopyTo(dss.Scope())
		ss.Spans().At(l.k).CopyTo(dss.Spans().AppendEmpty())
		out = append(out, one)
	}
	return out
}

func forEach(td ptrace.Traces, f func(i, j, k int, s ptrace.Span)) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				f(i, j, k, ss.Spans().At(k))
			}
		}
	}
}

// oneSpan is a root span with fixed ids and the given name.
func oneSpan(name string) ptrace.Traces {
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(name)
	s.SetTraceID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	s.SetSpanID([8]byte{1, 1, 1, 1, 1, 1, 1, byte(len(name))})
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	s.SetStartTimestamp(ptraceTS(now))
	s.SetEndTimestamp(ptraceTS(now.Add(time.Second)))
	return td
}

func ptraceTS(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

func sumPoints(m metricdata.Metrics, attrs ...string) int64 {
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	var total int64
	for _, dp := range sum.DataPoints {
		match := true
		for i := 0; i+1 < len(attrs); i += 2 {
			v, ok := dp.Attributes.Value(attribute.Key(attrs[i]))
			if !ok || v.AsString() != attrs[i+1] {
				match = false
			}
		}
		if match {
			total += dp.Value
		}
	}
	return total
}
