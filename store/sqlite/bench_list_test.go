package sqlite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/opperotel/bridge/internal/benchdata"
)

// BenchmarkListFlat measures the trace list over stores of 100,000 and
// 1,000,000 traces of 10 spans (1M and 10M spans), under the filters a
// list UI sends, each as selective as stated: the p99 should not grow
// with the store. BENCH_LIST_TRACES=100000 limits it to one size (building
// the 10M-span store takes a few minutes).
func BenchmarkListFlat(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("BENCH_LIST_TRACES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("BENCH_LIST_TRACES=%q: %v", v, err)
		}
		sizes = []int{n}
	}
	queries := benchdata.ListQueries()
	for _, traces := range sizes {
		for _, qq := range queries {
			b.Run(fmt.Sprintf("traces=%d/%s", traces, qq.Name), func(b *testing.B) {
				s := openFlat(b, traces)
				ctx := context.Background()
				q := qq.Query(traces)
				q.Limit = 20
				latency(b, func(int) error {
					page, total, err := s.ListTraces(ctx, benchProject, q)
					if err == nil && total > 20 && len(page) != 20 {
						err = fmt.Errorf("%+v: %d of %d", q, len(page), total)
					}
					if err == nil && total == 0 {
						err = fmt.Errorf("%+v matches nothing", q)
					}
					return err
				})
			})
		}
	}
}

// openFlat opens (building on first use) the store of traces flat traces.
func openFlat(b *testing.B, traces int) *Store {
	b.Helper()
	path := flatDB(b, traces)
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func flatDB(b *testing.B, traces int) string {
	return buildBenchDB(b, fmt.Sprintf("flat-%d.db", traces), traces, 10_000, false, benchdata.FlatTrace)
}
