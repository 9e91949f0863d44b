package opperreceiver

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/internal/benchdata"
	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/postgres"
	"github.com/opperotel/bridge/store/sqlite"
	"github.com/opperotel/bridge/translator"
)

// fillBenchTraces writes benchdata's traces 0..traces-1 into s, 5,000
// spans a write.
func fillBenchTraces(b *testing.B, s store.Store, traces int) {
	began := time.Now()
	buf := make([]translator.Span, 0, 5100)
	for n := 0; n < traces; {
		buf = buf[:0]
		for ; len(buf) < 5000 && n < traces; n++ {
			buf = benchdata.Trace(n, benchdata.TraceStart(n), buf)
		}
		require.NoError(b, s.UpsertSpans(context.Background(), DefaultProject, buf, false))
	}
	b.Logf("built %d spans in %v", traces*benchdata.SpansPerTrace, time.Since(began).Round(time.Millisecond))
}

// BenchmarkTraceAPI serves GET /v2/traces/{id} of random 50-span traces and
// the first page of GET /v2/traces from a store of 1,000,000 spans, on
// SQLite and on PostgreSQL (a local server with its durable defaults,
// started by the benchmark; client, receiver and server share the CPUs):
//
//	go test -run '^$' -bench BenchmarkTraceAPI -benchtime 400x ./receiver/opperreceiver
func BenchmarkTraceAPI(b *testing.B) {
	const spans = 1_000_000
	traces := spans / benchdata.SpansPerTrace
	fill := func(b *testing.B, s store.Store) { fillBenchTraces(b, s, traces) }
	open := map[string]func(b *testing.B) store.Store{
		"sqlite": func(b *testing.B) store.Store {
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "opper.db")})
			require.NoError(b, err)
			return s
		},
		"postgres": func(b *testing.B) store.Store {
			srv := pgtest.NewServerWith(b, pgtest.Options{Durable: true})
			dsn, err := srv.NewDatabase(context.Background())
			require.NoError(b, err)
			s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn})
			require.NoError(b, err)
			return s
		},
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("store="+backend, func(b *testing.B) {
			st := open[backend](b)
			b.Cleanup(func() { _ = st.Close() })
			fill(b, st)
			a, err := newAPI(createDefaultConfig().(*Config), st, zap.NewNop(), nil)
			require.NoError(b, err)
			srv := httptest.NewServer(a)
			b.Cleanup(srv.Close)
			c := benchClient()
			rng := rand.New(rand.NewPCG(5, 6))
			for _, ep := range []struct {
				name string
				url  func() string
			}{
				{"GET /v2/traces/{id}", func() string { return srv.URL + "/v2/traces/" + benchdata.TraceID(rng.IntN(traces)) }},
				{"GET /v2/traces", func() string { return srv.URL + "/v2/traces?limit=20" }},
			} {
				b.Run(ep.name, func(b *testing.B) {
					times := make([]time.Duration, 0, b.N)
					for b.Loop() {
						t := time.Now()
						if _, err := getPageBytes(c, ep.url()); err != nil {
							b.Fatal(err)
						}
						times = append(times, time.Since(t))
					}
					slices.Sort(times)
					q := func(f float64) float64 { return float64(times[int(float64(len(times)-1)*f)]) / 1e6 }
					b.ReportMetric(q(0.50), "p50-ms")
					b.ReportMetric(q(0.99), "p99-ms")
				})
			}
		})
	}
}
