package translator

import (
	"encoding/json"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ScopeName is the instrumentation scope of spans this module creates.
const ScopeName = "github.com/opperotel/bridge/translator"

// AttrIncomplete marks a span forwarded before it ended.
const AttrIncomplete = "opper.span.incomplete"

// reverse mappings of genai-mapping.md section 7.
var typeOperations = map[string]string{
	TypeGeneration: "chat", TypeEmbedding: "embeddings", TypeTool: "execute_tool",
	TypeAgent: "invoke_agent", TypeRetrieval: "retrieval",
}

var typeOpenInferenceKinds = map[string]string{
	TypeGeneration: "LLM", TypeEmbedding: "EMBEDDING", TypeTool: "TOOL", TypeAgent: "AGENT",
	TypeRetrieval: "RETRIEVER", TypeFunction: "CHAIN", TypeGuardrail: "GUARDRAIL", TypeEvaluator: "EVALUATOR",
}

// ToOTLP maps Opper spans to OTLP, so spans written by Opper SDKs join an
// ordinary pipeline and render in GenAI-aware backends: semconv attributes
// first, plus the OpenInference kind, plus the original Opper ids and type
// for a lossless round trip. Spans are grouped by the resource recorded in
// meta.otel.resource (spans that came from OTLP) or by resource, which is
// used for spans without one.
func ToOTLP(spans []Span, resource map[string]any) ptrace.Traces {
	td := ptrace.NewTraces()
	groups := make(map[string]ptrace.SpanSlice)
	for i := range spans {
		s := &spans[i]
		res := resource
		scopeName, scopeVersion := ScopeName, ""
		if otel, ok := asMap(s.Meta.Value(MetaOTel)); ok {
			if r, ok := asMap(otel["resource"]); ok {
				res = r
			}
			if sc, ok := asMap(otel["scope"]); ok {
				scopeName, _ = sc["name"].(string)
				scopeVersion, _ = sc["version"].(string)
			}
		}
		key := string(appendJSON(nil, res)) + "\x00" + scopeName + "\x00" + scopeVersion
		slice, ok := groups[key]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			putAttrs(rs.Resource().Attributes(), res)
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(scopeName)
			ss.Scope().SetVersion(scopeVersion)
			slice = ss.Spans()
			groups[key] = slice
		}
		spanToOTLP(s, slice.AppendEmpty())
	}
	return td
}

func spanToOTLP(s *Span, dst ptrace.Span) {
	tid := OTelTraceID(s.TraceID)
	dst.SetTraceID(tid)
	dst.SetSpanID(otelSpanID(s.TraceID, s.ID))
	if s.ParentID != "" {
		dst.SetParentSpanID(otelSpanID(s.TraceID, s.ParentID))
	}
	dst.SetName(s.Name)
	dst.SetStartTimestamp(timestamp(s.StartTime))
	end := s.EndTime
	attrs := dst.Attributes()
	if end.IsZero() {
		// Forwarded before it ended (incomplete_span_timeout): an OTLP span
		// needs an end, so it gets its start, and a mark.
		end = s.StartTime
		attrs.PutBool(AttrIncomplete, true)
	}
	dst.SetEndTimestamp(timestamp(end))
	dst.SetKind(ptrace.SpanKindInternal)

	otel, _ := asMap(s.Meta.Value(MetaOTel))
	if kind, ok := otel["span_kind"].(string); ok {
		dst.SetKind(parseSpanKind(kind))
	}
	if raw, ok := asMap(otel["attributes"]); ok {
		putAttrs(attrs, raw)
	}
	if ts, ok := otel["trace_state"].(string); ok {
		dst.TraceState().FromRaw(ts)
	}

	attrs.PutStr(AttrOpperSpanID, s.ID)
	attrs.PutStr(AttrOpperTraceID, s.TraceID)
	if s.ParentID != "" {
		attrs.PutStr(AttrOpperParentID, s.ParentID)
	}
	if s.Type != "" {
		attrs.PutStr(AttrOpperSpanType, s.Type)
		if op, ok := typeOperations[s.Type]; ok {
			attrs.PutStr("gen_ai.operation.name", op)
		}
		if kind, ok := typeOpenInferenceKinds[s.Type]; ok {
			attrs.PutStr("openinference.span.kind", kind)
		}
	}
	putContent(attrs, s)
	if s.Model != "" {
		attrs.PutStr("gen_ai.response.model", s.Model)
		req := s.RequestModel
		if req == "" {
			req = s.Model
		}
		attrs.PutStr("gen_ai.request.model", req)
	}
	if s.Provider != "" {
		attrs.PutStr("gen_ai.provider.name", s.Provider)
	}
	if s.GenerationID != "" {
		attrs.PutStr("gen_ai.response.id", s.GenerationID)
	}
	if s.Function != "" {
		attrs.PutStr("opper.function", s.Function)
	}
	if u := s.Usage; u != nil {
		prefix := "gen_ai.usage."
		if s.Aggregate {
			prefix = "gen_ai.aggregated_usage."
		}
		attrs.PutInt(prefix+"input_tokens", u.Input)
		attrs.PutInt(prefix+"output_tokens", u.Output)
		if u.CacheRead > 0 {
			attrs.PutInt(prefix+"cache_read.input_tokens", u.CacheRead)
		}
		if u.CacheWrite > 0 {
			attrs.PutInt(prefix+"cache_creation.input_tokens", u.CacheWrite)
		}
		if u.Reasoning > 0 {
			attrs.PutInt(prefix+"reasoning.output_tokens", u.Reasoning)
		}
		if u.Total != u.Input+u.Output {
			attrs.PutInt(prefix+"total_tokens", u.Total)
		}
	}
	if s.Cost != nil && !s.Aggregate {
		attrs.PutDouble("gen_ai.usage.cost", *s.Cost)
	}
	if len(s.Tags) > 0 {
		tags := attrs.PutEmptySlice("tag.tags")
		for _, t := range s.Tags {
			tags.AppendEmpty().SetStr(t)
		}
	}
	if s.UserID != "" {
		attrs.PutStr("user.id", s.UserID)
	}
	if s.SessionID != "" {
		attrs.PutStr("session.id", s.SessionID)
	}
	if s.Score != nil {
		attrs.PutInt("opper.score", *s.Score)
	}
	rest := restMeta(s.Meta)
	if s.InputJSON || s.OutputJSON {
		if rest == nil {
			rest = make(map[string]any, 2)
		}
		if s.InputJSON {
			rest[MetaInputJSON] = true
		}
		if s.OutputJSON {
			rest[MetaOutputJSON] = true
		}
	}
	if len(rest) > 0 {
		attrs.PutStr(AttrOpperMeta, string(appendJSON(nil, rest)))
	}

	switch {
	case s.Error != nil && (otel["status_code"] == "UNSET" || otel["status_code"] == "OK"):
		// An error that came from Langfuse's level, not the OTel status.
		if otel["status_code"] == "OK" {
			dst.Status().SetCode(ptrace.StatusCodeOk)
		}
		attrs.PutStr("langfuse.observation.level", "ERROR")
		attrs.PutStr("langfuse.observation.status_message", *s.Error)
	case s.Error != nil:
		dst.Status().SetCode(ptrace.StatusCodeError)
		dst.Status().SetMessage(*s.Error)
		errType := "error"
		if et, ok := s.Meta.Value("error_type").(string); ok && et != "" {
			errType = et
		}
		attrs.PutStr("error.type", errType)
		ev := dst.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(timestamp(end))
		ev.Attributes().PutStr("exception.message", *s.Error)
	case otel["status_code"] == "OK":
		dst.Status().SetCode(ptrace.StatusCodeOk)
	}
	for _, m := range s.Metrics {
		ev := dst.Events().AppendEmpty()
		ev.SetName("gen_ai.evaluation.result")
		ev.SetTimestamp(timestamp(end))
		ev.Attributes().PutStr("gen_ai.evaluation.name", m.Dimension)
		ev.Attributes().PutDouble("gen_ai.evaluation.score.value", m.Value)
		if m.Comment != "" {
			ev.Attributes().PutStr("gen_ai.evaluation.explanation", m.Comment)
		}
		if m.ID != "" {
			ev.Attributes().PutStr(AttrOpperMetricID, m.ID)
		}
	}
	if evs, ok := asList(otel["events"]); ok {
		for _, e := range evs {
			putEvent(dst.Events(), e)
		}
	}
}

// otelSpanID maps an Opper span id back to an OTel span id. A span id this
// translator derived (trace prefix + span id) maps to its last 8 bytes; so
// does any UUID, per OTelSpanID.
func otelSpanID(_ string, id string) pcommon.SpanID { return OTelSpanID(id) }

// putContent writes input and output as semconv messages when they are
// semconv message arrays, else as OpenInference values with a mime type.
func putContent(attrs pcommon.Map, s *Span) {
	if s.Instructions != nil {
		attrs.PutStr("gen_ai.system_instructions", string(appendJSON(nil, []any{map[string]any{"type": "text", "content": *s.Instructions}})))
	}
	for _, c := range []struct {
		v               *string
		semconv, oi, mt string
	}{
		{s.Input, "gen_ai.input.messages", "input.value", "input.mime_type"},
		{s.Output, "gen_ai.output.messages", "output.value", "output.mime_type"},
	} {
		if c.v == nil {
			continue
		}
		if isSemconvMessages(*c.v) {
			attrs.PutStr(c.semconv, *c.v)
			continue
		}
		attrs.PutStr(c.oi, *c.v)
		if _, ok := parseJSON(*c.v); ok && looksStructured(*c.v) {
			attrs.PutStr(c.mt, "application/json")
		} else {
			attrs.PutStr(c.mt, "text/plain")
		}
	}
}

func looksStructured(s string) bool {
	t := strings.TrimSpace(s)
	return t != "" && (t[0] == '{' || t[0] == '[')
}

// isSemconvMessages reports whether s is a JSON array of semconv messages:
// objects with a role and a parts list.
func isSemconvMessages(s string) bool {
	t := strings.TrimSpace(s)
	if t == "" || t[0] != '[' || !strings.Contains(t, `"parts"`) {
		return false
	}
	var msgs []map[string]json.RawMessage
	if json.Unmarshal([]byte(t), &msgs) != nil || len(msgs) == 0 {
		return false
	}
	for _, m := range msgs {
		if _, ok := m["role"]; !ok {
			return false
		}
		if _, ok := m["parts"]; !ok {
			return false
		}
	}
	return true
}

// restMeta is the meta that has no OTLP attribute of its own.
func restMeta(meta Meta) map[string]any {
	var rest map[string]any
	for _, f := range meta {
		if f.Key == MetaOTel {
			continue
		}
		if rest == nil {
			rest = make(map[string]any, len(meta))
		}
		rest[f.Key] = f.Value
	}
	return rest
}

func parseSpanKind(s string) ptrace.SpanKind {
	switch s {
	case "INTERNAL":
		return ptrace.SpanKindInternal
	case "SERVER":
		return ptrace.SpanKindServer
	case "CLIENT":
		return ptrace.SpanKindClient
	case "PRODUCER":
		return ptrace.SpanKindProducer
	case "CONSUMER":
		return ptrace.SpanKindConsumer
	}
	return ptrace.SpanKindUnspecified
}

func timestamp(t time.Time) pcommon.Timestamp {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return pcommon.NewTimestampFromTime(t)
}

func putEvent(events ptrace.SpanEventSlice, e any) {
	m, ok := e.(map[string]any)
	if !ok {
		return
	}
	ev := events.AppendEmpty()
	name, _ := m["name"].(string)
	ev.SetName(name)
	if ts, ok := m["time"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			ev.SetTimestamp(timestamp(t))
		}
	}
	if attrs, ok := m["attributes"].(map[string]any); ok {
		putAttrs(ev.Attributes(), attrs)
	}
}

// putAttrs writes JSON-ready values as attributes; numbers decoded from
// JSON arrive as int64 or float64 (normalizeNumbers) or json.Number.
func putAttrs(dst pcommon.Map, src map[string]any) {
	for k, v := range src {
		putValue(dst.PutEmpty(k), v, 0)
	}
}

func putValue(dst pcommon.Value, v any, depth int) {
	switch x := v.(type) {
	case string:
		dst.SetStr(x)
	case bool:
		dst.SetBool(x)
	case int64:
		dst.SetInt(x)
	case int:
		dst.SetInt(int64(x))
	case float64:
		dst.SetDouble(x)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			dst.SetInt(n)
		} else if f, err := x.Float64(); err == nil {
			dst.SetDouble(f)
		} else {
			dst.SetStr(x.String())
		}
	case []string:
		s := dst.SetEmptySlice()
		for _, e := range x {
			s.AppendEmpty().SetStr(e)
		}
	case []any:
		if depth >= maxValueDepth {
			dst.SetStr("[nested too deep]")
			return
		}
		s := dst.SetEmptySlice()
		for _, e := range x {
			putValue(s.AppendEmpty(), e, depth+1)
		}
	case map[string]any:
		if depth >= maxValueDepth {
			dst.SetStr("[nested too deep]")
			return
		}
		m := dst.SetEmptyMap()
		for k, e := range x {
			putValue(m.PutEmpty(k), e, depth+1)
		}
	case nil:
	default:
		dst.SetStr(string(appendJSON(nil, x)))
	}
}
