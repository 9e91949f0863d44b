//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// localPorts are the listeners of config/local.yaml, moved to free ports.
type localPorts struct{ grpc, http, opper, health string }

func newLocalPorts(t *testing.T) localPorts {
	return localPorts{grpc: freeAddr(t), http: freeAddr(t), opper: freeAddr(t), health: freeAddr(t)}
}

func (p localPorts) setArgs() []string {
	return []string{
		"--set=receivers.otlp.protocols.grpc.endpoint=" + p.grpc,
		"--set=receivers.otlp.protocols.http.endpoint=" + p.http,
		"--set=receivers.opper.endpoint=" + p.opper,
		"--set=extensions.health_check.endpoint=" + p.health,
		"--set=service.telemetry.metrics.level=none",
	}
}

// newTracerProvider is an OTel Go SDK pipeline exporting OTLP/HTTP
// (protobuf) to httpAddr, as an instrumented service would.
func newTracerProvider(t *testing.T, httpAddr, service string) *sdktrace.TracerProvider {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(), otlptracehttp.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", "1.2.3"))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
}

// shutdownProvider flushes and stops tp, failing the test if the export
// did not succeed.
func shutdownProvider(t *testing.T, tp *sdktrace.TracerProvider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("OTel SDK shutdown (export): %v", err)
	}
}

// sdkAgentTree describes the GenAI tree emitSDKAgentTree emits.
type sdkAgentTree struct {
	traceID string            // Opper trace id
	ids     map[string]string // role -> Opper span id: agent, chat1, tool, chat2
}

const (
	agentName     = "weather-agent"
	question      = "What is the weather in Paris?"
	answer        = "It is 18°C and sunny in Paris."
	requestModel  = "gpt-4o"
	responseModel = "gpt-4o-2024-08-06"
)

// emitSDKAgentTree emits, with the OTel Go SDK and GenAI semantic
// conventions, an agent invocation with a chat that asks for a tool, the
// tool call, and a chat that answers.
func emitSDKAgentTree(t *testing.T, tp *sdktrace.TracerProvider) sdkAgentTree {
	t.Helper()
	tracer := tp.Tracer("github.com/opperotel/bridge/e2e")
	ctx := context.Background()
	start := time.Now().Add(-2 * time.Second)
	at := func(ms int) trace.SpanStartEventOption {
		return trace.WithTimestamp(start.Add(time.Duration(ms) * time.Millisecond))
	}
	end := func(ms int) trace.SpanEndOption {
		return trace.WithTimestamp(start.Add(time.Duration(ms) * time.Millisecond))
	}
	out := sdkAgentTree{ids: map[string]string{}}
	record := func(role string, s trace.Span) {
		sc := s.SpanContext()
		out.ids[role] = translator.SpanUUID(pcommon.TraceID(sc.TraceID()), pcommon.SpanID(sc.SpanID()))
		out.traceID = translator.TraceUUID(pcommon.TraceID(sc.TraceID()))
	}

	ctx, agent := tracer.Start(ctx, "invoke_agent "+agentName, at(0), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"),
			attribute.String("gen_ai.agent.name", agentName),
			attribute.String("gen_ai.agent.id", "agent-42"),
			attribute.String("gen_ai.provider.name", "openai"),
		))
	record("agent", agent)

	chat := func(role string, from, to int, input, output string, in, outTok int64, finish string) {
		_, s := tracer.Start(ctx, "chat "+requestModel, at(from), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String("gen_ai.operation.name", "chat"),
				attribute.String("gen_ai.provider.name", "openai"),
				attribute.String("gen_ai.request.model", requestModel),
				attribute.String("gen_ai.response.model", responseModel),
				attribute.Int64("gen_ai.usage.input_tokens", in),
				attribute.Int64("gen_ai.usage.output_tokens", outTok),
				attribute.StringSlice("gen_ai.response.finish_reasons", []string{finish}),
				attribute.String("gen_ai.input.messages", input),
				attribute.String("gen_ai.output.messages", output),
			))
		record(role, s)
		s.End(end(to))
	}
	chat("chat1", 10, 700,
		`[{"role":"user","parts":[{"type":"text","content":"`+question+`"}]}]`,
		`[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]`,
		120, 30, "tool_call")

	_, tool := tracer.Start(ctx, "execute_tool get_weather", at(710), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "execute_tool"),
			attribute.String("gen_ai.tool.name", "get_weather"),
			attribute.String("gen_ai.tool.type", "function"),
			attribute.String("gen_ai.tool.call.id", "call_1"),
			attribute.String("gen_ai.tool.call.arguments", `{"city":"Paris"}`),
			attribute.String("gen_ai.tool.call.result", `{"temperature_c":18,"sky":"sunny"}`),
		))
	record("tool", tool)
	tool.End(end(900))

	chat("chat2", 910, 1500,
		`[{"role":"user","parts":[{"type":"text","content":"`+question+`"}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":{"temperature_c":18}}]}]`,
		`[{"role":"assistant","parts":[{"type":"text","content":"`+answer+`"}],"finish_reason":"stop"}]`,
		160, 20, "stop")
	agent.End(end(1600))
	return out
}

// TestE2EOTLPTree: OTLP in (the Go OTel SDK and every shared fixture),
// through config/local.yaml (otlp -> batch -> opper exporter -> opper
// receiver), and the trees read back through the v2 and v3 trace API.
func TestE2EOTLPTree(t *testing.T) {
	requireCollector(t)
	t.Parallel()
	if buildTime > 0 {
		t.Logf("make build (TestMain) took %s", buildTime.Round(time.Millisecond))
	}
	p := newLocalPorts(t)
	startCollector(t, "local", p.health, nil,
		append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml")}, p.setArgs()...)...)

	tp := newTracerProvider(t, p.http, "e2e-agent-service")
	tree := emitSDKAgentTree(t, tp)
	shutdownProvider(t, tp)

	fixtures := loadFixtures(t)
	for _, f := range fixtures {
		postOTLPJSON(t, p.http, f.raw)
	}
	want, order := translateFixtures(t, fixtures, translator.RetentionFull)
	if _, clash := want[tree.traceID]; clash {
		t.Fatalf("the SDK's trace id %s is a fixture's", tree.traceID)
	}
	wantSpans := 4
	for _, e := range want {
		wantSpans += len(e.spans)
	}
	base := "http://" + p.opper

	// The list: every trace, each with all its spans.
	var list opperapi.List[opperapi.TraceListItem]
	eventually(t, 60*time.Second, 200*time.Millisecond, fmt.Sprintf("%d traces, %d spans listed", len(want)+1, wantSpans), func() (bool, string) {
		list = opperapi.List[opperapi.TraceListItem]{}
		status, body, err := getJSON(base+"/v2/traces?limit=100", "", &list)
		if err != nil || status != 200 {
			return false, fmt.Sprintf("GET /v2/traces: %d %v %.500s", status, err, body)
		}
		got := 0
		for _, it := range list.Data {
			got += int(it.SpanCount)
		}
		return list.Meta.TotalCount == int64(len(want)+1) && got == wantSpans,
			fmt.Sprintf("total_count %d (want %d), spans %d (want %d)", list.Meta.TotalCount, len(want)+1, got, wantSpans)
	})
	if len(list.Data) != len(want)+1 {
		t.Fatalf("GET /v2/traces?limit=100 returned %d items, want %d", len(list.Data), len(want)+1)
	}
	listed := map[string]opperapi.TraceListItem{}
	for _, it := range list.Data {
		listed[it.ID] = it
	}

	t.Run("sdk-agent-tree", func(t *testing.T) {
		checkSDKAgentTree(t, base, tree, listed[tree.traceID])
	})
	for _, id := range order {
		e := want[id]
		t.Run(strings.TrimSuffix(e.fixture, ".otlp.json")+"/"+id[:8], func(t *testing.T) {
			item, ok := listed[id]
			if !ok {
				t.Fatalf("trace %s of %s is not listed", id, e.fixture)
			}
			checkListItem(t, "GET /v2/traces", item, &e.summary)
			var tr opperapi.Trace
			mustGetJSON(t, base+"/v2/traces/"+id, "", &tr)
			checkListItem(t, "GET /v2/traces/{id}", tr.TraceListItem, &e.summary)
			checkEqualPtr(t, "trace input", tr.Input, e.summary.Input)
			checkEqualPtr(t, "trace output", tr.Output, e.summary.Output)
			checkTreeV2(t, tr.Spans, e.spans)
			var v3 opperapi.TraceResponseV3
			mustGetJSON(t, base+"/v3/traces/"+id, "", &v3)
			checkTreeV3(t, &v3, &e.summary, e.spans)
		})
	}
}

// checkSDKAgentTree checks the Go SDK's tree against what its attributes
// say, written out by hand: the translator's reading of GenAI semconv.
func checkSDKAgentTree(t *testing.T, base string, tree sdkAgentTree, item opperapi.TraceListItem) {
	if item.ID == "" {
		t.Fatalf("the SDK trace %s is not listed", tree.traceID)
	}
	if item.SpanCount != 4 || deref(item.TotalTokens) != 120+30+160+20 || deref(item.Name) != "invoke_agent "+agentName || deref(item.Status) != "ok" {
		t.Errorf("list item: span_count %d (want 4), total_tokens %d (want 330), name %q, status %q",
			item.SpanCount, deref(item.TotalTokens), deref(item.Name), deref(item.Status))
	}
	if item.DurationMS == nil || *item.DurationMS != 1600 {
		t.Errorf("list item: duration_ms %v, want 1600", item.DurationMS)
	}
	var tr opperapi.Trace
	mustGetJSON(t, base+"/v2/traces/"+tree.traceID, "", &tr)
	byID := map[string]opperapi.SpanSchema{}
	for _, s := range tr.Spans {
		byID[s.ID] = s
	}
	want := []struct {
		role, typ, parent, model string
		tokens                   int64
		in, out                  string // substrings of data.input / data.output; "" = no content expected
	}{
		{"agent", "agent", "", "", 0, "", ""},
		{"chat1", "generation", "agent", responseModel, 150, question, "get_weather"},
		{"tool", "tool", "agent", "", 0, "Paris", "sunny"},
		{"chat2", "generation", "agent", responseModel, 180, "temperature_c", answer},
	}
	for _, w := range want {
		s, ok := byID[tree.ids[w.role]]
		if !ok {
			t.Errorf("%s span %s missing from the trace", w.role, tree.ids[w.role])
			continue
		}
		if deref(s.Type) != w.typ {
			t.Errorf("%s: type %q, want %q", w.role, deref(s.Type), w.typ)
		}
		wantParent := ""
		if w.parent != "" {
			wantParent = tree.ids[w.parent]
		}
		if deref(s.ParentID) != wantParent {
			t.Errorf("%s: parent_id %q, want %q", w.role, deref(s.ParentID), wantParent)
		}
		if s.Data == nil {
			t.Errorf("%s: no data", w.role)
			continue
		}
		if deref(s.Data.Model) != w.model {
			t.Errorf("%s: data.model %q, want %q", w.role, deref(s.Data.Model), w.model)
		}
		if deref(s.Data.TotalTokens) != w.tokens {
			t.Errorf("%s: data.total_tokens %d, want %d", w.role, deref(s.Data.TotalTokens), w.tokens)
		}
		if w.in != "" && !strings.Contains(deref(s.Data.Input), w.in) {
			t.Errorf("%s: data.input %q does not contain %q (retention: full keeps content)", w.role, deref(s.Data.Input), w.in)
		}
		if w.out != "" && !strings.Contains(deref(s.Data.Output), w.out) {
			t.Errorf("%s: data.output %q does not contain %q", w.role, deref(s.Data.Output), w.out)
		}
	}
	if agent, ok := byID[tree.ids["agent"]]; ok && !strings.Contains(string(agent.Meta), agentName) {
		t.Errorf("agent meta %s does not name the agent %q", agent.Meta, agentName)
	}
	var v3 opperapi.TraceResponseV3
	mustGetJSON(t, base+"/v3/traces/"+tree.traceID, "", &v3)
	if len(v3.Data.Spans) != 4 || len(v3.Spans) != 4 || v3.Data.ID != tree.traceID || v3.ID != tree.traceID {
		t.Errorf("v3 trace: data.id %q, id %q, %d spans in data, %d at top level; want %s and 4", v3.Data.ID, v3.ID, len(v3.Data.Spans), len(v3.Spans), tree.traceID)
	}
}

// checkListItem compares a trace's roll-up as served with the translator's.
func checkListItem(t *testing.T, what string, got opperapi.TraceListItem, want *translator.TraceSummary) {
	t.Helper()
	if got.SpanCount != want.SpanCount {
		t.Errorf("%s: span_count %d, want %d", what, got.SpanCount, want.SpanCount)
	}
	if deref(got.TotalTokens) != want.TotalTokens {
		t.Errorf("%s: total_tokens %d, want %d", what, deref(got.TotalTokens), want.TotalTokens)
	}
	if deref(got.Name) != want.Name {
		t.Errorf("%s: name %q, want %q", what, deref(got.Name), want.Name)
	}
	if deref(got.Status) != want.Status {
		t.Errorf("%s: status %q, want %q", what, deref(got.Status), want.Status)
	}
	if got.ErrorSpans != want.ErrorSpans {
		t.Errorf("%s: error_span_count %d, want %d", what, got.ErrorSpans, want.ErrorSpans)
	}
	if fmt.Sprint(got.TypeCounts) != fmt.Sprint(want.TypeCounts) {
		t.Errorf("%s: type_counts %v, want %v", what, got.TypeCounts, want.TypeCounts)
	}
	if want.HasCost != (got.Cost != nil) || (got.Cost != nil && math.Abs(*got.Cost-want.Cost) > 1e-9) {
		t.Errorf("%s: cost %v, want %v (has cost: %v)", what, ptrString(got.Cost), want.Cost, want.HasCost)
	}
	if d := want.Duration().Milliseconds(); !want.EndTime.IsZero() && deref(got.DurationMS) != d {
		t.Errorf("%s: duration_ms %d, want %d", what, deref(got.DurationMS), d)
	}
	if got.StartTime == nil || !sameInstant(got.StartTime.Std(), want.StartTime) {
		t.Errorf("%s: start_time %v, want %v", what, ptrString(got.StartTime), want.StartTime)
	}
}

// checkTreeV2 compares the spans of GET /v2/traces/{id} with the
// translator's: ids, parent links, names, types, models, tokens, content.
func checkTreeV2(t *testing.T, got []opperapi.SpanSchema, want []translator.Span) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("v2 trace: %d spans, want %d", len(got), len(want))
	}
	byID := map[string]opperapi.SpanSchema{}
	for _, s := range got {
		byID[s.ID] = s
	}
	for i := range want {
		w := &want[i]
		g, ok := byID[w.ID]
		if !ok {
			t.Errorf("v2 trace: span %s (%q) missing", w.ID, w.Name)
			continue
		}
		what := fmt.Sprintf("v2 span %q", w.Name)
		checkEqual(t, what+" parent_id", deref(g.ParentID), w.ParentID)
		checkEqual(t, what+" name", g.Name, w.Name)
		checkEqual(t, what+" type", deref(g.Type), w.Type)
		checkEqualPtr(t, what+" error", g.Error, w.Error)
		if g.StartTime == nil || !sameInstant(g.StartTime.Std(), w.StartTime) {
			t.Errorf("%s start_time: %v, want %v", what, ptrString(g.StartTime), w.StartTime)
		}
		if g.Data == nil {
			t.Errorf("%s: no data", what)
			continue
		}
		checkEqual(t, what+" data.model", deref(g.Data.Model), w.Model)
		checkEqual(t, what+" data.total_tokens", deref(g.Data.TotalTokens), w.TotalTokens())
		checkEqualPtr(t, what+" data.input", g.Data.Input, w.Input)
		checkEqualPtr(t, what+" data.output", g.Data.Output, w.Output)
		checkEqualPtr(t, what+" data.instructions", g.Data.Instructions, w.Instructions)
	}
}

// checkTreeV3 compares GET /v3/traces/{id} (the trace in data, and the same
// fields at the top level) with the translator's spans and roll-up.
func checkTreeV3(t *testing.T, got *opperapi.TraceResponseV3, sum *translator.TraceSummary, want []translator.Span) {
	t.Helper()
	for _, v := range []struct {
		where string
		tr    *opperapi.TraceV3
	}{{"v3 data", &got.Data}, {"v3 top level", &got.TraceV3}} {
		checkEqual(t, v.where+" id", v.tr.ID, sum.TraceID)
		checkEqual(t, v.where+" span_count", v.tr.SpanCount, sum.SpanCount)
		checkEqual(t, v.where+" total_tokens", deref(v.tr.TotalTokens), sum.TotalTokens)
		checkEqual(t, v.where+" name", deref(v.tr.Name), sum.Name)
		if len(v.tr.Spans) != len(want) {
			t.Errorf("%s: %d spans, want %d", v.where, len(v.tr.Spans), len(want))
		}
		byID := map[string]opperapi.SpanV3{}
		for _, s := range v.tr.Spans {
			byID[s.ID] = s
		}
		for i := range want {
			w := &want[i]
			g, ok := byID[w.ID]
			if !ok {
				t.Errorf("%s: span %s (%q) missing", v.where, w.ID, w.Name)
				continue
			}
			what := fmt.Sprintf("%s span %q", v.where, w.Name)
			checkEqual(t, what+" trace_id", g.TraceID, w.TraceID)
			checkEqual(t, what+" parent_id", deref(g.ParentID), w.ParentID)
			checkEqual(t, what+" type", deref(g.Type), w.Type)
			checkEqual(t, what+" model", deref(g.Model), w.Model)
			checkEqual(t, what+" total_tokens", deref(g.TotalTokens), w.TotalTokens())
			checkEqualPtr(t, what+" input", rawText(t, g.Input), w.Input)
			checkEqualPtr(t, what+" output", rawText(t, g.Output), w.Output)
		}
	}
}

// rawText decodes v3 content (a JSON string) back to its text.
func rawText(t *testing.T, raw json.RawMessage) *string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// Not a string: compare its JSON text.
		text := string(raw)
		return &text
	}
	return &s
}

// sameInstant compares times to the millisecond (what the wire keeps at
// least).
func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Millisecond && d > -time.Millisecond
}

func checkEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func checkEqualPtr[T comparable](t *testing.T, what string, got, want *T) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s: got %s, want %s", what, ptrString(got), ptrString(want))
	case *got != *want:
		t.Errorf("%s: got %.300v, want %.300v", what, *got, *want)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "<absent>"
	}
	return fmt.Sprintf("%.300v", *p)
}
