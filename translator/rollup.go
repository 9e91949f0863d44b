package translator

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Trace statuses in roll-ups.
const (
	StatusOK      = "ok"
	StatusError   = "error"
	StatusRunning = "running"
)

// markAggregates applies the second aggregate rule of genai-mapping.md c.4
// within one set of spans: a usage span with a descendant that also has its
// own usage repeats that usage (an AI SDK 7 `embeddings` root over inner
// `embeddings` spans, an OpenInference LLM span wrapping another), so it is
// marked aggregate and leaves the totals.
//
// byRaw is an empty map the index may fill (Map's, reused from batch to
// batch); only spans whose raw ids are exact need it.
func markAggregates(spans []Span, raw []rawSpanID, byRaw map[rawKey]int32) {
	// Nothing to mark without two usages.
	usages := 0
	for i := range spans {
		if spans[i].Usage != nil {
			usages++
		}
	}
	if usages < 2 {
		return
	}
	find := spanIndex(spans, raw, byRaw)
	for i := range spans {
		if spans[i].Usage == nil || spans[i].Aggregate {
			continue
		}
		// The bound stops a malicious cycle of parent links.
		at := i
		for steps := 0; steps < len(spans); steps++ {
			j, ok := find(at)
			if !ok {
				break
			}
			if spans[j].Usage != nil {
				spans[j].Aggregate = true
			}
			at = j
		}
	}
}

// rawKey is a span's OTLP trace and span id.
type rawKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// rawSpanID is what ToOpper derived a span's ids from: exact when the
// span's Opper ids are those of its OTLP ids (no explicit opper.* id).
type rawSpanID struct {
	id     rawKey
	parent pcommon.SpanID
	exact  bool
}

// spanIndex returns a function giving the index of the parent of span i in
// spans. Spans with neither usage nor parent end every walk that reaches
// them without changing anything, as a span missing from the index does:
// they are left out. When every span's ids are its OTLP ids (raw, from
// ToOpper), the index is keyed by those 24 bytes, cheaper to hash than two
// id strings; else (explicit opper ids) by the trace and span id strings.
func spanIndex(spans []Span, raw []rawSpanID, byRaw map[rawKey]int32) func(i int) (int, bool) {
	indexed := func(s *Span) bool { return s.Usage != nil || s.ParentID != "" }
	exact := len(raw) == len(spans)
	for i := 0; exact && i < len(raw); i++ {
		exact = raw[i].exact
	}
	if exact {
		for i := range spans {
			if indexed(&spans[i]) {
				byRaw[raw[i].id] = int32(i)
			}
		}
		return func(i int) (int, bool) {
			if raw[i].parent.IsEmpty() {
				return 0, false
			}
			j, ok := byRaw[rawKey{raw[i].id.trace, raw[i].parent}]
			return int(j), ok
		}
	}
	byKey := make(map[spanKey]int32, len(spans))
	for i := range spans {
		if indexed(&spans[i]) {
			byKey[spanKey{spans[i].TraceID, spans[i].ID}] = int32(i)
		}
	}
	return func(i int) (int, bool) {
		if spans[i].ParentID == "" {
			return 0, false
		}
		j, ok := byKey[spanKey{spans[i].TraceID, spans[i].ParentID}]
		return int(j), ok
	}
}

// TraceSummary is the roll-up of one trace (genai-mapping.md b.12).
type TraceSummary struct {
	TraceID    string
	Name       string
	Status     string
	StartTime  time.Time
	EndTime    time.Time // zero while the root is running
	SpanCount  int64
	TypeCounts map[string]int64
	// ErrorSpans counts spans with an error anywhere in the trace.
	ErrorSpans int64
	// TotalTokens and Cost sum usage-bearing leaf spans only: spans whose
	// own usage is not an aggregate of their descendants'.
	TotalTokens int64
	Cost        float64
	HasCost     bool
	// Input and Output are the root's content or, where the root has
	// none, the first generation's input and the last generation's output.
	Input  *string
	Output *string
	Tags   []string
	RootID string
}

// Duration is end minus start over all spans, zero while running.
func (t *TraceSummary) Duration() time.Duration {
	if t.EndTime.IsZero() || t.StartTime.IsZero() {
		return 0
	}
	return t.EndTime.Sub(t.StartTime)
}

// Summary describes the trace's shape in words: "12 steps, 4 generation, 3
// tool", types by count (function spans are the steps themselves).
func (t *TraceSummary) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d step", t.SpanCount)
	if t.SpanCount != 1 {
		b.WriteByte('s')
	}
	types := make([]string, 0, len(t.TypeCounts))
	for typ := range t.TypeCounts {
		if typ != TypeFunction {
			types = append(types, typ)
		}
	}
	slices.SortFunc(types, func(a, b string) int {
		if c := cmp.Compare(t.TypeCounts[b], t.TypeCounts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, typ := range types {
		fmt.Fprintf(&b, ", %d %s", t.TypeCounts[typ], typ)
	}
	return b.String()
}

// RollUp summarises all spans of one trace. The root is the span without a
// parent, else (a partial trace) the earliest span whose parent is absent.
func RollUp(spans []Span) TraceSummary {
	return rollUp(spans, countedUsage(spans))
}

// RollUpWithUsage is RollUp and UsageByModel in one pass over which spans'
// usage counts: the store's writer needs both for every trace it writes.
func RollUpWithUsage(spans []Span) (TraceSummary, []ModelUsage) {
	counted := countedUsage(spans)
	return rollUp(spans, counted), usageByModel(spans, counted)
}

// rollUp is RollUp with counted, countedUsage(spans), given.
func rollUp(spans []Span, counted []bool) TraceSummary {
	var t TraceSummary
	if len(spans) == 0 {
		return t
	}
	t.TraceID = spans[0].TraceID
	t.SpanCount = int64(len(spans))
	t.TypeCounts = make(map[string]int64)
	present := make(map[string]bool, len(spans))
	for i := range spans {
		present[spans[i].ID] = true
	}
	root := -1
	for i := range spans {
		s := &spans[i]
		t.TypeCounts[s.Type]++
		if s.Error != nil {
			t.ErrorSpans++
		}
		if !s.StartTime.IsZero() && (t.StartTime.IsZero() || s.StartTime.Before(t.StartTime)) {
			t.StartTime = s.StartTime
		}
		if s.EndTime.After(t.EndTime) {
			t.EndTime = s.EndTime
		}
		if counted[i] {
			t.TotalTokens += s.Usage.Total
			if s.Cost != nil {
				t.Cost += *s.Cost
				t.HasCost = true
			}
		} else if s.Usage == nil && s.Cost != nil && !s.Aggregate && s.Type != TypeAgent {
			// A cost without token counts (a priced tool call, say).
			t.Cost += *s.Cost
			t.HasCost = true
		}
		if rootRank(s, present) < rootRank(&spans[max(root, 0)], present) || root < 0 ||
			rootRank(s, present) == rootRank(&spans[root], present) && s.StartTime.Before(spans[root].StartTime) {
			root = i
		}
	}
	t.Cost = math.Round(t.Cost*1e12) / 1e12
	r := &spans[root]
	t.RootID = r.ID
	t.Name = r.Name
	if v, ok := r.Meta.Value(MetaTraceName).(string); ok && v != "" {
		t.Name = v
	}
	t.Input, t.Output, t.Tags = r.Input, r.Output, r.Tags
	// A root without content (an agent's wrapper span, an HTTP handler)
	// is previewed by its first LLM call's input and its last one's output.
	if t.Input == nil || t.Output == nil {
		var first, last *Span
		for i := range spans {
			s := &spans[i]
			if s.Type != TypeGeneration {
				continue
			}
			if s.Input != nil && (first == nil || s.StartTime.Before(first.StartTime)) {
				first = s
			}
			if s.Output != nil && (last == nil || !s.StartTime.Before(last.StartTime)) {
				last = s
			}
		}
		if t.Input == nil && first != nil {
			t.Input = first.Input
		}
		if t.Output == nil && last != nil {
			t.Output = last.Output
		}
	}
	switch {
	case r.Error != nil:
		t.Status = StatusError
	case r.Running():
		t.Status = StatusRunning
		t.EndTime = time.Time{}
	default:
		t.Status = StatusOK
	}
	return t
}

// rootRank orders root candidates: a span without a parent, then one whose
// parent is not in the trace (partial traces), then any span (a cycle).
func rootRank(s *Span, present map[string]bool) int {
	switch {
	case s.ParentID == "":
		return 0
	case !present[s.ParentID]:
		return 1
	}
	return 2
}

// countedUsage reports, per span, whether its usage counts towards the
// trace's totals: it has usage of its own, is not an aggregate, and no
// descendant in the trace has usage of its own.
func countedUsage(spans []Span) []bool {
	counted := make([]bool, len(spans))
	byID := make(map[string]int, len(spans))
	for i := range spans {
		byID[spans[i].ID] = i
		counted[i] = spans[i].Usage != nil && !spans[i].Aggregate
	}
	for i := range spans {
		if spans[i].Usage == nil || spans[i].Aggregate {
			continue
		}
		parent := spans[i].ParentID
		for steps := 0; parent != "" && steps < len(spans); steps++ {
			j, ok := byID[parent]
			if !ok {
				break
			}
			counted[j] = false
			parent = spans[j].ParentID
		}
	}
	return counted
}

// ModelUsage is what one model did over a set of traces: its calls, and
// the tokens and cost that count towards trace totals.
type ModelUsage struct {
	Model  string // "" for usage reported without a model
	Calls  int64
	Tokens int64
	Cost   float64
}

// UsageByModel sums the spans' usage per model with RollUp's rule: only
// spans whose usage counts towards the trace's totals (usage of their own,
// no descendant with usage of its own), so an agent's aggregate is not
// counted twice. The result is sorted by cost, then tokens, descending.
func UsageByModel(spans []Span) []ModelUsage {
	return usageByModel(spans, countedUsage(spans))
}

func usageByModel(spans []Span, counted []bool) []ModelUsage {
	var out []ModelUsage
	for i := range spans {
		if !counted[i] {
			continue
		}
		s := &spans[i]
		out = AddModelUsage(out, ModelUsage{Model: s.Model, Calls: 1, Tokens: s.Usage.Total, Cost: costOf(s)})
	}
	SortModelUsage(out)
	return out
}

func costOf(s *Span) float64 {
	if s.Cost == nil {
		return 0
	}
	return *s.Cost
}

// AddModelUsage adds u to the entry of its model in list.
func AddModelUsage(list []ModelUsage, u ModelUsage) []ModelUsage {
	for i := range list {
		if list[i].Model == u.Model {
			list[i].Calls += u.Calls
			list[i].Tokens += u.Tokens
			list[i].Cost += u.Cost
			return list
		}
	}
	return append(list, u)
}

// SortModelUsage orders by cost, then tokens, descending, then by model.
func SortModelUsage(list []ModelUsage) {
	slices.SortFunc(list, func(a, b ModelUsage) int {
		if c := cmp.Compare(b.Cost, a.Cost); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Tokens, a.Tokens); c != 0 {
			return c
		}
		return cmp.Compare(a.Model, b.Model)
	})
}
