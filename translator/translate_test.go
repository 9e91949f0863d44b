package translator

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/opperapi"
)

var (
	testTraceID = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testStart   = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
)

// oneSpan builds a trace of one span with the given attributes; values are
// put with pcommon's FromRaw rules (string, int, float64, bool, []any, map).
func oneSpan(t *testing.T, name string, attrs map[string]any) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetTraceID(testTraceID)
	span.SetSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
	span.SetName(name)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Second)))
	require.NoError(t, span.Attributes().FromRaw(attrs))
	return td
}

func mustMap(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := asMap(v)
	require.True(t, ok, "not an object: %v", v)
	return m
}

func translateOne(t *testing.T, opts Options, name string, attrs map[string]any) Span {
	t.Helper()
	spans := New(opts).ToOpper(oneSpan(t, name, attrs))
	require.Len(t, spans, 1)
	return spans[0]
}

func TestTypePrecedence(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		want  string
	}{
		{"override wins over everything", map[string]any{"opper.span.type": "workflow", "openinference.span.kind": "LLM"}, "workflow"},
		{"langfuse over openinference", map[string]any{"langfuse.observation.type": "tool", "openinference.span.kind": "LLM"}, TypeTool},
		{"langfuse retriever", map[string]any{"langfuse.observation.type": "retriever"}, TypeRetrieval},
		{"unknown langfuse value falls through", map[string]any{"langfuse.observation.type": "weird", "gen_ai.operation.name": "chat"}, TypeGeneration},
		{"openinference kind is case-insensitive", map[string]any{"openinference.span.kind": "agent"}, TypeAgent},
		{"openinference UNKNOWN falls through", map[string]any{"openinference.span.kind": "UNKNOWN", "gen_ai.request.model": "m"}, TypeGeneration},
		{"reranker is retrieval", map[string]any{"openinference.span.kind": "RERANKER"}, TypeRetrieval},
		{"semconv embeddings", map[string]any{"gen_ai.operation.name": "embeddings"}, TypeEmbedding},
		{"semconv execute_tool", map[string]any{"gen_ai.operation.name": "execute_tool"}, TypeTool},
		{"semconv invoke_agent", map[string]any{"gen_ai.operation.name": "invoke_agent"}, TypeAgent},
		{"AI SDK 7 agent_step", map[string]any{"gen_ai.operation.name": "agent_step"}, TypeFunction},
		{"langsmith llm", map[string]any{"langsmith.span.kind": "LLM"}, TypeGeneration},
		{"AI SDK legacy doStream by operation.name prefix", map[string]any{"operation.name": "ai.streamText.doStream my-fn"}, TypeGeneration},
		{"AI SDK legacy wrapper is a function even with a model id", map[string]any{"ai.operationId": "ai.generateText", "ai.model.id": "gpt-4o"}, TypeFunction},
		{"AI SDK legacy doEmbed", map[string]any{"ai.operationId": "ai.embedMany.doEmbed"}, TypeEmbedding},
		{"traceloop agent", map[string]any{"traceloop.span.kind": "agent"}, TypeAgent},
		{"old openllmetry request type", map[string]any{"llm.request.type": "embedding"}, TypeEmbedding},
		{"tool evidence", map[string]any{"gen_ai.tool.call.id": "c1"}, TypeTool},
		{"model evidence", map[string]any{"llm.model_name": "m"}, TypeGeneration},
		{"ai.model.id alone is no evidence", map[string]any{"ai.model.id": "m"}, TypeFunction},
		{"plain span", map[string]any{"http.request.method": "GET"}, TypeFunction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, translateOne(t, Options{}, "s", tt.attrs).Type)
		})
	}
}

func TestDefaultTypeAndTypeMap(t *testing.T) {
	s := translateOne(t, Options{DefaultType: "call"}, "GET /", map[string]any{})
	assert.Equal(t, "call", s.Type)
	s = translateOne(t, Options{TypeMap: map[string]string{TypeEmbedding: TypeGeneration}}, "e", map[string]any{"gen_ai.operation.name": "embeddings"})
	assert.Equal(t, TypeGeneration, s.Type)
	assert.Equal(t, "gen_ai.operation.name=embeddings", mustMap(t, s.Meta.Value("otel"))["type_source"])
}

func TestUsageNormalisation(t *testing.T) {
	tests := []struct {
		name      string
		attrs     map[string]any
		want      Usage
		aggregate bool
	}{
		{"semconv inclusive with cache", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 100,
			"gen_ai.usage.output_tokens": 20, "gen_ai.usage.cache_read.input_tokens": 60, "gen_ai.usage.reasoning.output_tokens": 5},
			Usage{Input: 100, Output: 20, CacheRead: 60, Reasoning: 5, Total: 120}, false},
		{"exclusive input (raw Anthropic) gets its cache added", map[string]any{"gen_ai.operation.name": "chat",
			"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 200, "gen_ai.usage.cache_creation.input_tokens": 50},
			Usage{Input: 260, Output: 5, CacheRead: 200, CacheWrite: 50, Total: 265}, false},
		{"provided total wins", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4, "gen_ai.usage.total_tokens": 9},
			Usage{Input: 3, Output: 4, Total: 9}, false},
		{"deprecated semconv names", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 2},
			Usage{Input: 7, Output: 2, Total: 9}, false},
		{"openinference", map[string]any{"openinference.span.kind": "LLM", "llm.token_count.prompt": 92, "llm.token_count.completion": 18,
			"llm.token_count.total": 110, "llm.token_count.prompt_details.cache_write": 12}, Usage{Input: 92, Output: 18, CacheWrite: 12, Total: 110}, false},
		{"langfuse exclusive buckets become inclusive", map[string]any{"langfuse.observation.type": "generation",
			"langfuse.observation.usage_details": `{"input":70,"input_cached_tokens":30,"output":50,"output_reasoning_tokens":10,"total":160}`},
			Usage{Input: 100, Output: 60, CacheRead: 30, Reasoning: 10, Total: 160}, false},
		{"AI SDK v5 names merged with semconv", map[string]any{"ai.operationId": "ai.generateText.doGenerate", "gen_ai.usage.input_tokens": 29,
			"gen_ai.usage.output_tokens": 8, "ai.usage.cachedInputTokens": 4, "ai.usage.totalTokens": 37}, Usage{Input: 29, Output: 8, CacheRead: 4, Total: 37}, false},
		{"AI SDK embed total is input", map[string]any{"ai.operationId": "ai.embed.doEmbed", "ai.usage.tokens": 11}, Usage{Input: 11, Total: 11}, false},
		{"pydantic aggregated usage is an aggregate", map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.aggregated_usage.input_tokens": 40,
			"gen_ai.aggregated_usage.output_tokens": 2}, Usage{Input: 40, Output: 2, Total: 42}, true},
		{"agent usage repeats its children's", map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 254, "gen_ai.usage.output_tokens": 22},
			Usage{Input: 254, Output: 22, Total: 276}, true},
		{"AI SDK wrapper usage repeats its children's", map[string]any{"ai.operationId": "ai.streamText", "ai.usage.inputTokens": 5, "ai.usage.outputTokens": 5},
			Usage{Input: 5, Output: 5, Total: 10}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := translateOne(t, Options{}, "s", tt.attrs)
			require.NotNil(t, s.Usage)
			assert.Equal(t, tt.want, *s.Usage)
			assert.Equal(t, tt.aggregate, s.Aggregate)
		})
	}
	s := translateOne(t, Options{}, "step 1", map[string]any{"gen_ai.operation.name": "agent_step", "ai.usage.inputTokenDetails.cacheReadTokens": 0})
	assert.Nil(t, s.Usage, "detail buckets alone are not usage")
	s = translateOne(t, Options{}, "chat", map[string]any{"gen_ai.operation.name": "chat"})
	assert.Nil(t, s.Usage, "missing usage is unknown, not zero")
}

func TestCost(t *testing.T) {
	s := translateOne(t, Options{}, "chat", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.response.model": "openai/gpt-4o-mini-2024-07-18",
		"gen_ai.usage.input_tokens": 1_000_000, "gen_ai.usage.output_tokens": 1_000_000, "gen_ai.usage.cache_read.input_tokens": 500_000})
	require.NotNil(t, s.Cost)
	// gpt-4o-mini: 0.15 in, 0.075 cached, 0.60 out per million.
	assert.InDelta(t, 0.5*0.15+0.5*0.075+0.60, *s.Cost, 1e-9)
	assert.Equal(t, "computed:2026-11", s.CostSource)

	s = translateOne(t, Options{}, "chat", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
		"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": 1.25})
	assert.Equal(t, 1.25, *s.Cost, "a cost on the span wins")
	assert.Equal(t, "provided", s.CostSource)

	s = translateOne(t, Options{}, "chat", map[string]any{"langfuse.observation.type": "generation",
		"langfuse.observation.cost_details": `{"input":0.5,"output":0.25}`})
	assert.Equal(t, 0.75, *s.Cost)

	s = translateOne(t, Options{}, "chat", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "some-private-model",
		"gen_ai.usage.input_tokens": 10})
	assert.Nil(t, s.Cost, "unknown model: no cost rather than a wrong one")
}

func TestPriceLookup(t *testing.T) {
	p := DefaultPrices()
	for model, want := range map[string]string{
		"gpt-4o-mini-2024-07-18":                       "gpt-4o-mini",
		"gpt-4o-2024-08-06":                            "gpt-4o",
		"openai/gpt-4o":                                "gpt-4o",
		"models/gemini-2.0-flash":                      "gemini-2.0-flash",
		"us.anthropic.claude-3-5-sonnet-20241022-v2:0": "claude-3-5-sonnet",
		"claude-sonnet-4-5-20250929":                   "claude-sonnet-4-5",
		"GPT-4.1-MINI":                                 "gpt-4.1-mini",
	} {
		got, ok := p.Lookup(model)
		if assert.True(t, ok, model) {
			assert.Equal(t, want, got.ID, model)
		}
	}
	_, ok := p.Lookup("gpt-4oo")
	assert.False(t, ok, "a prefix must end at a separator")

	dir := t.TempDir()
	path := filepath.Join(dir, "prices.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"version":"acme-1","models":[{"id":"gpt-4o","input_mtok":1,"output_mtok":2},{"id":"acme-llm","input_mtok":3,"output_mtok":4}]}`), 0o644))
	custom, err := LoadPrices(path)
	require.NoError(t, err)
	got, _ := custom.Lookup("gpt-4o-2024-08-06")
	assert.Equal(t, 1.0, got.InputMTok, "the file overrides")
	_, ok = custom.Lookup("acme-llm")
	assert.True(t, ok, "the file extends")
	_, ok = custom.Lookup("claude-3-haiku")
	assert.True(t, ok, "embedded entries stay")
	assert.Equal(t, "2026-11+acme-1", custom.Version)

	require.NoError(t, os.WriteFile(path, []byte(`{"models":[{"id":"x","input_mtok":-1}]}`), 0o644))
	_, err = LoadPrices(path)
	assert.ErrorContains(t, err, "non-negative")
	_, err = LoadPrices(filepath.Join(dir, "missing.json"))
	assert.Error(t, err)
}

func TestRetention(t *testing.T) {
	attrs := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
		"gen_ai.input.messages":      `[{"role":"user","parts":[{"type":"text","content":"secret"}]}]`,
		"gen_ai.output.messages":     `[{"role":"assistant","parts":[{"type":"text","content":"answer"}]}]`,
		"gen_ai.system_instructions": `[{"type":"text","content":"be nice"}]`, "gen_ai.usage.input_tokens": 5,
		"gen_ai.tool.definitions": `[{"name":"t","description":"d"}]`}
	s := translateOne(t, Options{}, "chat", attrs)
	assert.Nil(t, s.Input)
	assert.Nil(t, s.Output)
	assert.Nil(t, s.Instructions)
	assert.False(t, s.Meta.Has("tool_definitions"))
	assert.Equal(t, "gpt-4o", s.Model)
	assert.Equal(t, int64(5), s.Usage.Input)
	body := string(AppendCreateSpanV2(nil, &s))
	assert.NotContains(t, body, "secret")
	assert.NotContains(t, body, "be nice")

	full := translateOne(t, Options{Retention: RetentionFull}, "chat", attrs)
	require.NotNil(t, full.Input)
	assert.Contains(t, *full.Input, "secret")
	assert.Equal(t, "be nice", *full.Instructions)

	ruled := translateOne(t, Options{RetentionRules: []RetentionRule{{Match: map[string]string{"service.name": "svc"}, Retention: RetentionFull}}}, "chat", attrs)
	assert.NotNil(t, ruled.Input, "a rule on the resource sets full")
}

func TestInstructionsSources(t *testing.T) {
	for name, attrs := range map[string]map[string]any{
		"system message in openai-style input": {"gen_ai.operation.name": "chat", "gen_ai.input.messages": `[{"role":"system","content":"sys"},{"role":"user","content":"u"}]`},
		"developer message in semconv parts":   {"gen_ai.operation.name": "chat", "gen_ai.input.messages": `[{"role":"developer","parts":[{"type":"text","content":"sys"}]}]`},
		"openinference flattened":              {"openinference.span.kind": "LLM", "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "sys"},
		"AI SDK prompt system field":           {"ai.operationId": "ai.generateText", "ai.prompt": `{"system":"sys","prompt":"p"}`},
		"plain string instructions":            {"gen_ai.operation.name": "chat", "gen_ai.system_instructions": "sys"},
	} {
		t.Run(name, func(t *testing.T) {
			s := translateOne(t, Options{Retention: RetentionFull}, "s", attrs)
			require.NotNil(t, s.Instructions)
			assert.Equal(t, "sys", *s.Instructions)
		})
	}
}

func TestFlattenedRebuild(t *testing.T) {
	attrs := map[string]any{"openinference.span.kind": "LLM"}
	for _, i := range []string{"0", "2", "9", "10"} {
		attrs["llm.input_messages."+i+".message.role"] = "user"
		attrs["llm.input_messages."+i+".message.content"] = "m" + i
	}
	attrs["llm.input_messages.99999999.message.content"] = "hostile"
	attrs["llm.input_messages.9.message.tool_calls.0.tool_call.function.name"] = "f"
	s := translateOne(t, Options{Retention: RetentionFull}, "s", attrs)
	var msgs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(*s.Input), &msgs))
	require.Len(t, msgs, 4, "gaps closed, the hostile index dropped")
	assert.Equal(t, []any{"m0", "m2", "m9", "m10"}, []any{msgs[0]["content"], msgs[1]["content"], msgs[2]["content"], msgs[3]["content"]})
	assert.Equal(t, []any{map[string]any{"function": map[string]any{"name": "f"}}}, msgs[2]["tool_calls"])
	assert.Equal(t, int64(1), mustMap(t, s.Meta.Value("otel"))["dropped_flattened_keys"])
}

func TestIdentityErrorsAndTags(t *testing.T) {
	s := translateOne(t, Options{}, "s", map[string]any{"langfuse.trace.tags": []any{"a", "b"}, "user.id": "u1",
		"gen_ai.conversation.id": "conv", "ai.telemetry.metadata.plan": "pro", "langfuse.observation.level": "ERROR",
		"langfuse.observation.status_message": "bad input"})
	assert.Equal(t, []string{"a", "b"}, s.Tags)
	assert.Equal(t, "u1", s.UserID)
	assert.Equal(t, "conv", s.SessionID)
	assert.Equal(t, map[string]any{"plan": "pro"}, mustMap(t, s.Meta.Value("metadata")))
	require.NotNil(t, s.Error)
	assert.Equal(t, "bad input", *s.Error)

	for raw, want := range map[string][]string{`["x","y"]`: {"x", "y"}, "x, y": {"x", "y"}, "solo": {"solo"}} {
		s = translateOne(t, Options{}, "s", map[string]any{"tag.tags": raw})
		assert.Equal(t, want, s.Tags, raw)
	}
	meta := WireMeta(&Span{Tags: []string{"solo"}})
	assert.Equal(t, map[string]any{"solo": true}, meta[MetaTags], "tags travel as a map")

	td := oneSpan(t, "s", map[string]any{"error.type": "timeout"})
	span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	span.Status().SetCode(ptrace.StatusCodeError)
	ev := span.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.type", "TimeoutError")
	ev.Attributes().PutStr("exception.message", "took too long")
	ev.Attributes().PutStr("exception.stacktrace", "at x")
	s = New(Options{Retention: RetentionFull}).ToOpper(td)[0]
	assert.Equal(t, "TimeoutError: took too long", *s.Error, "the exception beats the low-cardinality error.type")
	assert.Equal(t, "at x", s.Meta.Value("exception_stacktrace"))

	span.Status().SetMessage("status says")
	assert.Equal(t, "status says", *New(Options{}).ToOpper(td)[0].Error, "the status message comes first")
}

func TestIDs(t *testing.T) {
	tid := pcommon.TraceID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	sid := pcommon.SpanID{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22}
	assert.Equal(t, "deadbeef-0102-0304-0506-0708090a0b0c", TraceUUID(tid))
	assert.Equal(t, "deadbeef-0102-0304-aabb-ccddeeff1122", SpanUUID(tid, sid))
	assert.Equal(t, sid, OTelSpanID(SpanUUID(tid, sid)))
	assert.Equal(t, tid, OTelTraceID(TraceUUID(tid)))
	assert.Equal(t, "deadbeef-0102-0304-0506-0708090a0b0c", CanonicalID("DEADBEEF0102030405060708090A0B0C"))
	assert.Equal(t, "not-a-uuid", CanonicalID("not-a-uuid"))
	assert.Equal(t, OTelSpanID("not-a-uuid"), OTelSpanID("not-a-uuid"), "stable hash for opaque ids")

	s := translateOne(t, Options{}, "s", map[string]any{AttrOpperSpanID: "AAAAAAAA-0000-4000-8000-000000000001", AttrOpperTraceID: "t-1"})
	assert.Equal(t, "aaaaaaaa-0000-4000-8000-000000000001", s.ID, "an Opper id wins and is canonicalised")
	assert.Equal(t, "t-1", s.TraceID)
}

func TestRollUp(t *testing.T) {
	u := func(n int64) *Usage { return &Usage{Input: n, Total: n} }
	cost := func(f float64) *float64 { return &f }
	errMsg := "boom"
	spans := []Span{
		{ID: "root", Name: "agent run", Type: TypeAgent, StartTime: testStart, EndTime: testStart.Add(10 * time.Second), Usage: u(30), Aggregate: true},
		{ID: "emb-outer", ParentID: "root", Type: TypeEmbedding, StartTime: testStart.Add(time.Second), EndTime: testStart.Add(2 * time.Second), Usage: u(10), Cost: cost(1)},
		{ID: "emb-inner", ParentID: "emb-outer", Type: TypeEmbedding, StartTime: testStart.Add(time.Second), EndTime: testStart.Add(2 * time.Second), Usage: u(10), Cost: cost(1)},
		{ID: "gen", ParentID: "root", Type: TypeGeneration, StartTime: testStart.Add(3 * time.Second), EndTime: testStart.Add(4 * time.Second), Usage: u(20), Cost: cost(2)},
		{ID: "tool", ParentID: "root", Type: TypeTool, StartTime: testStart.Add(5 * time.Second), EndTime: testStart.Add(12 * time.Second), Error: &errMsg},
	}
	r := RollUp(spans)
	assert.Equal(t, int64(30), r.TotalTokens, "the outer embeddings span repeats the inner one's usage")
	assert.Equal(t, 3.0, r.Cost)
	assert.Equal(t, "agent run", r.Name)
	assert.Equal(t, StatusOK, r.Status, "a failed child does not fail the trace")
	assert.Equal(t, int64(1), r.ErrorSpans)
	assert.Equal(t, 12*time.Second, r.Duration())
	assert.Equal(t, "5 steps, 2 embedding, 1 agent, 1 generation, 1 tool", r.Summary())

	partial := RollUp(spans[3:])
	assert.Equal(t, "gen", partial.RootID, "without the root, the earliest orphan stands in")

	spans[0].EndTime = time.Time{}
	assert.Equal(t, StatusRunning, RollUp(spans).Status)
	spans[0].Error = &errMsg
	assert.Equal(t, StatusError, RollUp(spans).Status)
	assert.Zero(t, RollUp(nil).SpanCount)
}

func TestAppendCreateSpanV2MatchesWireType(t *testing.T) {
	spans := New(Options{Retention: RetentionFull}).ToOpper(otlpfixtures.Load(t, filepath.Join(otlpDir, "vercel-ai-v7-tools.otlp.json")))
	for i := range spans {
		body := AppendCreateSpanV2(nil, &spans[i])
		var req opperapi.CreateSpanRequest
		require.NoError(t, json.Unmarshal(body, &req), string(body))
		back, err := FromCreateV2(&req)
		require.NoError(t, err)
		a := spans[i]
		assert.Equal(t, a.ID, back.ID)
		assert.Equal(t, a.TraceID, back.TraceID)
		assert.Equal(t, a.ParentID, back.ParentID)
		assert.Equal(t, a.Type, back.Type)
		assert.Equal(t, a.Model, back.Model)
		assert.Equal(t, a.Usage, back.Usage)
		assert.Equal(t, a.Aggregate, back.Aggregate)
		assert.Equal(t, a.Input, back.Input)
		assert.Equal(t, a.Instructions, back.Instructions)
		assert.True(t, a.StartTime.Equal(back.StartTime))

		v3, err := json.Marshal(CreateSpanRequestV3(&a, "tid", ""))
		require.NoError(t, err)
		var v3req opperapi.CreateSpanRequestV3
		require.NoError(t, json.Unmarshal(v3, &v3req))
		assert.Equal(t, "tid", *v3req.TraceID)
	}
}

func TestMetricsFromEvaluations(t *testing.T) {
	td := oneSpan(t, "chat", map[string]any{"gen_ai.operation.name": "chat",
		"evaluations.0.evaluation.name": "relevance", "evaluations.0.evaluation.score": 0.8, "evaluations.0.evaluation.label": "relevant",
		"evaluations.1.evaluation.name": "toxicity", "evaluations.1.evaluation.score": 0.0})
	ev := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Events().AppendEmpty()
	ev.SetName("gen_ai.evaluation.result")
	ev.Attributes().PutStr("gen_ai.evaluation.name", "faithfulness")
	ev.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.5)
	ev.Attributes().PutStr("gen_ai.evaluation.score.label", "partial")
	ev.Attributes().PutStr("gen_ai.evaluation.explanation", "one claim unsupported")
	s := New(Options{}).ToOpper(td)[0]
	ids := map[string]bool{}
	for i := range s.Metrics {
		ids[s.Metrics[i].ID] = true
		s.Metrics[i].ID = ""
	}
	assert.Len(t, ids, 3, "every evaluation has an id of its own")
	assert.NotContains(t, ids, "")
	assert.Equal(t, []Metric{
		{Dimension: "faithfulness", Value: 0.5, Comment: "partial: one claim unsupported"},
		{Dimension: "relevance", Value: 0.8, Comment: "relevant"},
		{Dimension: "toxicity", Value: 0},
	}, s.Metrics)
}

// TestMetricIDsAreStable: the store keys metrics by id, so an export
// translated again (a retry, a replayed queue) must give the same ids,
// and distinct evaluations, even of one dimension, distinct ones.
func TestMetricIDsAreStable(t *testing.T) {
	build := func(spanID pcommon.SpanID) ptrace.Traces {
		td := oneSpan(t, "chat", map[string]any{"gen_ai.operation.name": "chat",
			"evaluations.0.evaluation.name": "relevance", "evaluations.0.evaluation.score": 0.8,
			"annotations.0.annotation.name": "relevance", "annotations.0.annotation.score": 0.8})
		span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		span.SetSpanID(spanID)
		for _, at := range []time.Duration{0, 0, time.Millisecond} {
			ev := span.Events().AppendEmpty()
			ev.SetName("gen_ai.evaluation.result")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(at)))
			ev.Attributes().PutStr("gen_ai.evaluation.name", "relevance")
			ev.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.8)
		}
		return td
	}
	idsOf := func(s Span) []string {
		var ids []string
		for _, m := range s.Metrics {
			ids = append(ids, m.ID)
		}
		return ids
	}
	first := New(Options{}).ToOpper(build(pcommon.SpanID{1}))[0]
	again := New(Options{}).ToOpper(build(pcommon.SpanID{1}))[0]
	other := New(Options{}).ToOpper(build(pcommon.SpanID{2}))[0]
	require.Len(t, first.Metrics, 5)
	assert.Equal(t, idsOf(first), idsOf(again), "the same span translated again")
	seen := map[string]bool{}
	for _, id := range append(idsOf(first), idsOf(other)...) {
		assert.False(t, seen[id], "id %s given twice", id)
		seen[id] = true
	}
}

func TestTimeToFirstToken(t *testing.T) {
	for name, attrs := range map[string]map[string]any{
		"AI SDK legacy ms":     {"ai.response.msToFirstChunk": 250.0},
		"semconv seconds":      {"gen_ai.response.time_to_first_chunk": 0.25},
		"langfuse timestamp":   {"langfuse.observation.completion_start_time": testStart.Add(250 * time.Millisecond).Format(time.RFC3339Nano)},
		"quoted langfuse time": {"langfuse.observation.completion_start_time": `"` + testStart.Add(250*time.Millisecond).Format(time.RFC3339Nano) + `"`},
	} {
		t.Run(name, func(t *testing.T) {
			attrs["gen_ai.operation.name"] = "chat"
			s := translateOne(t, Options{}, "chat", attrs)
			assert.Equal(t, 250.0, s.Meta.Value("time_to_first_token_ms"))
		})
	}
}

func TestStructuredAndStringContent(t *testing.T) {
	td := oneSpan(t, "chat", map[string]any{"gen_ai.operation.name": "chat",
		"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"kept \"as is\""}]}]`})
	msgs := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutEmptySlice("gen_ai.input.messages")
	m := msgs.AppendEmpty().SetEmptyMap()
	m.PutStr("role", "user")
	part := m.PutEmptySlice("parts").AppendEmpty().SetEmptyMap()
	part.PutStr("type", "text")
	part.PutStr("content", "hi")
	s := New(Options{Retention: RetentionFull}).ToOpper(td)[0]
	assert.JSONEq(t, `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`, *s.Input, "a structured value is encoded once, as real JSON")
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"text","content":"kept \"as is\""}]}]`, *s.Output, "a JSON string passes unchanged")
	body := AppendCreateSpanV2(nil, &s)
	var req opperapi.CreateSpanRequest
	require.NoError(t, json.Unmarshal(body, &req))
	var out string
	require.NoError(t, json.Unmarshal(req.Output, &out))
	assert.Equal(t, *s.Output, out, "encoded exactly once on the wire")
}

func TestAggregateTrackerAcrossBatches(t *testing.T) {
	u := &Usage{Input: 6, Total: 6}
	tracker := NewAggregateTracker(2)
	// AI SDK 7 embeddings: the inner span goes out first, in its own batch.
	inner := []Span{{TraceID: "t", ID: "inner", ParentID: "outer", Type: TypeEmbedding, Usage: u}}
	assert.Zero(t, tracker.Mark(inner))
	assert.False(t, inner[0].Aggregate)
	outer := []Span{{TraceID: "t", ID: "outer", ParentID: "step", Type: TypeEmbedding, Usage: &Usage{Input: 6, Total: 6}}}
	assert.Equal(t, 1, tracker.Mark(outer))
	assert.True(t, outer[0].Aggregate, "the outer span repeats the inner one's usage")
	assert.Zero(t, outer[0].TotalTokens())
	step := []Span{{TraceID: "t", ID: "step", Type: TypeGeneration, Usage: &Usage{Input: 6, Total: 6}}}
	assert.Equal(t, 1, tracker.Mark(step), "the rule climbs the tree across batches")

	// Bounded: old entries are forgotten, not kept forever.
	tracker.Mark([]Span{{TraceID: "t", ID: "a", ParentID: "p1", Usage: u}, {TraceID: "t", ID: "b", ParentID: "p2", Usage: u}, {TraceID: "t", ID: "c", ParentID: "p3", Usage: u}})
	assert.Len(t, tracker.marked, 2)
	late := []Span{{TraceID: "t", ID: "p1", Usage: &Usage{Total: 1}}}
	assert.Zero(t, tracker.Mark(late), "evicted")
}

// The tracker keys spans by hashes of trace and span id apart: a span id
// marked in one trace says nothing of the same id in another, nor of a
// trace id met as a span id.
func TestAggregateTrackerKeepsTracesApart(t *testing.T) {
	u := &Usage{Input: 6, Total: 6}
	tracker := NewAggregateTracker(16)
	tracker.Mark([]Span{{TraceID: "t1", ID: "child", ParentID: "parent", Usage: u}})
	other := []Span{
		{TraceID: "t2", ID: "parent", Usage: &Usage{Total: 1}},
		{TraceID: "parent", ID: "t1", Usage: &Usage{Total: 1}},
	}
	assert.Zero(t, tracker.Mark(other))
	same := []Span{{TraceID: "t1", ID: "parent", Usage: &Usage{Total: 1}}}
	assert.Equal(t, 1, tracker.Mark(same))
}

func TestAppendRFC3339NanoMatchesTimeFormat(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2024, 3, 20, 10, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 20, 10, 0, 10, 500_000_000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("x", 3600)),
		time.Date(2026, 11, 21, 14, 49, 2, 780_559_525, time.UTC),
		time.Unix(0, 120).UTC(),
	} {
		assert.Equal(t, ts.UTC().Format(time.RFC3339Nano), string(appendRFC3339Nano(nil, ts)))
	}
	// Every day of years 0 to 9999 is reached by some of these.
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	for range 200_000 {
		ts := time.Unix(lo+rng.Int64N(hi-lo+1), rng.Int64N(1e9)).UTC()
		if rng.IntN(4) == 0 {
			ts = ts.Truncate(time.Second)
		}
		if got, want := string(appendRFC3339Nano(nil, ts)), ts.Format(time.RFC3339Nano); got != want {
			t.Fatalf("%v: got %s, want %s", ts.Unix(), got, want)
		}
	}
	for _, ts := range []time.Time{time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, ok := appendRFC3339NanoChecked(nil, ts)
		assert.False(t, ok, ts)
	}
}

// appendWireMeta merges the structured fields into Meta as it writes: in
// key order, a structured field winning over a same-named Meta key (and
// only when it is set), an aggregate's cost under its own key, no cost
// that JSON cannot carry, and an unsorted Meta literal written sorted.
func TestAppendWireMeta(t *testing.T) {
	require.True(t, slices.IsSorted(wireFixedKeys[:]), "wireFixedKeys must be sorted")
	cost, nan := 0.5, math.NaN()
	instructions := "be brief"
	for _, tc := range []struct {
		span Span
		want string
	}{
		{Span{Cost: &cost, CostSource: "provided", Aggregate: true, Usage: &Usage{Total: 3},
			Tags: []string{"b", "a", "b"}, Meta: Meta{{"cost", "shadowed"}, {"model", "kept: no Model"}, {"zz", 1.5}}},
			`{"cost":"shadowed","cost_aggregate":0.5,"cost_source":"provided","model":"kept: no Model","tags":{"a":true,"b":true},` +
				`"usage_aggregate":{"aggregate":true,"semantics":"inclusive","total_tokens":3},"zz":1.5}`},
		{Span{Cost: &nan, CostSource: "dropped with the cost", InputJSON: true, OutputJSON: true, Instructions: &instructions,
			Model: "m", Meta: Meta{{"model", "shadowed"}, {"a", nil}, {"usage", "kept: no Usage"}}},
			`{"a":null,"input_is_json":true,"instructions":"be brief","model":"m","output_is_json":true,"usage":"kept: no Usage"}`},
		{Span{Meta: Meta{{"z", true}, {"b", "unsorted literal"}}}, `{"b":"unsorted literal","z":true}`},
		{Span{}, `{}`},
	} {
		assert.Equal(t, tc.want, string(appendWireMeta(nil, &tc.span)))
		want, _ := asMap(json.RawMessage(tc.want))
		assert.Equal(t, want, WireMeta(&tc.span), "WireMeta is the same, decoded")
	}
}

// A usage span over a descendant with usage repeats it: marked aggregate,
// across an intermediate span without usage, and per trace even when two
// traces use the same explicit span ids.
func TestMarkAggregates(t *testing.T) {
	u := func() *Usage { return &Usage{Total: 10} }
	spans := []Span{
		{TraceID: "t1", ID: "root", Usage: u()},
		{TraceID: "t1", ID: "step", ParentID: "root"},
		{TraceID: "t1", ID: "llm", ParentID: "step", Usage: u()},
		{TraceID: "t2", ID: "root", Usage: u()},
		{TraceID: "t2", ID: "llm", ParentID: "root"},
		{TraceID: "t3", ID: "alone", Usage: u()},
		{TraceID: "t3", ID: "cycle-a", ParentID: "cycle-b", Usage: u()},
		{TraceID: "t3", ID: "cycle-b", ParentID: "cycle-a"},
	}
	markAggregates(spans, nil, nil)
	var marked []string
	for _, s := range spans {
		if s.Aggregate {
			marked = append(marked, s.TraceID+"/"+s.ID)
		}
	}
	// t2's llm has no usage: its root keeps its own. The cycle only has to
	// end (its span is its own ancestor, so it counts as repeating).
	assert.Equal(t, []string{"t1/root", "t3/cycle-a"}, marked)

	unique := []Span{
		{TraceID: "t1", ID: "a", Usage: u()},
		{TraceID: "t1", ID: "b", ParentID: "a", Usage: u()},
		{TraceID: "t2", ID: "a2", Usage: u()},
		{TraceID: "t2", ID: "b2", ParentID: "a", Usage: u()}, // "a" is in another trace
	}
	markAggregates(unique, nil, nil)
	assert.True(t, unique[0].Aggregate)
	assert.False(t, unique[2].Aggregate)
}
