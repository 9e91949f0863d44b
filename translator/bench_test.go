package translator

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/internal/procstat"
)

// benchMix is every fixture, replicated until the mix holds at least
// 10,000 spans: the realistic blend of conventions the exporter sees.
func benchMix(b *testing.B) ptrace.Traces {
	b.Helper()
	mix := ptrace.NewTraces()
	var inputs []ptrace.Traces
	for _, f := range otlpfixtures.Files(b, otlpDir) {
		inputs = append(inputs, otlpfixtures.Load(b, f))
	}
	for mix.SpanCount() < 10000 {
		for _, td := range inputs {
			td.ResourceSpans().CopyTo(ptrace.NewResourceSpansSlice())
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				td.ResourceSpans().At(i).CopyTo(mix.ResourceSpans().AppendEmpty())
			}
		}
	}
	return mix
}

// BenchmarkToOpper measures what the exporter does per span: translate
// (into a Batch reused from the previous round, as the exporter reuses
// its batches), then encode the v2 create body. Compare with BenchmarkOTLPJSONMarshal,
// the collector's own JSON encoding of the same spans (make bench
// BENCH='ToOpper|OTLPJSONMarshal' PKG=./translator).
func BenchmarkToOpper(b *testing.B) {
	b.Run("retention=full", func(b *testing.B) { benchToOpper(b, RetentionFull) })
	b.Run("retention=metadata", func(b *testing.B) { benchToOpper(b, RetentionMetadata) })
}

func benchToOpper(b *testing.B, retention Retention) {
	td := benchMix(b)
	tr := New(Options{Retention: retention, MaxFieldBytes: 256 << 10})
	n := td.SpanCount()
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := procstat.CPUTime()
	var batch Batch
	for b.Loop() {
		tr.Map(&batch, td)
		for i := range batch.Spans {
			buf = AppendCreateSpanV2(buf[:0], &batch.Spans[i])
		}
	}
	reportPerSpan(b, n, cpu)
}

func BenchmarkOTLPJSONMarshal(b *testing.B) {
	td := benchMix(b)
	n := td.SpanCount()
	m := &ptrace.JSONMarshaler{}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := procstat.CPUTime()
	for b.Loop() {
		if _, err := m.MarshalTraces(td); err != nil {
			b.Fatal(err)
		}
	}
	reportPerSpan(b, n, cpu)
}

// reportPerSpan reports wall time and CPU time per span. The CPU time is
// the process's (user and system, every thread) since start: it includes
// the garbage collector's work on other cores, which wall time on a
// multi-core machine hides, and which is part of what a span costs.
func reportPerSpan(b *testing.B, spans int, start time.Duration) {
	perSpan := float64(b.N) * float64(spans)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/perSpan, "ns/span")
	b.ReportMetric(float64((procstat.CPUTime()-start).Nanoseconds())/perSpan, "cpu-ns/span")
	b.ReportMetric(0, "ns/op")
}
