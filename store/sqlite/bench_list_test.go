package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/opperotel/bridge/internal/benchdata"
	"github.com/opperotel/bridge/store"
)

// BenchmarkListFlat measures the trace list over stores of 100,000 and
// 1,000,000 traces of 10 spans (1M and 10M spans), under the filters a
// list UI sends, each as selective as stated: the p99 should not grow
// with the store. BENCH_LIST_TRACES=100000 limits it to one size (building
// the 10M-span store takes a few minutes).
func BenchmarkListFlat(b *testing.B) {
	benchdata.ListFlat(b, benchProject, func(b *testing.B, traces int) store.Store { return openFlat(b, traces) })
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
