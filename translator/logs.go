package translator

import (
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// GenAI events in logs. OpenTelemetry's own GenAI instrumentations put
// message content in log records (the Events API) instead of on spans:
// gen_ai.system.message, gen_ai.user.message, gen_ai.assistant.message,
// gen_ai.tool.message and gen_ai.choice (one record a message, the
// message in the body), gen_ai.client.inference.operation.details (the
// latest semconv: the messages in attributes) and gen_ai.evaluation.result.
// They mean what the same events on a span mean, so they are mapped by the
// span mapping itself: the records of one span become the events of a
// stand-in generation span, and its content is what they add to the real
// span. One mapping, one set of content sources, one retention.

// LogContent is what the GenAI log records of one span add to it.
type LogContent struct {
	// TraceID and SpanID are the Opper ids of the span the records belong
	// to (TraceUUID, SpanUUID of their trace and span ids).
	TraceID, SpanID string
	// Input, Output and Instructions are nil when the records carry none
	// (or retention keeps none).
	Input, Output, Instructions *string
	InputJSON, OutputJSON       bool
	// Metrics are evaluations (gen_ai.evaluation.result).
	Metrics []Metric
	// Records is how many log records it was made from.
	Records int
}

// LogCounts says what became of the log records of a batch.
type LogCounts struct {
	// GenAI records joined to a span (in a LogContent).
	Joined int
	// Records that are not GenAI events.
	NotGenAI int
	// GenAI records without a span to join (no trace or span id).
	NoSpan int
}

// IsGenAIEvent reports whether a log record is a GenAI event: by its
// event name, or the event.name attribute of older SDKs.
func IsGenAIEvent(lr plog.LogRecord) bool {
	return strings.HasPrefix(logEventName(lr), "gen_ai.")
}

func logEventName(lr plog.LogRecord) string {
	if n := lr.EventName(); n != "" {
		return n
	}
	if v, ok := lr.Attributes().Get("event.name"); ok {
		return v.AsString()
	}
	return ""
}

// LogContents maps the GenAI events in ld to what they add to their spans,
// one LogContent a span, in the order their spans first appear. Records
// that are not GenAI events, and GenAI records without span context, are
// counted and left out.
func (t *Translator) LogContents(ld plog.Logs) ([]LogContent, LogCounts) {
	var counts LogCounts
	td := ptrace.NewTraces()
	stand := map[[24]byte]ptrace.Span{} // trace id + span id -> stand-in span
	records := map[[24]byte]int{}
	var order [][24]byte
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var rs ptrace.ResourceSpans
		var ss ptrace.ScopeSpans
		made := false
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if !IsGenAIEvent(lr) {
					counts.NotGenAI++
					continue
				}
				if lr.TraceID().IsEmpty() || lr.SpanID().IsEmpty() {
					counts.NoSpan++
					continue
				}
				// The resource travels along: retention rules pick by it.
				if !made {
					rs = td.ResourceSpans().AppendEmpty()
					rl.Resource().CopyTo(rs.Resource())
					ss = rs.ScopeSpans().AppendEmpty()
					made = true
				}
				var key [24]byte
				tid, sid := lr.TraceID(), lr.SpanID()
				copy(key[:16], tid[:])
				copy(key[16:], sid[:])
				sp, ok := stand[key]
				if !ok {
					sp = ss.Spans().AppendEmpty()
					sp.SetTraceID(tid)
					sp.SetSpanID(sid)
					sp.SetName("gen_ai events")
					// A generation reads every message layout: the
					// per-message events, choices, operation details.
					sp.Attributes().PutStr("gen_ai.operation.name", "chat")
					stand[key] = sp
					order = append(order, key)
				}
				records[key]++
				counts.Joined++
				addLogEvent(sp, lr)
			}
		}
	}
	// The stand-in spans are mapped into a pooled batch: what the
	// contents keep of them is copied out below (strings are never
	// reused; the pointers to them and the metrics may be).
	b := logBatches.Get().(*Batch)
	defer logBatches.Put(b)
	t.Map(b, td)
	spans := b.Spans
	byID := make(map[string]*Span, len(spans))
	for i := range spans {
		byID[spans[i].ID] = &spans[i]
	}
	out := make([]LogContent, 0, len(order))
	for _, key := range order {
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		copy(tid[:], key[:16])
		copy(sid[:], key[16:])
		lc := LogContent{TraceID: TraceUUID(tid), SpanID: SpanUUID(tid, sid), Records: records[key]}
		if s := byID[lc.SpanID]; s != nil {
			lc.Input, lc.Output, lc.Instructions = ownString(s.Input), ownString(s.Output), ownString(s.Instructions)
			lc.InputJSON, lc.OutputJSON, lc.Metrics = s.InputJSON, s.OutputJSON, slices.Clone(s.Metrics)
		}
		out = append(out, lc)
	}
	return out, counts
}

var logBatches = sync.Pool{New: func() any { return new(Batch) }}

// ownString is a pointer of the caller's own to *p's string.
func ownString(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// addLogEvent adds a log record to the stand-in span as the span event it
// stands for: its name, its time, and as attributes its body's fields (the
// Events API puts the message there) and its own attributes.
func addLogEvent(sp ptrace.Span, lr plog.LogRecord) {
	ev := sp.Events().AppendEmpty()
	ev.SetName(logEventName(lr))
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	ev.SetTimestamp(ts)
	if ts != 0 && (sp.StartTimestamp() == 0 || ts < sp.StartTimestamp()) {
		sp.SetStartTimestamp(ts)
	}
	if ts > sp.EndTimestamp() {
		sp.SetEndTimestamp(ts)
	}
	attrs := ev.Attributes()
	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeMap:
		body.Map().CopyTo(attrs)
	case pcommon.ValueTypeEmpty:
	default:
		// A body that is not a map is the message's content.
		body.CopyTo(attrs.PutEmpty("content"))
	}
	for k, v := range lr.Attributes().All() {
		if k == "event.name" {
			continue
		}
		v.CopyTo(attrs.PutEmpty(k))
	}
}

// Fill gives s what the records add to it, as the same events on the span
// would: input, output and instructions where s has none (content the span
// carries itself wins, and a replayed record changes nothing), and the
// evaluations s does not have yet, by id. It reports whether s changed.
func (lc *LogContent) Fill(s *Span) bool {
	changed := false
	if s.Input == nil && lc.Input != nil {
		s.Input, s.InputJSON = lc.Input, lc.InputJSON
		changed = true
	}
	if s.Output == nil && lc.Output != nil {
		s.Output, s.OutputJSON = lc.Output, lc.OutputJSON
		changed = true
	}
	if s.Instructions == nil && lc.Instructions != nil {
		s.Instructions = lc.Instructions
		changed = true
	}
	var added bool
	s.Metrics, added = appendNewMetrics(s.Metrics, lc.Metrics)
	return changed || added
}

// appendNewMetrics appends the metrics of add whose ids have lacks, and
// reports whether it appended any.
func appendNewMetrics(have, add []Metric) ([]Metric, bool) {
	added := false
	for _, m := range add {
		if !slices.ContainsFunc(have, func(h Metric) bool { return h.ID == m.ID }) {
			have = append(have, m)
			added = true
		}
	}
	return have, added
}

// Merge adds later records of the same span to lc: content lc has wins
// (the first records of a span carry its messages), evaluations add up.
func (lc *LogContent) Merge(later *LogContent) {
	if lc.Input == nil {
		lc.Input, lc.InputJSON = later.Input, later.InputJSON
	}
	if lc.Output == nil {
		lc.Output, lc.OutputJSON = later.Output, later.OutputJSON
	}
	if lc.Instructions == nil {
		lc.Instructions = later.Instructions
	}
	lc.Metrics, _ = appendNewMetrics(lc.Metrics, later.Metrics)
	lc.Records += later.Records
}

// Size is about the memory lc holds: its content and evaluations.
func (lc *LogContent) Size() int {
	n := 128 + len(lc.TraceID) + len(lc.SpanID)
	for _, p := range []*string{lc.Input, lc.Output, lc.Instructions} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, m := range lc.Metrics {
		n += 64 + len(m.ID) + len(m.Dimension) + len(m.Comment)
	}
	return n
}

// FillSpans applies each content to its span among spans (by trace and
// span id), as the exporter does when both are in hand; contents of other
// spans are left out.
func FillSpans(spans []Span, contents []LogContent) {
	for i := range contents {
		for j := range spans {
			if spans[j].TraceID == contents[i].TraceID && spans[j].ID == contents[i].SpanID {
				contents[i].Fill(&spans[j])
			}
		}
	}
}
