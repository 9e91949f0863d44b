// Package benchdata generates the realistic traces the benchmarks store:
// the store's and the explorer's measure the same data.
package benchdata // import "github.com/opperotel/bridge/internal/benchdata"

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opperotel/bridge/internal/procstat"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// SpansPerTrace is the size of every generated trace.
const SpansPerTrace = 50

// Workflows name the traces, one per trace in turn.
var Workflows = []string{"checkout agent", "support triage", "code review", "search assistant", "invoice parser",
	"email drafter", "onboarding bot", "sql copilot", "ticket router", "doc summariser", "lead scorer",
	"translation pipeline", "rag answerer", "fraud check", "meeting notes", "contract review", "voice agent",
	"recommendation", "moderation", "planner"}

// The generated spans' models, their providers, tools, and content.
var (
	Models      = []string{"gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-pro", "mistral-large"}
	Providers   = []string{"openai", "openai", "anthropic", "google", "mistral"}
	ToolNames   = []string{"search", "fetch_url", "sql_query", "send_email", "calculator", "lookup_customer"}
	Prompt      = strings.Repeat("You are a helpful assistant. Answer the user's question precisely. ", 5)
	Completion  = strings.Repeat("Here is the answer with the details you asked for. ", 4)
	ToolPayload = `{"query":"status of order 12345","limit":10,"filters":{"region":"eu"}}`
)

// Trace builds a realistic 50-span trace: an agent root over steps of
// a function wrapper with a generation, tool calls and retrievals. Ids
// derive from n, so a trace is the same every time it is generated.
func Trace(n int, start time.Time, out []translator.Span) []translator.Span {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	// Ids as the exporter makes them: a random trace id, span ids of the
	// trace's first 8 bytes and a random OTel span id.
	tid := TraceID(n)
	var idArr [SpansPerTrace]string
	for i := range idArr {
		idArr[i] = tid[:19] + fmt.Sprintf("%04x-%012x", rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
	}
	sid := func(i int) string { return idArr[i] }
	root := sid(0)
	wf := Workflows[n%len(Workflows)]
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	var total translator.Usage
	var cost float64
	base := len(out)
	out = append(out, translator.Span{
		TraceID: tid, ID: root, Name: wf + " " + strconv.Itoa(n%1000), Type: translator.TypeAgent,
		StartTime: at(0), Input: &Prompt, Output: &Completion,
		Tags:   []string{"env:prod", "customer-" + strconv.Itoa(rng.IntN(100))},
		UserID: "user-" + strconv.Itoa(rng.IntN(5000)), SessionID: "session-" + strconv.Itoa(n/10),
		Meta: translator.MetaOf(map[string]any{"release": "2026.3.1", "region": "eu-west-1"}),
	})
	ms := 5
	for i := 1; i < SpansPerTrace; {
		step := i
		m := rng.IntN(len(Models))
		usage := &translator.Usage{Input: int64(200 + rng.IntN(2000)), Output: int64(50 + rng.IntN(500))}
		usage.Total = usage.Input + usage.Output
		c := float64(usage.Total) * 2e-6
		total.Input += usage.Input
		total.Output += usage.Output
		total.Total += usage.Total
		cost += c
		dur := 200 + rng.IntN(2000)
		out = append(out, translator.Span{
			TraceID: tid, ID: sid(i), ParentID: root, Name: "step " + strconv.Itoa(step), Type: translator.TypeFunction,
			StartTime: at(ms), EndTime: at(ms + dur + 20),
		})
		i++
		if i < SpansPerTrace {
			gen := translator.Span{
				TraceID: tid, ID: sid(i), ParentID: sid(step), Name: "chat " + Models[m], Type: translator.TypeGeneration,
				StartTime: at(ms + 5), EndTime: at(ms + 5 + dur), Model: Models[m], Provider: Providers[m],
				Input: &Prompt, Output: &Completion, Usage: usage, Cost: &c, CostSource: "computed:2026-01",
				Meta: translator.MetaOf(map[string]any{"finish_reasons": []any{"stop"}, "temperature": 0.2, "max_tokens": int64(1024)}),
			}
			out = append(out, gen)
			i++
		}
		for k := 0; k < 2 && i < SpansPerTrace; k++ {
			typ, name := translator.TypeTool, ToolNames[rng.IntN(len(ToolNames))]
			if rng.IntN(3) == 0 {
				typ, name = translator.TypeRetrieval, "vector search"
			}
			sp := translator.Span{
				TraceID: tid, ID: sid(i), ParentID: sid(step), Name: name, Type: typ,
				StartTime: at(ms + dur + 6 + k), EndTime: at(ms + dur + 15 + k),
				Input: &ToolPayload, InputJSON: true, Output: &ToolPayload, OutputJSON: true,
			}
			if rng.IntN(100) == 0 {
				sp.Error = &Completion
			}
			out = append(out, sp)
			i++
		}
		ms += dur + 30
	}
	r := &out[base]
	r.Usage, r.Aggregate, r.Cost = &total, true, &cost
	switch rng.IntN(100) {
	case 0, 1, 2, 3, 4:
		r.Error = &Completion
		r.EndTime = at(ms)
	case 5:
		// running
	default:
		r.EndTime = at(ms)
	}
	return out
}

// TraceID is the random-looking, deterministic trace id of trace n.
func TraceID(n int) string {
	r := rand.New(rand.NewPCG(uint64(n), 11))
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff,
		r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
}

// Start is when the first benchmark trace starts; traces follow each
// other a second apart, so 1M spans cover about 5.5 hours.
var Start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TraceStart(n int) time.Time { return Start.Add(time.Duration(n) * time.Second) }

// FlatStart is trace n's start in a FlatTrace store: one a second.
func FlatStart(n int) time.Time { return TraceStart(n) }

// FlatTrace is trace n of the list benchmark: a root and nine children.
// Its name carries "#" and n%1000 (a 0.1% substring), 1% end in an error,
// and durations, costs and tags are spread so that each filter of the
// benchmark selects 1%.
func FlatTrace(n int, out []translator.Span) []translator.Span {
	tid := TraceID(n)
	start := FlatStart(n)
	dur := time.Duration(n*7919%6000) * 10 * time.Millisecond
	cost := float64(n*104729%10000) * 1e-5
	name := fmt.Sprintf("%s #%04d", Workflows[n%len(Workflows)], n%1000)
	root := translator.Span{
		TraceID: tid, ID: tid[:19] + fmt.Sprintf("0000-%012x", 0), Name: name, Type: translator.TypeAgent,
		StartTime: start, EndTime: start.Add(dur), Tags: []string{"customer-" + strconv.Itoa(n%100)},
	}
	if n%100 == 7 {
		root.Error = &Completion
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

// ListQuery is a trace-list filter of the list benchmarks, selecting about
// as much of a FlatTrace store as its name says.
type ListQuery struct {
	Name  string
	Query func(traces int) store.TraceQuery
}

// ListQueries are the filters a list UI sends, each as selective as its
// name says over a store of FlatTrace traces; the broad ones must count
// most of the store.
func ListQueries() []ListQuery {
	return []ListQuery{
		{"newest", func(int) store.TraceQuery { return store.TraceQuery{} }},
		{"name-0.1pct", func(int) store.TraceQuery { return store.TraceQuery{Name: "#0417"} }},
		{"status=error-1pct", func(int) store.TraceQuery { return store.TraceQuery{Status: translator.StatusError} }},
		{"duration-1pct", func(int) store.TraceQuery {
			return store.TraceQuery{MinDuration: 59_400 * time.Millisecond, MaxDuration: 60 * time.Second}
		}},
		{"cost-1pct", func(int) store.TraceQuery { return store.TraceQuery{MinCost: ptr(0.099)} }},
		{"tag-1pct", func(int) store.TraceQuery { return store.TraceQuery{Tag: "customer-42"} }},
		{"last-hour", func(traces int) store.TraceQuery {
			end := FlatStart(traces)
			return store.TraceQuery{From: end.Add(-time.Hour), To: end}
		}},
		// Filters that match most traces, which must count most of them.
		{"broad:status=ok-99pct", func(int) store.TraceQuery { return store.TraceQuery{Status: translator.StatusOK} }},
		{"broad:name-5pct", func(int) store.TraceQuery { return store.TraceQuery{Name: "checkout"} }},
		{"broad:duration-50pct", func(int) store.TraceQuery { return store.TraceQuery{MinDuration: 30 * time.Second} }},
	}
}

func ptr[T any](v T) *T { return &v }

// Latency runs op b.N times and reports the p50 and p99 of its times, and
// the process's peak RSS.
func Latency(b *testing.B, op func(i int) error) {
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(times)
	q := func(p float64) float64 { return float64(times[int(float64(len(times)-1)*p)]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(procstat.PeakRSSMiB(), "peak-rss-MiB")
}

// ListFlat is the flat-list benchmark of a store backend: for each size
// (BENCH_LIST_TRACES=n runs only that one), open returns the backend's
// store of that many FlatTrace traces in project, and each of
// ListQueries is listed, pages of 20 with the exact count, b.N times.
func ListFlat(b *testing.B, project string, open func(b *testing.B, traces int) store.Store) {
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("BENCH_LIST_TRACES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("BENCH_LIST_TRACES=%q: %v", v, err)
		}
		sizes = []int{n}
	}
	for _, traces := range sizes {
		for _, qq := range ListQueries() {
			b.Run(fmt.Sprintf("traces=%d/%s", traces, qq.Name), func(b *testing.B) {
				s := open(b, traces)
				ctx := context.Background()
				q := qq.Query(traces)
				q.Limit = 20
				Latency(b, func(int) error {
					page, total, err := s.ListTraces(ctx, project, q)
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
