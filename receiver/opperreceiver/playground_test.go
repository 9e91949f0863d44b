package opperreceiver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/opperotel/bridge/internal/openaifake"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
	"github.com/opperotel/bridge/store/memory"
	"github.com/opperotel/bridge/translator"
)

const (
	playgroundKey = "sk-fake-receiver-secret-0a1b2c3d4e5f"
	pgTrace       = "5e2d1c3e-1b4a-4c1e-9a0b-0d1e2f3a4b5c"
)

// newPlaygroundAPI is the API with keys key-a (project a) and key-b
// (project b, metadata retention), a playground over the fake, and the
// trace pgTrace in both projects; its logs are observed.
func newPlaygroundAPI(t *testing.T, configure func(*Config)) (*testAPI, *openaifake.Server, *observer.ObservedLogs) {
	t.Helper()
	f := openaifake.New(openaifake.Options{APIKey: playgroundKey, Models: []string{"gpt-4o-mini"}})
	t.Cleanup(f.Close)
	cfg := createDefaultConfig().(*Config)
	cfg.APIKeys = []APIKeyConfig{{Key: "key-a", Project: "a"}, {Key: "key-b", Project: "b"}}
	cfg.Retention.Projects = map[string]translator.Retention{"b": translator.RetentionMetadata}
	cfg.Playground.Providers = []playground.Provider{
		{Name: "openai", Endpoint: f.URL(), APIKey: playgroundKey, Models: []string{"gpt-4o-mini", "gpt-4o"}, Timeout: 300 * time.Millisecond},
		{Name: "local", Endpoint: "http://127.0.0.1:1/v1", Models: []string{"llama3.2"}},
	}
	if configure != nil {
		configure(cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	st := memory.New()
	a, err := newAPI(cfg, st, zap.New(core), nil)
	require.NoError(t, err)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, project := range []string{"a", "b"} {
		require.NoError(t, st.UpsertSpans(t.Context(), project, []translator.Span{{TraceID: pgTrace, ID: pgTrace, Name: "checkout",
			Type: translator.TypeGeneration, Model: "gpt-4o-mini", StartTime: start, EndTime: start.Add(time.Second)}}, false))
	}
	t.Cleanup(func() {
		for _, e := range logs.All() {
			line, _ := json.Marshal(e.ContextMap())
			assert.NotContains(t, e.Message+string(line), playgroundKey, "the provider key is never logged")
		}
	})
	return &testAPI{t: t, url: srv.URL, store: st, api: a}, f, logs
}

func runRequest(say string) map[string]any {
	return map[string]any{"trace_id": pgTrace, "model": "gpt-4o-mini", "messages": []translator.Message{
		{Role: "user", Parts: []translator.Part{{Type: translator.PartText, Content: say}}}}}
}

// doPlayground sends a request and checks the provider key is not in the
// answer.
func doPlayground(t *testing.T, ta *testAPI, method, path string, body any, headers ...string) (*http.Response, string) {
	t.Helper()
	resp, out := ta.do(method, path, body, headers...)
	assert.NotContains(t, string(out), playgroundKey)
	for _, vs := range resp.Header {
		for _, v := range vs {
			assert.NotContains(t, v, playgroundKey)
		}
	}
	return resp, string(out)
}

func TestPlaygroundOff(t *testing.T) {
	ta := newTestAPI(t, nil)
	assert.Nil(t, ta.api.playground)
	const want = `{"error":{"code":"not_found","message":"the playground is not configured: add playground::providers to the opper receiver's config (an OpenAI-compatible endpoint, its api_key and models)"}}`
	resp, out := ta.do(http.MethodGet, "/v3/playground/models", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.JSONEq(t, want, string(out))
	resp, out = ta.do(http.MethodPost, "/v3/playground/runs", runRequest("hi"))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.JSONEq(t, want, string(out))
}

func TestPlaygroundModels(t *testing.T) {
	ta, _, _ := newPlaygroundAPI(t, nil)
	require.NotNil(t, ta.api.playground)
	resp, out := doPlayground(t, ta.withKey("key-a"), http.MethodGet, "/v3/playground/models", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"data":[{"provider":"openai","model":"gpt-4o-mini"},{"provider":"openai","model":"gpt-4o"},{"provider":"local","model":"llama3.2"}]}`, out)
	resp, _ = doPlayground(t, ta, http.MethodGet, "/v3/playground/models", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = doPlayground(t, ta.withKey("key-a"), http.MethodPost, "/v3/playground/models", runRequest("hi"))
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestPlaygroundRunJSONAndSSE(t *testing.T) {
	ta, f, _ := newPlaygroundAPI(t, nil)
	a := ta.withKey("key-a")
	f.SetScript(openaifake.Answer{Text: "Hello from the fake.", Usage: &openaifake.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}})
	resp, out := doPlayground(t, a, http.MethodPost, "/v3/playground/runs", runRequest("hello"))
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	assert.JSONEq(t, `{"data":{"message":{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Hello from the fake."}]},`+
		`"usage":{"input_tokens":5,"output_tokens":4,"total_tokens":9},"model":"gpt-4o-mini"}}`, out)
	assert.Equal(t, "Bearer "+playgroundKey, f.Requests()[0].Header.Get("Authorization"))

	f.SetScript(openaifake.Answer{Text: "one two three four",
		ToolCalls: []openaifake.ToolCall{{ID: "call_9", Name: "lookup", Arguments: `{"q":"x"}`}}})
	resp, out = doPlayground(t, a, http.MethodPost, "/v3/playground/runs", runRequest("stream please"), "Accept", "text/event-stream")
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, 4, strings.Count(out, "event: delta\n"), out)
	assert.Contains(t, out, "event: delta\ndata: {\"text\":\"one \"}\n\n")
	assert.Contains(t, out, "event: tool_call\ndata: {\"type\":\"tool_call\",\"id\":\"call_9\",\"name\":\"lookup\",\"arguments\":{\"q\":\"x\"}}\n\n")
	assert.Contains(t, out, "event: done\ndata: {\"message\":{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"one two three four\"},")
}

func TestPlaygroundSave(t *testing.T) {
	ta, _, _ := newPlaygroundAPI(t, nil)
	a := ta.withKey("key-a")
	before := a.mustJSON(http.StatusOK, http.MethodGet, "/v3/traces/"+pgTrace, nil)
	body := runRequest("keep this")
	body["save"] = true
	savedID := savedRun(t, a, body)

	saved := a.mustJSON(http.StatusOK, http.MethodGet, "/v3/traces/"+savedID, nil)
	text, _ := json.Marshal(saved)
	assert.Contains(t, string(text), `"playground.source_trace_id":"`+pgTrace+`"`)
	assert.Contains(t, string(text), `"Playground: checkout"`)
	assert.Contains(t, string(text), `"tags":{"playground":true}`) // v3 tags are an object
	assert.Contains(t, string(text), "echo: keep this")
	assert.Equal(t, before, a.mustJSON(http.StatusOK, http.MethodGet, "/v3/traces/"+pgTrace, nil), "the source trace is unchanged")

	// A project under metadata retention saves the run without content.
	b := ta.withKey("key-b")
	tr, err := ta.store.GetTrace(t.Context(), "b", savedRun(t, b, body))
	require.NoError(t, err)
	for _, s := range tr.Spans {
		assert.Nil(t, s.Input)
		assert.Nil(t, s.Output)
	}
}

func TestPlaygroundRunErrors(t *testing.T) {
	ta, f, logs := newPlaygroundAPI(t, func(cfg *Config) { cfg.Playground.RunsPerMinute = 3 })
	a := ta.withKey("key-a")
	withField := func(k string, v any) map[string]any {
		b := runRequest("hi")
		b[k] = v
		return b
	}
	type errBody struct {
		Error struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	for _, c := range []struct {
		name   string
		ta     *testAPI
		body   any
		header []string
		status int
		want   string
	}{
		{"unknown model", a, withField("model", "gpt-9"), nil, 400, `model "gpt-9" is not configured for the playground; use one of: gpt-4o-mini, gpt-4o, llama3.2`},
		{"unknown trace", a, withField("trace_id", "nope"), nil, 404, "trace nope not found"},
		{"another project's key", ta.withKey("key-c"), runRequest("hi"), nil, 401, "missing or invalid API key"},
		{"unknown field", a, withField("stream", true), nil, 400, `unknown field "stream"`},
		{"body too big", a, withField("messages", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "text", Content: strings.Repeat("x", 5<<20)}}}}), nil, 413, "larger than the limit"},
		{"not JSON content", a, "trace_id=x", []string{"Content-Type", "text/plain"}, 415, "Content-Type: application/json"},
		{"cross-site", a, runRequest("hi"), []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-site requests cannot write to this API"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, out := doPlayground(t, c.ta, http.MethodPost, "/v3/playground/runs", c.body, c.header...)
			require.Equal(t, c.status, resp.StatusCode, out)
			var e errBody
			require.NoError(t, json.Unmarshal([]byte(out), &e), out)
			assert.Contains(t, e.Error.Message, c.want)
		})
	}

	// Project b has its own copy of the trace; a's key cannot run b's
	// saved runs, and b's key cannot run a trace only a has.
	body := runRequest("save")
	body["save"] = true
	resp, out := doPlayground(t, ta.withKey("key-b"), http.MethodPost, "/v3/playground/runs", withField("trace_id", savedRun(t, a, body)))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, out)

	// The provider's failure: its message, 502; a timeout, 504.
	f.SetScript(openaifake.Answer{Status: 401, Message: "Incorrect API key provided: sk-...ab12."})
	resp, out = doPlayground(t, a, http.MethodPost, "/v3/playground/runs", runRequest("hi"))
	require.Equal(t, http.StatusBadGateway, resp.StatusCode, out)
	var e errBody
	require.NoError(t, json.Unmarshal([]byte(out), &e))
	assert.Equal(t, "bad_gateway", e.Error.Code)
	assert.Contains(t, e.Error.Message, "Incorrect API key provided")
	assert.Equal(t, map[string]any{"status": 401.0, "message": "Incorrect API key provided: sk-...ab12.", "provider": "openai", "retryable": false}, e.Error.Details)

	// Three runs a minute: the save, the failure... and one more.
	f.SetScript(openaifake.Answer{Delay: 3 * time.Second})
	resp, out = doPlayground(t, a, http.MethodPost, "/v3/playground/runs", runRequest("hi"), "Accept", "text/event-stream")
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	assert.Contains(t, out, "event: error\ndata: {\"status\":0,\"message\":\"the provider did not answer within 300ms\",\"provider\":\"openai\",\"retryable\":true}")

	resp, out = doPlayground(t, a, http.MethodPost, "/v3/playground/runs", runRequest("hi"))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, out)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, out, "this project may start 3 playground runs a minute (playground::runs_per_minute)")
	// Another project has its own budget.
	resp, out = doPlayground(t, ta.withKey("key-b"), http.MethodPost, "/v3/playground/runs", runRequest("hi"))
	assert.Equal(t, http.StatusOK, resp.StatusCode, out)

	failed := logs.FilterMessage("Playground run failed").All()
	assert.Len(t, failed, 2)
	for _, l := range logs.All() {
		line, _ := json.Marshal(l.ContextMap())
		assert.NotContains(t, l.Message+string(line), "Incorrect API key provided", "the provider's words are answered, not logged")
	}
}

// savedRun runs body (with save) as ta and returns the saved trace's id.
func savedRun(t *testing.T, ta *testAPI, body map[string]any) string {
	t.Helper()
	resp, out := doPlayground(t, ta, http.MethodPost, "/v3/playground/runs", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	var run struct {
		Data struct {
			TraceID string `json:"trace_id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &run))
	require.NotEmpty(t, run.Data.TraceID)
	return run.Data.TraceID
}
