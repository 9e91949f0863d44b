package playground

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/internal/openaifake"
	"github.com/opperotel/bridge/translator"
)

const fakeKey = "sk-fake-playground-secret-9f8e7d6c5b4a"

func newFake(t *testing.T) *openaifake.Server {
	t.Helper()
	f := openaifake.New(openaifake.Options{APIKey: fakeKey, Models: []string{"gpt-4o-mini"}})
	t.Cleanup(f.Close)
	return f
}

// clientFor is a client of the fake; modify may change the provider.
func clientFor(t *testing.T, f *openaifake.Server, modify ...func(*Provider)) *Client {
	t.Helper()
	p := Provider{Name: "fake", Endpoint: f.URL(), APIKey: fakeKey, Models: []string{"gpt-4o-mini", "gpt-5-unserved"}, Timeout: 5 * time.Second}
	for _, m := range modify {
		m(&p)
	}
	c, err := NewClient(p, nil)
	require.NoError(t, err)
	return c
}

func userSays(s string) Request {
	return Request{Model: "gpt-4o-mini", Messages: []translator.Message{text("user", s)}}
}

// sentMessages are the messages of the fake's n-th request, as JSON.
func sentMessages(t *testing.T, f *openaifake.Server, n int) string {
	t.Helper()
	reqs := f.Requests()
	require.Greater(t, len(reqs), n)
	return string(reqs[n].Fields()["messages"])
}

func TestRunText(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	res, err := c.Run(t.Context(), userSays("hello there"))
	require.NoError(t, err)
	assert.Equal(t, translator.Message{Role: "assistant", FinishReason: "stop", Parts: []translator.Part{{Type: "text", Content: "echo: hello there"}}}, res.Message)
	assert.Equal(t, "stop", res.FinishReason)
	assert.Equal(t, "gpt-4o-mini", res.Model)
	assert.Equal(t, Usage{InputTokens: 2, OutputTokens: 3, TotalTokens: 5}, res.Usage)
	assert.Positive(t, res.FirstByte)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer "+fakeKey, reqs[0].Header.Get("Authorization"))
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	fields := reqs[0].Fields()
	assert.JSONEq(t, `"gpt-4o-mini"`, string(fields["model"]))
	assert.NotContains(t, fields, "stream")
	assert.NotContains(t, fields, "tools")
}

func TestStreamText(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	f.SetScript(openaifake.Answer{Text: "Bonjour tout le monde", Reasoning: "French it is", Model: "gpt-4o-mini-2024-07-18", Usage: &openaifake.Usage{PromptTokens: 11, CompletionTokens: 4, TotalTokens: 15}})
	var deltas []Delta
	res, err := c.Stream(t.Context(), userSays("Say hello in French"), func(d Delta) error {
		deltas = append(deltas, d)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []Delta{
		{Reasoning: "French "}, {Reasoning: "it "}, {Reasoning: "is"},
		{Text: "Bonjour "}, {Text: "tout "}, {Text: "le "}, {Text: "monde"},
	}, deltas)
	assert.Equal(t, translator.Message{Role: "assistant", FinishReason: "stop", Parts: []translator.Part{
		{Type: "reasoning", Content: "French it is"}, {Type: "text", Content: "Bonjour tout le monde"},
	}}, res.Message)
	assert.Equal(t, Usage{InputTokens: 11, OutputTokens: 4, TotalTokens: 15}, res.Usage, "read from the usage chunk")
	assert.Equal(t, "gpt-4o-mini-2024-07-18", res.Model)
	assert.Positive(t, res.FirstByte)

	fields := f.Requests()[0].Fields()
	assert.JSONEq(t, `true`, string(fields["stream"]))
	assert.JSONEq(t, `{"include_usage":true}`, string(fields["stream_options"]))
	assert.Equal(t, "text/event-stream", f.Requests()[0].Header.Get("Accept"))
}

var weatherTool = json.RawMessage(`{"type":"function","function":{"name":"weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}`)

// TestToolCallRoundTrip: the model calls a tool (streamed, assembled from
// fragments), the answer goes back with the tool's result, and the fake
// (which checks the pairing as OpenAI does) accepts it.
func TestToolCallRoundTrip(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	f.SetScript(
		openaifake.Answer{Text: "Checking.", ToolCalls: []openaifake.ToolCall{
			{ID: "call_w", Name: "weather", Arguments: `{"city": "Paris, France"}`},
			{ID: "call_x", Name: "weather", Arguments: `{"city":"Oslo"}`},
		}},
		openaifake.Answer{Text: "Sunny in Paris, snow in Oslo."},
	)
	req := userSays("Weather in Paris and Oslo?")
	req.Tools = []json.RawMessage{weatherTool}
	req.Parameters = map[string]any{"tool_choice": "auto", "parallel_tool_calls": true}

	var calls []translator.Part
	var textDeltas int
	res, err := c.Stream(t.Context(), req, func(d Delta) error {
		if d.ToolCall != nil {
			calls = append(calls, *d.ToolCall)
		}
		if d.Text != "" {
			textDeltas++
			assert.Empty(t, calls, "text comes before the calls")
		}
		return nil
	})
	require.NoError(t, err)
	wantCalls := []translator.Part{
		{Type: "tool_call", ID: "call_w", Name: "weather", Arguments: json.RawMessage(`{"city":"Paris, France"}`)},
		{Type: "tool_call", ID: "call_x", Name: "weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)},
	}
	assert.Equal(t, wantCalls, calls, "each call delivered once, complete")
	assert.Equal(t, 1, textDeltas)
	assert.Equal(t, "tool_calls", res.FinishReason)
	assert.Equal(t, append([]translator.Part{{Type: "text", Content: "Checking."}}, wantCalls...), res.Message.Parts)
	assert.JSONEq(t, `[`+string(weatherTool)+`]`, string(f.Requests()[0].Fields()["tools"]))

	req.Messages = append(req.Messages, res.Message,
		translator.Message{Role: "tool", Parts: []translator.Part{{Type: "tool_call_response", ID: "call_w", Response: json.RawMessage(`{"sky":"sunny"}`)}}},
		translator.Message{Role: "tool", Parts: []translator.Part{{Type: "tool_call_response", ID: "call_x", Response: json.RawMessage(`"snow"`)}}},
	)
	res, err = c.Run(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, "Sunny in Paris, snow in Oslo.", res.Message.Parts[0].Content)
	assert.JSONEq(t, `[
		{"role":"user","content":"Weather in Paris and Oslo?"},
		{"role":"assistant","content":"Checking.","tool_calls":[
			{"id":"call_w","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris, France\"}"}},
			{"id":"call_x","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},
		{"role":"tool","tool_call_id":"call_w","content":"{\"sky\":\"sunny\"}"},
		{"role":"tool","tool_call_id":"call_x","content":"snow"}]`, sentMessages(t, f, 1))
}

func TestRunToolCall(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	f.SetScript(openaifake.Answer{ToolCalls: []openaifake.ToolCall{{ID: "call_1", Name: "weather", Arguments: `{"city":"Rome"}`}}})
	req := userSays("Rome?")
	req.Tools = []json.RawMessage{weatherTool}
	res, err := c.Run(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, translator.Message{Role: "assistant", FinishReason: "tool_calls", Parts: []translator.Part{
		{Type: "tool_call", ID: "call_1", Name: "weather", Arguments: json.RawMessage(`{"city":"Rome"}`)},
	}}, res.Message)
}

func TestStreamReadsAJSONAnswer(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	f.SetScript(openaifake.Answer{Raw: `{"model":"m","choices":[{"index":0,"message":{"content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`})
	var deltas []Delta
	res, err := c.Stream(t.Context(), userSays("x"), func(d Delta) error { deltas = append(deltas, d); return nil })
	require.NoError(t, err)
	assert.Equal(t, []Delta{{Text: "whole"}}, deltas)
	assert.Equal(t, "whole", res.Message.Parts[0].Content)
	assert.Equal(t, int64(2), res.Usage.TotalTokens)
}

func TestParameters(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	req := userSays("x")
	req.Parameters = map[string]any{
		"temperature": 0.2, "top_p": 0.9, "max_tokens": 64, "max_completion_tokens": 64,
		"presence_penalty": 0.5, "frequency_penalty": -0.5, "stop": []string{"\n\n", "END"}, "seed": 42, "n": 1,
		"response_format": map[string]any{"type": "json_object"}, "user": "u-1",
	}
	_, err := c.Run(t.Context(), req)
	require.NoError(t, err)
	fields := f.Requests()[0].Fields()
	for k, v := range req.Parameters {
		want, _ := json.Marshal(v)
		assert.JSONEq(t, string(want), string(fields[k]), k)
	}
	assert.Len(t, fields, len(req.Parameters)+2, "the parameters, model and messages")

	// The fake refuses what the real API refuses; the error says why.
	req.Parameters = map[string]any{"temperature": 3}
	_, err = c.Run(t.Context(), req)
	pe := requireProviderError(t, err)
	assert.Equal(t, 400, pe.Status)
	assert.False(t, pe.Retryable)
	assert.Contains(t, pe.Error(), "fake: the provider answered 400 Bad Request: Invalid 'temperature': decimal above maximum value")
}

func TestRequestRefused(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	tests := []struct {
		name   string
		modify func(*Request)
		want   string
	}{
		{"model", func(r *Request) { r.Parameters = map[string]any{"model": "gpt-4o"} }, `parameter "model" cannot be set: the playground sets it from the chosen model`},
		{"messages", func(r *Request) { r.Parameters = map[string]any{"messages": []any{}} }, `parameter "messages" cannot be set`},
		{"stream", func(r *Request) { r.Parameters = map[string]any{"stream": true} }, `parameter "stream" cannot be set`},
		{"stream_options", func(r *Request) { r.Parameters = map[string]any{"stream_options": map[string]any{}} }, `parameter "stream_options" cannot be set`},
		{"tools", func(r *Request) { r.Parameters = map[string]any{"tools": []any{}} }, `parameter "tools" cannot be set: pass tools as the request's tools`},
		{"functions", func(r *Request) { r.Parameters = map[string]any{"functions": []any{}} }, `parameter "functions" cannot be set`},
		{"n", func(r *Request) { r.Parameters = map[string]any{"n": 2} }, `parameter "n" must be 1`},
		{"not JSON", func(r *Request) { r.Parameters = map[string]any{"seed": func() {}} }, `parameter "seed" is not a JSON value`},
		{"no model", func(r *Request) { r.Model = "" }, "no model chosen"},
		{"other model", func(r *Request) { r.Model = "gpt-4o" }, `model "gpt-4o" is not one of provider "fake"'s models (gpt-4o-mini, gpt-5-unserved)`},
		{"bad tool", func(r *Request) { r.Tools = []json.RawMessage{json.RawMessage(`"weather"`)} }, "tool 1 is not a JSON object"},
		{"bad message", func(r *Request) { r.Messages = []translator.Message{text("robot", "x")} }, `unknown role "robot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := userSays("x")
			tt.modify(&req)
			_, err := c.Run(t.Context(), req)
			require.ErrorIs(t, err, ErrInvalidRequest)
			assert.Contains(t, err.Error(), tt.want)
			_, err = c.Stream(t.Context(), req, nil)
			require.ErrorIs(t, err, ErrInvalidRequest)
		})
	}
	assert.Empty(t, f.Requests(), "nothing sent")
}

func requireProviderError(t *testing.T, err error) *ProviderError {
	t.Helper()
	var pe *ProviderError
	require.ErrorAs(t, err, &pe, "%v", err)
	assert.NotContains(t, err.Error(), fakeKey)
	assert.NotContains(t, fmt.Sprintf("%#v %+v", pe, pe), fakeKey)
	return pe
}

// call runs req with Run or Stream.
func call(t *testing.T, c *Client, stream bool, req Request) (Result, error) {
	if stream {
		return c.Stream(t.Context(), req, func(Delta) error { return nil })
	}
	return c.Run(t.Context(), req)
}

func TestProviderErrors(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	tests := []struct {
		name      string
		answer    *openaifake.Answer
		provider  func(*Provider)
		model     string
		status    int
		retryable bool
		after     time.Duration
		want      string // the whole Error() unless wantPart
		wantPart  bool
		cause     error
	}{
		{
			name:     "bad key",
			provider: func(p *Provider) { p.APIKey = "sk-wrong-0000000000001111" },
			status:   401,
			want:     "fake: the provider answered 401 Unauthorized (the API key was refused): Incorrect API key provided: sk-******************1111. You can find your API key at https://platform.openai.com/account/api-keys.",
		},
		{
			name:     "no key",
			provider: func(p *Provider) { p.APIKey = "" },
			status:   401,
			want:     "fake: the provider answered 401 Unauthorized (the API key was refused): You didn't provide an API key.",
			wantPart: true,
		},
		{
			name:   "unknown model",
			model:  "gpt-5-unserved",
			status: 404,
			want:   "fake: the provider answered 404 Not Found (unknown model, or the endpoint is not an OpenAI-compatible base URL): The model `gpt-5-unserved` does not exist or you do not have access to it.",
		},
		{
			name:     "wrong base URL",
			provider: func(p *Provider) { p.Endpoint = strings.TrimSuffix(p.Endpoint, "/v1") },
			status:   404,
			want:     "fake: the provider answered 404 Not Found (unknown model, or the endpoint is not an OpenAI-compatible base URL): Invalid URL (POST /chat/completions)",
		},
		{
			name:      "rate limited",
			answer:    &openaifake.Answer{Status: 429, Message: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.", Type: "requests", Code: "rate_limit_exceeded", RetryAfter: "20"},
			status:    429,
			retryable: true,
			after:     20 * time.Second,
			want:      "fake: the provider answered 429 Too Many Requests (rate limited; retry after 20s): Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.",
		},
		{
			name:      "server error",
			answer:    &openaifake.Answer{Status: 500, Message: "The server had an error while processing your request. Sorry about that!"},
			status:    500,
			retryable: true,
			want:      "fake: the provider answered 500 Internal Server Error (a provider-side failure; retrying may help): The server had an error while processing your request. Sorry about that!",
		},
		{
			name:      "HTML from a proxy",
			answer:    &openaifake.Answer{Status: 502, Raw: "<html>\n<body>502   Bad Gateway</body>\n</html>", RawContentType: "text/html"},
			status:    502,
			retryable: true,
			want:      "fake: the provider answered 502 Bad Gateway (a provider-side failure; retrying may help): <html> <body>502 Bad Gateway</body> </html>",
		},
		{
			name:   "Ollama's error shape",
			answer: &openaifake.Answer{Status: 400, Raw: `{"error":"model \"llama9\" not found, try pulling it first"}`},
			status: 400,
			want:   `fake: the provider answered 400 Bad Request: model "llama9" not found, try pulling it first`,
		},
		{
			name:      "timeout",
			provider:  func(p *Provider) { p.Timeout = 200 * time.Millisecond },
			answer:    &openaifake.Answer{Text: "late", Delay: time.Minute},
			retryable: true,
			want:      "fake: the provider did not answer within 200ms",
			cause:     context.DeadlineExceeded,
		},
		{
			name:      "connection refused",
			provider:  func(p *Provider) { p.Endpoint = "http://" + refused + "/v1" },
			retryable: true,
			want:      "fake: cannot reach the provider at " + refused + ": dial tcp " + refused + ": connect: connection refused",
		},
		{
			name:   "malformed JSON",
			answer: &openaifake.Answer{Raw: `{"choices":[{"index":0,"message":{"content":"cut`},
			status: 200,
			want:   "fake: the provider's answer cannot be read:",
			// Run: "not a chat completion: unexpected end of JSON input"; Stream reads it as SSE.
			wantPart: true,
		},
		{
			name:     "key echoed by the provider",
			answer:   &openaifake.Answer{Status: 403, Raw: `{"error":{"message":"key ` + fakeKey + ` may not use this model"}}`},
			status:   403,
			want:     "fake: the provider answered 403 Forbidden (the API key may not do this): key [REDACTED] may not use this model",
			wantPart: false,
		},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				f := newFake(t)
				if tt.answer != nil {
					f.SetScript(*tt.answer)
				}
				mods := []func(*Provider){}
				if tt.provider != nil {
					mods = append(mods, tt.provider)
				}
				c := clientFor(t, f, mods...)
				req := userSays("hi")
				if tt.model != "" {
					req.Model = tt.model
				}
				start := time.Now()
				_, err := call(t, c, stream, req)
				pe := requireProviderError(t, err)
				assert.Equal(t, tt.status, pe.Status)
				assert.Equal(t, tt.retryable, pe.Retryable)
				assert.Equal(t, tt.after, pe.RetryAfter)
				assert.Equal(t, "fake", pe.Provider)
				if tt.wantPart {
					assert.Contains(t, err.Error(), tt.want)
				} else {
					assert.Equal(t, tt.want, err.Error())
				}
				if tt.cause != nil {
					assert.ErrorIs(t, err, tt.cause)
				}
				assert.Less(t, time.Since(start), 5*time.Second)
			})
		}
	}
}

// TestStreamFailures: what can go wrong once a stream has started.
func TestStreamFailures(t *testing.T) {
	sse := "text/event-stream"
	chunk := func(delta string) string {
		return `data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}` + "\n\n"
	}
	tests := []struct {
		name   string
		answer openaifake.Answer
		mod    func(*Client)
		want   string
		status int
	}{
		{"not JSON data", openaifake.Answer{Raw: chunk(`{"content":"a"}`) + "data: {oops\n\n", RawContentType: sse},
			nil, "fake: the provider's answer cannot be read: stream data is not a chat completion chunk: invalid character 'o' looking for beginning of object key string (at byte 2)", 200},
		{"not SSE", openaifake.Answer{Raw: `{"message":{"content":"ndjson"}}` + "\n", RawContentType: "application/x-ndjson"},
			nil, `fake: the provider's answer cannot be read: the stream is not server-sent events: "{\"message\":{\"content\":\"ndjson\"}}"`, 200},
		{"ended early", openaifake.Answer{Raw: chunk(`{"content":"a"}`), RawContentType: sse},
			nil, "fake: the provider's answer cannot be read: the stream ended before the answer was complete (no finish reason, no [DONE])", 200},
		{"error event", openaifake.Answer{Raw: chunk(`{"content":"a"}`) + `data: {"error":{"message":"The server had an error while processing your request.","type":"server_error"}}` + "\n\n", RawContentType: sse},
			nil, "fake: the provider failed while answering: The server had an error while processing your request.", 200},
		{"typed error event", openaifake.Answer{Raw: "event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n", RawContentType: sse},
			nil, "fake: the provider failed while answering: overloaded", 200},
		{"line over the cap", openaifake.Answer{Text: strings.Repeat("x", 300)},
			func(c *Client) { c.maxLine = 256 }, "fake: the provider's answer cannot be read: a stream line is longer than the 256 bytes limit", 200},
		{"event over the cap", openaifake.Answer{Raw: "data: " + strings.Repeat("x", 200) + "\ndata: " + strings.Repeat("x", 200) + "\n\n", RawContentType: sse},
			func(c *Client) { c.maxLine = 256 }, "fake: the provider's answer cannot be read: a stream event is longer than the 256 bytes limit", 200},
		{"answer over the cap", openaifake.Answer{Text: strings.Repeat("word ", 300)},
			func(c *Client) { c.maxAnswer = 1024 }, "fake: the provider's answer cannot be read: the answer is larger than the 1 KiB limit", 200},
		{"silent mid-answer", openaifake.Answer{Text: "one two three", ChunkDelay: 150 * time.Millisecond},
			func(c *Client) { c.timeout = 100 * time.Millisecond }, "fake: the provider sent nothing for 100ms in the middle of its answer", 0},
		{"fragment after finish", openaifake.Answer{Raw: chunk(`{"content":"a"}`) +
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" + chunk(`{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}`), RawContentType: sse},
			nil, "fake: the provider's answer cannot be read: a tool call fragment came after the finish reason", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.SetScript(tt.answer)
			c := clientFor(t, f)
			if tt.mod != nil {
				tt.mod(c)
			}
			_, err := c.Stream(t.Context(), userSays("hi"), func(Delta) error { return nil })
			pe := requireProviderError(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, tt.status, pe.Status)
		})
	}
}

func TestRunBodyOverTheCap(t *testing.T) {
	f := newFake(t)
	f.SetScript(openaifake.Answer{Text: strings.Repeat("word ", 300)})
	c := clientFor(t, f)
	c.maxAnswer = 1024
	_, err := c.Run(t.Context(), userSays("hi"))
	requireProviderError(t, err)
	assert.EqualError(t, err, "fake: the provider's answer cannot be read: the answer is larger than the 1 KiB limit")
}

func TestRunMalformed(t *testing.T) {
	f := newFake(t)
	f.SetScript(openaifake.Answer{Raw: `{"choices":[{"index":0,"message":{"content":"cut`}, openaifake.Answer{Raw: `{"id":"x","choices":[]}`})
	c := clientFor(t, f)
	_, err := c.Run(t.Context(), userSays("hi"))
	requireProviderError(t, err)
	assert.EqualError(t, err, "fake: the provider's answer cannot be read: not a chat completion: unexpected end of JSON input (at byte 48)")
	_, err = c.Run(t.Context(), userSays("hi"))
	assert.EqualError(t, err, "fake: the provider's answer cannot be read: the answer has no choices")
}

func TestCallerGivesUp(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)

	// Cancelled before the answer: the caller's error, not the provider's.
	f.SetScript(openaifake.Answer{Text: "late", Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Run(ctx, userSays("hi"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var pe *ProviderError
	assert.False(t, errors.As(err, &pe))

	// onDelta's error stops the stream and comes back as it is.
	f.SetScript(openaifake.Answer{Text: "one two three four", ChunkDelay: 10 * time.Millisecond})
	stop := errors.New("browser went away")
	n := 0
	_, err = c.Stream(t.Context(), userSays("hi"), func(Delta) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	require.Same(t, stop, err)
	assert.Equal(t, 2, n)
}

// TestSlowCallerIsNotASilentProvider: time spent in onDelta does not count
// against the provider's timeout.
func TestSlowCallerIsNotASilentProvider(t *testing.T) {
	f := newFake(t)
	f.SetScript(openaifake.Answer{Text: "a b c"})
	c := clientFor(t, f, func(p *Provider) { p.Timeout = 300 * time.Millisecond })
	res, err := c.Stream(t.Context(), userSays("hi"), func(Delta) error {
		time.Sleep(400 * time.Millisecond)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "a b c", res.Message.Parts[0].Content)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After": {now.Add(-time.Second).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {"-3"}}, 0},
		{http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}}, 1500 * time.Millisecond},
		{http.Header{}, 0},
	} {
		assert.Equal(t, tt.want, retryAfter(tt.h, now), "%v", tt.h)
	}
}

func TestErrorMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"message":"m1","type":"t"}}`:     "m1",
		`{"error":"m2"}`:                            "m2",
		`{"message":"m3"}`:                          "m3",
		`{"detail":"m4"}`:                           "m4",
		`{"detail":[{"loc":["body"],"msg":"bad"}]}`: `[{"loc":["body"],"msg":"bad"}]`,
		`{"error":{"code":5}}`:                      `{"code":5}`,
		"plain\ntext":                               "plain text",
		strings.Repeat("é", 150):                    strings.Repeat("é", 100) + "…",
		"":                                          "",
		"\xff\xfe":                                  "\uFFFD",
	} {
		assert.Equal(t, want, errorMessage([]byte(body)), body)
	}
}

// TestNoKeyHeaderWithoutKey: a provider without a key sends no
// Authorization at all (a local Ollama).
func TestNoKeyHeaderWithoutKey(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("Authorization")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"model":"llama3.2","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	c, err := NewClient(Provider{Name: "ollama", Endpoint: srv.URL + "/v1", Models: []string{"llama3.2"}}, srv.Client())
	require.NoError(t, err)
	res, err := c.Run(t.Context(), Request{Model: "llama3.2", Messages: []translator.Message{text("user", "hi")}})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, Usage{}, res.Usage)
}

// TestMediaAccepted: a user turn with an image, a screenshot and audio
// passes the fake's validation of content parts.
func TestMediaAccepted(t *testing.T) {
	f := newFake(t)
	c := clientFor(t, f)
	req := Request{Model: "gpt-4o-mini", Messages: []translator.Message{
		text("system", "Describe."),
		{Role: "user", Parts: []translator.Part{
			{Type: "text", Content: "What is this?"},
			{Type: "uri", URI: "https://example.com/cat.png"},
			{Type: "blob", Content: pngBase64, MimeType: "image/png", Modality: "image"},
			{Type: "blob", Content: "SUQzBA==", MimeType: "audio/mpeg"},
		}},
	}}
	res, err := c.Stream(t.Context(), req, nil)
	require.NoError(t, err)
	assert.Equal(t, "echo: What is this?", res.Message.Parts[0].Content)
	assert.Equal(t, http.StatusOK, f.Requests()[0].Status)
}
