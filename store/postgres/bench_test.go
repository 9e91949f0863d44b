package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opperotel/bridge/internal/benchdata"
	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/internal/procstat"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// Benchmarks against a local PostgreSQL with its durable defaults (fsync,
// synchronous commits), started by the benchmark binary (internal/pgtest);
// the large stores are built once per run:
//
//	go test -run '^$' -bench . -benchtime 400x ./store/postgres
//
// Client and server share this machine's CPUs. Latency benchmarks report
// p50 and p99 of the per-operation times.

const benchProject = "bench"

// benchDSN is a new database on the durable server.
func benchDSN(b *testing.B) string {
	b.Helper()
	srv, err := pgtest.SharedDurable()
	if err != nil {
		b.Fatal(err)
	}
	dsn, err := srv.NewDatabase(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return dsn
}

func openBench(b *testing.B, dsn string) *Store {
	b.Helper()
	s, err := Open(context.Background(), Config{DSN: dsn, MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// ingest has writers goroutines per store write batches of 1000 new spans
// (20 traces of 50) as the exporter's direct write does (forward off), b.N
// batches in all, and reports spans/s.
func ingest(b *testing.B, stores []*Store, writers int) {
	ctx := context.Background()
	// Generated first: only the writes are measured.
	batches := make([][]translator.Span, b.N)
	for i := range batches {
		for t := i * 20; t < (i+1)*20; t++ {
			batches[i] = benchdata.Trace(t, benchdata.TraceStart(t), batches[i])
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu := procstat.CPUTime()
	b.ResetTimer()
	for _, s := range stores {
		for range writers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					if err := s.UpsertSpans(ctx, benchProject, batches[i], false); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	b.StopTimer()
	spans := float64(b.N * 20 * benchdata.SpansPerTrace)
	b.ReportMetric(spans/b.Elapsed().Seconds(), "spans/s")
	// The client's CPU only: the server's is on top.
	b.ReportMetric(spans/(procstat.CPUTime()-cpu).Seconds(), "spans/client-cpu-s")
}

// BenchmarkUpsertSpansBulk writes batches of 1000 new spans from 1 and 4
// concurrent writers (the exporter's queue consumers).
func BenchmarkUpsertSpansBulk(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ingest(b, []*Store{openBench(b, benchDSN(b))}, writers)
		})
	}
}

// BenchmarkReplicas writes through one store and through two stores (two
// replicas: each its own connection pool) on one database, 4 writers each.
func BenchmarkReplicas(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			dsn := benchDSN(b)
			stores := make([]*Store, n)
			for i := range stores {
				stores[i] = openBench(b, dsn)
			}
			ingest(b, stores, 4)
		})
	}
}

// benchDBs are the databases built by a run, by name.
var benchDBs struct {
	sync.Mutex
	dsns map[string]string
}

// buildDB returns the DSN of database name, building it on first use from
// traces traces made by gen, 5000 spans (or a little more) a write.
func buildDB(b *testing.B, name string, traces int, gen func(n int, out []translator.Span) []translator.Span) string {
	b.Helper()
	benchDBs.Lock()
	defer benchDBs.Unlock()
	if dsn, ok := benchDBs.dsns[name]; ok {
		return dsn
	}
	dsn := benchDSN(b)
	s, err := Open(context.Background(), Config{DSN: dsn, MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	began := time.Now()
	var next, spans atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			buf := make([]translator.Span, 0, 5100)
			for {
				lo := int(next.Add(500)) - 500
				if lo >= traces {
					return
				}
				buf = buf[:0]
				for n := lo; n < min(lo+500, traces); n++ {
					buf = gen(n, buf)
				}
				if err := s.UpsertSpans(context.Background(), benchProject, buf, false); err != nil {
					b.Error(err)
					return
				}
				spans.Add(int64(len(buf)))
			}
		})
	}
	wg.Wait()
	// Fresh planner statistics, as autovacuum would have by then.
	if _, err := s.pool.Exec(context.Background(), "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var size string
	_ = s.pool.QueryRow(context.Background(), `SELECT pg_size_pretty(pg_database_size(current_database()))`).Scan(&size)
	b.Logf("built %s: %d traces (%d spans) in %v (%.0f spans/s), database %s", name, traces, spans.Load(),
		time.Since(began).Round(time.Millisecond), float64(spans.Load())/time.Since(began).Seconds(), size)
	if benchDBs.dsns == nil {
		benchDBs.dsns = map[string]string{}
	}
	benchDBs.dsns[name] = dsn
	return dsn
}

// BenchmarkGetTrace reads random 50-span traces of a store of 1,000,000
// spans.
func BenchmarkGetTrace(b *testing.B) {
	const spans = 1_000_000
	traces := spans / benchdata.SpansPerTrace
	s := openBench(b, buildDB(b, "spans-1M", traces, func(n int, out []translator.Span) []translator.Span {
		return benchdata.Trace(n, benchdata.TraceStart(n), out)
	}))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	benchdata.Latency(b, func(int) error {
		n := rng.IntN(traces)
		tr, err := s.GetTrace(ctx, benchProject, benchdata.TraceID(n))
		if err == nil && len(tr.Spans) != benchdata.SpansPerTrace {
			err = fmt.Errorf("trace %d: %d spans", n, len(tr.Spans))
		}
		return err
	})
}

// BenchmarkListFlat is the SQLite store's list benchmark (its filters, its
// traces of 10 spans) over 100,000 and 1,000,000 traces: the p99 should
// not grow with the store. BENCH_LIST_TRACES=100000 limits it to one size.
func BenchmarkListFlat(b *testing.B) {
	benchdata.ListFlat(b, benchProject, func(b *testing.B, traces int) store.Store {
		return openBench(b, buildDB(b, fmt.Sprintf("flat-%d", traces), traces, benchdata.FlatTrace))
	})
}
