package sqlite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
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
	queries := []struct {
		name string
		q    func(traces int) store.TraceQuery
	}{
		{"newest", func(int) store.TraceQuery { return store.TraceQuery{} }},
		{"name-0.1pct", func(int) store.TraceQuery { return store.TraceQuery{Name: "#0417"} }},
		{"status=error-1pct", func(int) store.TraceQuery { return store.TraceQuery{Status: translator.StatusError} }},
		{"duration-1pct", func(int) store.TraceQuery {
			return store.TraceQuery{MinDuration: 59_400 * time.Millisecond, MaxDuration: 60 * time.Second}
		}},
		{"cost-1pct", func(int) store.TraceQuery { return store.TraceQuery{MinCost: ptr(0.099)} }},
		{"tag-1pct", func(int) store.TraceQuery { return store.TraceQuery{Tag: "customer-42"} }},
		{"last-hour", func(traces int) store.TraceQuery {
			end := flatStart(traces)
			return store.TraceQuery{From: end.Add(-time.Hour), To: end}
		}},
		// Filters that match most traces, which must count most of them.
		{"broad:status=ok-99pct", func(int) store.TraceQuery { return store.TraceQuery{Status: translator.StatusOK} }},
		{"broad:name-5pct", func(int) store.TraceQuery { return store.TraceQuery{Name: "checkout"} }},
		{"broad:duration-50pct", func(int) store.TraceQuery { return store.TraceQuery{MinDuration: 30 * time.Second} }},
	}
	for _, traces := range sizes {
		for _, qq := range queries {
			b.Run(fmt.Sprintf("traces=%d/%s", traces, qq.name), func(b *testing.B) {
				s := openFlat(b, traces)
				ctx := context.Background()
				q := qq.q(traces)
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

// flatStart is trace n's start: one a second.
func flatStart(n int) time.Time { return benchStart.Add(time.Duration(n) * time.Second) }

// genFlatTrace is trace n of the list benchmark: a root and nine children.
// Its name carries "#" and n%1000 (a 0.1% substring), 1% end in an error,
// and durations, costs and tags are spread so that each filter of the
// benchmark selects 1%.
func genFlatTrace(n int, out []translator.Span) []translator.Span {
	tid := benchTraceID(n)
	start := flatStart(n)
	dur := time.Duration(n*7919%6000) * 10 * time.Millisecond
	cost := float64(n*104729%10000) * 1e-5
	name := fmt.Sprintf("%s #%04d", workflows[n%len(workflows)], n%1000)
	root := translator.Span{
		TraceID: tid, ID: tid[:19] + fmt.Sprintf("0000-%012x", 0), Name: name, Type: translator.TypeAgent,
		StartTime: start, EndTime: start.Add(dur), Tags: []string{"customer-" + strconv.Itoa(n%100)},
	}
	if n%100 == 7 {
		root.Error = &completion
	}
	out = append(out, root)
	for i := 1; i < 10; i++ {
		sp := translator.Span{
			TraceID: tid, ID: tid[:19] + fmt.Sprintf("0000-%012x", i), ParentID: root.ID, Name: "chat gpt-4o-mini",
			Type: translator.TypeGeneration, StartTime: start.Add(time.Duration(i) * time.Millisecond), EndTime: start.Add(dur),
			Model: "gpt-4o-mini", Usage: &translator.Usage{Input: 100, Output: 20, Total: 120},
		}
		if i == 1 {
			c := cost
			sp.Cost = &c
		}
		out = append(out, sp)
	}
	return out
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
	return buildBenchDB(b, fmt.Sprintf("flat-%d.db", traces), traces, 10_000, false, genFlatTrace)
}
