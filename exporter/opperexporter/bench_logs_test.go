package opperexporter

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/procstat"
)

// llmLoad is the LLM-shaped load with its logs: the real traces of the
// npm OpenTelemetry OpenAI instrumentation and their log records,
// replicated with distinct trace ids until a batch holds n spans.
func llmLoad(b testing.TB, n, count int) (traces []ptrace.Traces, logs []plog.Logs) {
	pairs := genaiPairs(b)
	r := uint32(0)
	for range count {
		td, ld := ptrace.NewTraces(), plog.NewLogs()
		for td.SpanCount() < n {
			for _, p := range pairs {
				r++
				ct, cl := ptrace.NewTraces(), plog.NewLogs()
				p.traces.CopyTo(ct)
				p.logs.CopyTo(cl)
				forEach(ct, func(_, _, _ int, s ptrace.Span) {
					tid := s.TraceID()
					binary.BigEndian.PutUint32(tid[0:4], r^binary.BigEndian.Uint32(tid[0:4]))
					s.SetTraceID(tid)
				})
				for i := 0; i < cl.ResourceLogs().Len(); i++ {
					sls := cl.ResourceLogs().At(i).ScopeLogs()
					for j := 0; j < sls.Len(); j++ {
						lrs := sls.At(j).LogRecords()
						for k := 0; k < lrs.Len(); k++ {
							tid := lrs.At(k).TraceID()
							binary.BigEndian.PutUint32(tid[0:4], r^binary.BigEndian.Uint32(tid[0:4]))
							lrs.At(k).SetTraceID(tid)
						}
					}
				}
				ct.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
				cl.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
			}
		}
		traces, logs = append(traces, td), append(logs, ld)
	}
	require.NotZero(b, len(traces))
	return traces, logs
}

// withEvents is td with each record of ld added to its span as the span
// event it stands for (the older layout, where the same content travels
// on the span): what the traces path costs with the content the logs
// path joins.
func withEvents(td ptrace.Traces, ld plog.Logs) ptrace.Traces {
	out := ptrace.NewTraces()
	td.CopyTo(out)
	spans := map[[24]byte]ptrace.Span{}
	forEach(out, func(_, _, _ int, s ptrace.Span) {
		var k [24]byte
		tid, sid := s.TraceID(), s.SpanID()
		copy(k[:16], tid[:])
		copy(k[16:], sid[:])
		spans[k] = s
	})
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				var key [24]byte
				tid, sid := lr.TraceID(), lr.SpanID()
				copy(key[:16], tid[:])
				copy(key[16:], sid[:])
				s, ok := spans[key]
				if !ok {
					continue
				}
				ev := s.Events().AppendEmpty()
				name := lr.EventName()
				if v, ok := lr.Attributes().Get("event.name"); ok && name == "" {
					name = v.AsString()
				}
				ev.SetName(name)
				ev.SetTimestamp(lr.Timestamp())
				if lr.Body().Type() == pcommon.ValueTypeMap {
					lr.Body().Map().CopyTo(ev.Attributes())
				}
				for key, v := range lr.Attributes().All() {
					if key != "event.name" {
						v.CopyTo(ev.Attributes().PutEmpty(key))
					}
				}
			}
		}
	}
	return out
}

// BenchmarkLogsJoin: storage mode (SQLite, the `make run` path) on the
// LLM-shaped load: traces only; the same traces with their content as
// span events (what storing that content costs without logs); and traces
// with their logs, the logs first (the common order: the SDKs export a
// call's records while it runs) or after the spans. It reports process
// CPU per span; the target is at most 20% over traces_only.
func BenchmarkLogsJoin(b *testing.B) {
	for _, mode := range []string{"traces_only", "content_as_events", "logs_first", "spans_first"} {
		b.Run(mode, func(b *testing.B) {
			h, _ := sqliteStorage(b)
			cfg := storageConfig()
			p := startPair(b, cfg, h)
			const perCall = 1000
			traces, logs := llmLoad(b, perCall, b.N)
			if mode == "content_as_events" {
				for i := range traces {
					traces[i] = withEvents(traces[i], logs[i])
				}
			}
			ctx := context.Background()
			spans := 0
			runtime.GC()
			cpu0 := procstat.CPUTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				spans += traces[i].SpanCount()
				switch mode {
				case "traces_only", "content_as_events":
					require.NoError(b, p.traces.ConsumeTraces(ctx, traces[i]))
				case "logs_first":
					require.NoError(b, p.logs.ConsumeLogs(ctx, logs[i]))
					require.NoError(b, p.traces.ConsumeTraces(ctx, traces[i]))
				case "spans_first":
					require.NoError(b, p.traces.ConsumeTraces(ctx, traces[i]))
					require.NoError(b, p.logs.ConsumeLogs(ctx, logs[i]))
				}
			}
			b.StopTimer()
			cpu := procstat.CPUTime() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans), "cpu-ns/span")
			if mode == "logs_first" || mode == "spans_first" {
				records := 0
				for i := range b.N {
					records += logs[i].LogRecordCount()
				}
				b.ReportMetric(float64(records)/float64(spans), "records/span")
			}
			b.ReportMetric(0, "ns/op")
			p.stop()
		})
	}
}

// BenchmarkLogsJoinBufferBound: records whose spans never come fill the
// join buffer; the heap they keep stays within logs::max_buffered_bytes.
func BenchmarkLogsJoinBufferBound(b *testing.B) {
	h, _ := sqliteStorage(b)
	cfg := storageConfig()
	cfg.Logs.MaxBufferedBytes = 8 << 20
	cfg.Logs.SpanWait = time.Hour
	p := startPair(b, cfg, h)
	ctx := context.Background()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ld := bigContentLogs(200, 2000) // 400 KB of content a push
		distinctTraces(ld, uint32(i))
		require.NoError(b, p.logs.ConsumeLogs(ctx, ld))
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	exporters.mu.Lock()
	_, _, bytes := exporters.m[cfg].joins.stats()
	exporters.mu.Unlock()
	b.ReportMetric(float64(bytes)/(1<<20), "buffered-MiB")
	b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/(1<<20), "heap-growth-MiB")
	b.ReportMetric(float64(b.N)*200*2000/(1<<20), "offered-MiB")
	b.ReportMetric(0, "ns/op")
	p.stop()
}

// distinctTraces gives ld's records trace ids of push n's own.
func distinctTraces(ld plog.Logs, n uint32) {
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for k := 0; k < lrs.Len(); k++ {
		tid := lrs.At(k).TraceID()
		binary.BigEndian.PutUint32(tid[4:8], n)
		lrs.At(k).SetTraceID(tid)
	}
}
