package opperexporter

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"iter"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/procstat"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// benchServer is the cheapest server that honours the API's answers: 200
// for a create, and one 200 result per item for a bulk request (items are
// counted by scanning, not decoding).
type benchServer struct {
	spans atomic.Int64
	bytes atomic.Int64
	reqs  atomic.Int64
}

// benchBodies holds the bench servers' request buffers: a real server's
// reading is not the exporter's cost, and would be the larger part of the
// figure's allocations if every request had a new buffer.
var benchBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBenchBody reads r's body into a pooled buffer; release returns it.
func readBenchBody(r *http.Request) (body []byte, release func()) {
	buf := benchBodies.Get().(*bytes.Buffer)
	buf.Reset()
	buf.Grow(int(max(r.ContentLength, 512)))
	_, _ = buf.ReadFrom(r.Body)
	return buf.Bytes(), func() { benchBodies.Put(buf) }
}

func (s *benchServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, release := readBenchBody(r)
	defer release()
	s.bytes.Add(int64(len(body)))
	s.reqs.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != opperapi.PathV2SpansBatch {
		s.spans.Add(1)
		_, _ = w.Write([]byte(`{"id":"x","name":"x"}`))
		return
	}
	n := countItems(body)
	s.spans.Add(int64(n))
	out := make([]byte, 0, 16+n*28)
	out = append(out, `{"results":[`...)
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"index":`...)
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `,"status":200}`...)
	}
	out = append(out, "]}"...)
	_, _ = w.Write(out)
}

// countItems counts the elements of a JSON array of objects.
func countItems(b []byte) int {
	i := bytes.IndexByte(b, '[')
	if i < 0 {
		return 0
	}
	n, _ := arrayObjects(b[i+1:])
	return n
}

// arrayObjects counts the objects directly inside a JSON array, b being
// what follows its '[', and returns the length of the array's rest up to
// and including its ']'. Strings are skipped with bytes.IndexByte, not a
// byte at a time: the count is the fake server's whole work, and it should
// weigh as little in the exporter's CPU figure as the proto walk does in
// otlp_http's.
func arrayObjects(b []byte) (n, end int) {
	depth := 1
	for j := 0; j < len(b); j++ {
		switch b[j] {
		case '"':
			for {
				k := bytes.IndexByte(b[j+1:], '"')
				if k < 0 {
					return n, len(b)
				}
				j += 1 + k
				// The quote ends the string unless an odd run of
				// backslashes escapes it; the opening quote bounds the run.
				backslashes := 0
				for p := j - 1; b[p] == '\\'; p-- {
					backslashes++
				}
				if backslashes%2 == 0 {
					break
				}
			}
		case '{', '[':
			if b[j] == '{' && depth == 1 {
				n++
			}
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return n, j + 1
			}
		}
	}
	return n, len(b)
}

// benchEncodedInputs is benchInputs encoded as OTLP protobuf, built one
// batch at a time so that no more than one is ever decoded.
func benchEncodedInputs(b *testing.B, n, count int) [][]byte {
	base := allFixtures(b)
	out := make([][]byte, count)
	r := 0
	for k := range out {
		var err error
		out[k], err = (&ptrace.ProtoMarshaler{}).MarshalTraces(replicate(base, n, &r))
		require.NoError(b, err)
	}
	return out
}

// benchInput is the fixture mix replicated to n spans, each replica with
// its own trace ids (so its own span ids).
func benchInput(b *testing.B, n int) ptrace.Traces { return benchInputs(b, n, 1)[0] }

// benchInputs is count distinct benchInput batches.
func benchInputs(b *testing.B, n, count int) []ptrace.Traces {
	base := allFixtures(b)
	outs := make([]ptrace.Traces, count)
	r := 0
	for k := range outs {
		outs[k] = replicate(base, n, &r)
	}
	return outs
}

func replicate(base ptrace.Traces, n int, r *int) ptrace.Traces {
	out := ptrace.NewTraces()
	for ; out.SpanCount() < n; *r++ {
		r := *r
		c := ptrace.NewTraces()
		base.CopyTo(c)
		forEach(c, func(_, _, _ int, s ptrace.Span) {
			tid := s.TraceID()
			binary.BigEndian.PutUint32(tid[0:4], uint32(r)^binary.BigEndian.Uint32(tid[0:4]))
			s.SetTraceID(tid)
		})
		c.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	if *benchRequestsFlag == "sdk" {
		return groupBySource(out)
	}
	return out
}

// BenchmarkExport pushes fixture spans (retention full) through the whole
// exporter (queue with batching, retry, HTTP) into an in-process server.
// It reports spans/s, process CPU and allocations per span, and peak RSS.
// The server's work is in the CPU figure too (it runs in the process);
// BenchmarkTranslateOnly isolates the translator's share.
func BenchmarkExport(b *testing.B) {
	for _, mode := range []struct {
		name string
		bulk BulkMode
		ret  translator.Retention
	}{
		{"per_span_c16/full", BulkOff, translator.RetentionFull},
		{"bulk/full", BulkOn, translator.RetentionFull},
		{"per_span_c16/metadata", BulkOff, translator.RetentionMetadata},
		{"bulk/metadata", BulkOn, translator.RetentionMetadata},
	} {
		b.Run(mode.name, func(b *testing.B) {
			srv := &benchServer{}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			cfg := testConfig(hs.URL)
			cfg.Bulk = mode.bulk
			cfg.Retention = mode.ret
			cfg.MaxConcurrency = 16
			cfg.QueueConfig = benchQueue()
			exp := startExporter(b, cfg)
			measureExport(b, exp, srv)
		})
	}
}

// benchQueue is the queue every export benchmark runs with: the default,
// batching up to the exporter's batch size, blocking when full.
func benchQueue() configoptional.Optional[exporterhelper.QueueBatchConfig] {
	q := exporterhelper.NewDefaultQueueConfig()
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.MaxSize = defaultBatchMaxSize
	q.Batch = configoptional.Some(batch)
	q.BlockOnOverflow = true
	return configoptional.Some(q)
}

// spanCounter is a benchmark server that counts the spans it accepted.
type spanCounter interface {
	accepted() (spans, bytes, requests int64)
}

func (s *benchServer) accepted() (int64, int64, int64) {
	return s.spans.Load(), s.bytes.Load(), s.reqs.Load()
}

// The export benchmarks' own flags, after -args or in BENCH_FLAGS.
var (
	benchInputsFlag = flag.String("export.inputs", "decoded",
		"the export benchmarks' inputs: decoded (each batch decoded from OTLP protobuf in the timed loop, "+
			"into fresh memory, as a receiver hands it on; the nop floor includes the decoding) or "+
			"shared (copies built beforehand, whose strings all share the fixtures' few, always cached, bytes)")
	benchRequestsFlag = flag.String("export.requests", "fixtures",
		"the shape of each 1,000-span call: fixtures (every fixture copy its own ResourceSpans, as captured: "+
			"one per 2.6 spans) or sdk (one ResourceSpans per resource and one ScopeSpans per scope, "+
			"as an SDK's batch processor exports)")
	benchCPUProfileFlag = flag.String("export.cpuprofile", "",
		"write a CPU profile of the export benchmarks' timed part alone to this file "+
			"(a plain -cpuprofile mostly shows the inputs being built)")
)

// measureExport feeds exp b.N distinct batches of the fixture mix, 1,000
// spans each, waits until srv has them all, and reports throughput, process
// CPU (and the garbage collector's part of it), allocations and peak memory
// per span.
func measureExport(b *testing.B, exp consumer.Traces, srv spanCounter) {
	// ConsumeTraces owns what it is given: one distinct batch per call.
	const perCall = 1000
	if r := *benchRequestsFlag; r != "fixtures" && r != "sdk" {
		b.Fatalf("-export.requests: want fixtures or sdk, got %q", r)
	}
	var next func(i int) ptrace.Traces
	switch *benchInputsFlag {
	case "decoded":
		encoded := benchEncodedInputs(b, perCall, b.N)
		next = func(i int) ptrace.Traces {
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(encoded[i])
			require.NoError(b, err)
			return td
		}
	case "shared":
		inputs := benchInputs(b, perCall, b.N)
		next = func(i int) ptrace.Traces { return inputs[i] }
	default:
		b.Fatalf("-export.inputs: want decoded or shared, got %q", *benchInputsFlag)
	}

	var want int64
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	if f := *benchCPUProfileFlag; f != "" {
		out, err := os.Create(f)
		require.NoError(b, err)
		require.NoError(b, pprof.StartCPUProfile(out))
		defer func() {
			pprof.StopCPUProfile()
			require.NoError(b, out.Close())
		}()
	}
	cpu0, gc0 := procstat.CPUTime(), gcCPUSeconds()
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		td := next(i)
		want += int64(td.SpanCount())
		require.NoError(b, exp.ConsumeTraces(context.Background(), td))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		got, _, _ := srv.accepted()
		if got >= want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("server got %d of %d spans", got, want)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu, gc := procstat.CPUTime()-cpu0, gcCPUSeconds()-gc0
	runtime.ReadMemStats(&ms1)
	_, bodyBytes, reqs := srv.accepted()
	total := float64(want)
	b.ReportMetric(total/elapsed.Seconds(), "spans/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/span")
	b.ReportMetric(gc*1e9/total, "gc-cpu-ns/span")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/span")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/total, "B/span")
	b.ReportMetric(procstat.PeakRSSMiB(), "peak-RSS-MiB")
	if reqs > 0 {
		b.ReportMetric(float64(bodyBytes)/total, "body-B/span")
		b.ReportMetric(total/float64(reqs), "spans/request")
	}
	b.ReportMetric(0, "ns/op")
}

// gcCPUSeconds is the CPU the garbage collector has used so far.
func gcCPUSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

// BenchmarkTranslateOnly is the translator's share of BenchmarkExport:
// ToOpper plus the v2 body encoding, single-threaded.
func BenchmarkTranslateOnly(b *testing.B) {
	td := benchInput(b, 1000)
	tr := translator.New(translator.Options{Retention: translator.RetentionFull, MaxFieldBytes: translator.DefaultMaxFieldBytes})
	buf := make([]byte, 0, 64<<10)
	n := td.SpanCount()
	b.ReportAllocs()
	for b.Loop() {
		spans := tr.ToOpper(td)
		for i := range spans {
			buf = translator.AppendCreateSpanV2(buf[:0], &spans[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/span")
	b.ReportMetric(0, "ns/op")
}

// groupBySource merges the ResourceSpans of td that have the same
// resource, and inside them the ScopeSpans of the same scope, as an SDK
// exports them: one ResourceSpans per service and one ScopeSpans per
// instrumentation library in each request.
func groupBySource(td ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	for _, rs := range td.ResourceSpans().All() {
		into := findOrAdd(out.ResourceSpans().All(), func(o ptrace.ResourceSpans) bool {
			return o.SchemaUrl() == rs.SchemaUrl() && o.Resource().Attributes().Equal(rs.Resource().Attributes())
		}, func() ptrace.ResourceSpans {
			n := out.ResourceSpans().AppendEmpty()
			rs.Resource().CopyTo(n.Resource())
			n.SetSchemaUrl(rs.SchemaUrl())
			return n
		})
		for _, ss := range rs.ScopeSpans().All() {
			scope := findOrAdd(into.ScopeSpans().All(), func(o ptrace.ScopeSpans) bool {
				return o.SchemaUrl() == ss.SchemaUrl() && o.Scope().Name() == ss.Scope().Name() &&
					o.Scope().Version() == ss.Scope().Version() && o.Scope().Attributes().Equal(ss.Scope().Attributes())
			}, func() ptrace.ScopeSpans {
				n := into.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(n.Scope())
				n.SetSchemaUrl(ss.SchemaUrl())
				return n
			})
			ss.Spans().MoveAndAppendTo(scope.Spans())
		}
	}
	return out
}

// findOrAdd returns the first element of all that match accepts, or else
// the one add appends.
func findOrAdd[T any](all iter.Seq2[int, T], match func(T) bool, add func() T) T {
	for _, o := range all {
		if match(o) {
			return o
		}
	}
	return add()
}
