package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opperotel/bridge/internal/benchdata"
	"github.com/opperotel/bridge/internal/procstat"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// Benchmarks. The large ones build a store of 100k or 1M spans once per
// `go test -bench` run (in a temporary directory removed at the end); they
// never run under plain `go test`, which runs no benchmarks:
//
//	go test -run '^$' -bench . -benchmem -count 3 ./store/sqlite
//
// Latency benchmarks report p50 and p99 of the per-operation times.

func TestMain(m *testing.M) {
	code := m.Run()
	benchDBs.Lock()
	if benchDBs.dir != "" {
		_ = os.RemoveAll(benchDBs.dir)
	}
	benchDBs.Unlock()
	os.Exit(code)
}

const (
	benchProject   = "bench"
	spansPerTrace  = benchdata.SpansPerTrace
	benchBatchSize = 1000
)

var (
	workflows    = benchdata.Workflows
	genTrace     = benchdata.Trace
	traceStart   = benchdata.TraceStart
	benchTraceID = benchdata.TraceID
)

// openBench opens a fresh store for a benchmark.
func openBench(b *testing.B, cfg Config) *Store {
	b.Helper()
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkUpsertSpansBulk writes batches of 1000 new spans (20 traces of
// 50) in one UpsertSpans each, with forwarding on, as a bulk POST does.
// spans/cpu-s divides by the process's CPU time rather than wall time.
func BenchmarkUpsertSpansBulk(b *testing.B) {
	for _, page := range benchPageSizes {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			benchBulk(b, openBench(b, Config{PageSize: page}))
		})
	}
}

func benchBulk(b *testing.B, s *Store) {
	ctx := context.Background()
	batch := make([]translator.Span, 0, benchBatchSize)
	next := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch = batch[:0]
		for len(batch) < benchBatchSize {
			batch = genTrace(next, traceStart(next), batch)
			next++
		}
		c := procstat.CPUTime()
		b.StartTimer()
		if err := s.UpsertSpans(ctx, benchProject, batch, true); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += procstat.CPUTime() - c
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.N*benchBatchSize)/cpu.Seconds(), "spans/cpu-s")
}

// BenchmarkUpsertSpanSingle writes one span per call, as single v2 creates
// do, each its own transaction.
func BenchmarkUpsertSpanSingle(b *testing.B) {
	s := openBench(b, Config{})
	ctx := context.Background()
	var spans []translator.Span
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(spans) == 0 {
			b.StopTimer()
			spans = genTrace(next, traceStart(next), spans[:0])
			next++
			b.StartTimer()
		}
		if err := s.UpsertSpans(ctx, benchProject, spans[:1], true); err != nil {
			b.Fatal(err)
		}
		spans = spans[1:]
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkUpsertSingleConcurrent writes one span per call from many
// goroutines at once (16 per CPU: 32 on two cores), as concurrent single
// v2 creates do: group commit applies the calls waiting together in one
// transaction. Each goroutine writes its own traces, span by span.
func BenchmarkUpsertSingleConcurrent(b *testing.B) {
	for _, page := range benchPageSizes {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			benchSingleConcurrent(b, openBench(b, Config{PageSize: page}))
		})
	}
}

// benchPageSizes are the page sizes the write benchmarks compare.
var benchPageSizes = []int{4096, 16384, 65536}

func benchSingleConcurrent(b *testing.B, s *Store) {
	ctx := context.Background()
	var traces atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	c := procstat.CPUTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var spans []translator.Span
		for pb.Next() {
			if len(spans) == 0 {
				n := int(traces.Add(1))
				spans = genTrace(n, traceStart(n), spans[:0])
			}
			if err := s.UpsertSpans(ctx, benchProject, spans[:1], true); err != nil {
				b.Error(err)
				return
			}
			spans = spans[1:]
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.N)/(procstat.CPUTime()-c).Seconds(), "spans/cpu-s")
	b.ReportMetric(float64(s.rollups.ops.Load())/float64(s.rollups.commits.Load()), "calls/commit")
}

// benchDBs holds the stores built once per run, by size.
var benchDBs struct {
	sync.Mutex
	dir   string
	paths map[string]string // by file name
}

// benchDB returns the path of a store holding spans spans (spans/50
// traces), building it on first use.
func benchDB(b *testing.B, spans int) string {
	return buildBenchDB(b, fmt.Sprintf("%d.db", spans), spans/spansPerTrace, 5000, true, func(n int, out []translator.Span) []translator.Span {
		return genTrace(n, traceStart(n), out)
	})
}

// buildBenchDB returns the path of the store file name in the run's
// temporary directory, building it on first use from traces traces made
// by gen, batch spans (or a little more) a write.
func buildBenchDB(b *testing.B, name string, traces, batch int, forward bool, gen func(n int, out []translator.Span) []translator.Span) string {
	b.Helper()
	benchDBs.Lock()
	defer benchDBs.Unlock()
	if p, ok := benchDBs.paths[name]; ok {
		return p
	}
	if benchDBs.dir == "" {
		dir, err := os.MkdirTemp("", "opper-store-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDBs.dir, benchDBs.paths = dir, map[string]string{}
	}
	path := filepath.Join(benchDBs.dir, name)
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	spans := 0
	buf := make([]translator.Span, 0, batch)
	for n := 0; n < traces; {
		buf = buf[:0]
		for ; len(buf) < batch && n < traces; n++ {
			buf = gen(n, buf)
		}
		if err := s.UpsertSpans(ctx, benchProject, buf, forward); err != nil {
			b.Fatal(err)
		}
		spans += len(buf)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.Logf("built %d traces (%d spans) in %v (%.0f spans/s), file %d MiB, peak RSS %.0f MiB", traces, spans,
		time.Since(began).Round(time.Millisecond), float64(spans)/time.Since(began).Seconds(), fi.Size()>>20, procstat.PeakRSSMiB())
	benchDBs.paths[name] = path
	return path
}

var benchSizes = []int{100_000, 1_000_000}

func openReader(b *testing.B, spans int) *Store {
	path := benchDB(b, spans)
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkGetTrace reads random 50-span traces.
func BenchmarkGetTrace(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("spans=%d", size), func(b *testing.B) {
			s := openReader(b, size)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			traces := size / spansPerTrace
			benchdata.Latency(b, func(int) error {
				n := rng.IntN(traces)
				tr, err := s.GetTrace(ctx, benchProject, benchTraceID(n))
				if err == nil && len(tr.Spans) != spansPerTrace {
					err = fmt.Errorf("trace %d: %d spans", n, len(tr.Spans))
				}
				return err
			})
		})
	}
}

// BenchmarkListTraces lists pages of 20 under the filters a trace list UI
// sends.
func BenchmarkListTraces(b *testing.B) {
	queries := []struct {
		name string
		q    func(rng *rand.Rand, size int) store.TraceQuery
	}{
		{"newest", func(*rand.Rand, int) store.TraceQuery { return store.TraceQuery{} }},
		{"name", func(rng *rand.Rand, _ int) store.TraceQuery {
			return store.TraceQuery{Name: strings.ToUpper(workflows[rng.IntN(len(workflows))][:6])}
		}},
		{"status=error", func(*rand.Rand, int) store.TraceQuery { return store.TraceQuery{Status: translator.StatusError} }},
		{"name+status+cost", func(rng *rand.Rand, _ int) store.TraceQuery {
			return store.TraceQuery{Name: workflows[rng.IntN(len(workflows))], Status: translator.StatusOK, MinCost: ptr(0.03)}
		}},
		{"duration", func(*rand.Rand, int) store.TraceQuery {
			return store.TraceQuery{MinDuration: 12 * time.Second, MaxDuration: 18 * time.Second}
		}},
		{"tag", func(rng *rand.Rand, _ int) store.TraceQuery {
			return store.TraceQuery{Tag: "customer-" + strconv.Itoa(rng.IntN(100))}
		}},
		{"last-hour", func(_ *rand.Rand, size int) store.TraceQuery {
			end := traceStart(size / spansPerTrace)
			return store.TraceQuery{From: end.Add(-time.Hour), To: end}
		}},
		{"last-hour+name+status", func(rng *rand.Rand, size int) store.TraceQuery {
			end := traceStart(size / spansPerTrace)
			return store.TraceQuery{From: end.Add(-time.Hour), To: end, Name: workflows[rng.IntN(len(workflows))],
				Status: translator.StatusOK}
		}},
		{"page-50", func(*rand.Rand, int) store.TraceQuery { return store.TraceQuery{Offset: 1000} }},
	}
	for _, size := range benchSizes {
		for _, qq := range queries {
			b.Run(fmt.Sprintf("spans=%d/%s", size, qq.name), func(b *testing.B) {
				s := openReader(b, size)
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(3, 4))
				benchdata.Latency(b, func(int) error {
					q := qq.q(rng, size)
					q.Limit = 20
					page, total, err := s.ListTraces(ctx, benchProject, q)
					if err == nil && total > 20 && len(page) != 20 && q.Offset == 0 {
						err = fmt.Errorf("%+v: %d of %d", q, len(page), total)
					}
					return err
				})
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }
