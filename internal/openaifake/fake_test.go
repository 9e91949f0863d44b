package openaifake

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newFake(t *testing.T) *Server {
	t.Helper()
	s := New(Options{Models: []string{"gpt-4o-mini", "gpt-4o"}})
	t.Cleanup(s.Close)
	return s
}

// post sends body with the fake's key unless auth says otherwise.
func post(t *testing.T, s *Server, body string, auth ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if len(auth) == 0 {
		req.Header.Set("Authorization", "Bearer "+s.APIKey())
	} else if auth[0] != "" {
		req.Header.Set("Authorization", auth[0])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func readError(t *testing.T, resp *http.Response) errorBody {
	t.Helper()
	var e errorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	return e
}

const hello = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}`

func TestAuth(t *testing.T) {
	s := newFake(t)
	tests := []struct {
		name, auth, want string
	}{
		{name: "missing", auth: "", want: "You didn't provide an API key"},
		{name: "not bearer", auth: "Basic " + s.APIKey(), want: "You didn't provide an API key"},
		{name: "wrong", auth: "Bearer sk-wrong-key-1234567890", want: "Incorrect API key provided: sk-****************7890."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, s, hello, tt.auth)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			e := readError(t, resp)
			assert.Contains(t, e.Error.Message, tt.want)
			assert.Equal(t, "invalid_request_error", e.Error.Type)
		})
	}
	assert.Equal(t, http.StatusOK, post(t, s, hello).StatusCode)
	reqs := s.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, []int{401, 401, 401, 200}, []int{reqs[0].Status, reqs[1].Status, reqs[2].Status, reqs[3].Status})
}

func TestRoutes(t *testing.T) {
	s := newFake(t)
	resp, err := http.Post(s.URL()+"/completions", "application/json", strings.NewReader(hello))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "Invalid URL (POST /v1/completions)", readError(t, resp).Error.Message)

	resp2, err := http.Get(s.URL() + "/chat/completions")
	require.NoError(t, err)
	defer resp2.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp2.StatusCode)
}

func TestValidation(t *testing.T) {
	s := newFake(t)
	asst := `{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{}"}}]}`
	tool := `{"role":"tool","tool_call_id":"call_1","content":"sunny"}`
	user := `{"role":"user","content":"hi"}`
	msgs := func(m ...string) string {
		return `{"model":"gpt-4o-mini","messages":[` + strings.Join(m, ",") + `]}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   string
		code   string
	}{
		{"not json", `{"model":`, 400, "could not parse the JSON body", ""},
		{"unknown field", `{"model":"gpt-4o-mini","messages":[` + user + `],"temprature":1}`, 400, "Unrecognized request argument supplied: temprature", ""},
		{"no model", `{"messages":[` + user + `]}`, 400, "you must provide a model parameter", ""},
		{"unknown model", `{"model":"gpt-9","messages":[` + user + `]}`, 404, "The model `gpt-9` does not exist", "model_not_found"},
		{"no messages", `{"model":"gpt-4o-mini","messages":[]}`, 400, "empty array", "empty_array"},
		{"messages not array", `{"model":"gpt-4o-mini","messages":"hi"}`, 400, "Invalid type for 'messages'", "invalid_type"},
		{"bad role", msgs(`{"role":"robot","content":"x"}`), 400, "Invalid value: 'robot'", "invalid_value"},
		{"no role", msgs(`{"content":"x"}`), 400, "Missing required parameter: 'messages[0].role'", "missing_required_parameter"},
		{"unknown message field", msgs(`{"role":"user","content":"x","tool_call_id":"a"}`), 400, "Unknown parameter: 'messages[0].tool_call_id'", "unknown_parameter"},
		{"user without content", msgs(`{"role":"user"}`), 400, "Missing required parameter: 'messages[0].content'", "missing_required_parameter"},
		{"tool answering nothing", msgs(user, tool), 400, "must be a response to a preceeding message with 'tool_calls'", ""},
		{"tool answering another id", msgs(user, asst, `{"role":"tool","tool_call_id":"call_2","content":"x"}`), 400, "must be a response to a preceeding message", ""},
		{"tool without id", msgs(user, asst, `{"role":"tool","content":"x"}`), 400, "Missing required parameter: 'messages[2].tool_call_id'", "missing_required_parameter"},
		{"call unanswered", msgs(user, asst, user), 400, "did not have response messages: call_1", ""},
		{"call unanswered at end", msgs(user, asst), 400, "did not have response messages: call_1", ""},
		{"arguments not a string", msgs(user, `{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}`, `{"role":"tool","tool_call_id":"c","content":""}`), 400, "messages[1].tool_calls[0].function.arguments", "invalid_type"},
		{"image in system", msgs(`{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}`), 400, "Invalid value: 'image_url'", "invalid_value"},
		{"bad audio format", msgs(`{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"ogg"}}]}`), 400, "Invalid value: 'ogg'", "invalid_value"},
		{"temperature too high", `{"model":"gpt-4o-mini","messages":[` + user + `],"temperature":3}`, 400, "Expected a value <= 2, but got 3", "decimal_above_max_value"},
		{"max_tokens not integer", `{"model":"gpt-4o-mini","messages":[` + user + `],"max_tokens":1.5}`, 400, "expected an integer", "invalid_type"},
		{"stop too long", `{"model":"gpt-4o-mini","messages":[` + user + `],"stop":["a","b","c","d","e"]}`, 400, "maximum length 4", "array_above_max_length"},
		{"stream_options without stream", `{"model":"gpt-4o-mini","messages":[` + user + `],"stream_options":{"include_usage":true}}`, 400, "only allowed when 'stream' is enabled", "invalid_value"},
		{"tool without function", `{"model":"gpt-4o-mini","messages":[` + user + `],"tools":[{"type":"function"}]}`, 400, "Missing required parameter: 'tools[0].function'", "missing_required_parameter"},
		{"tool bad name", `{"model":"gpt-4o-mini","messages":[` + user + `],"tools":[{"type":"function","function":{"name":"get weather"}}]}`, 400, "does not match pattern", "invalid_value"},
		{"tool unknown field", `{"model":"gpt-4o-mini","messages":[` + user + `],"tools":[{"type":"function","function":{"name":"w","params":{}}}]}`, 400, "Unknown parameter: 'tools[0].function.params'", "unknown_parameter"},
		{"tool_choice without tools", `{"model":"gpt-4o-mini","messages":[` + user + `],"tool_choice":"auto"}`, 400, "only allowed when 'tools' are specified", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, s, tt.body)
			assert.Equal(t, tt.status, resp.StatusCode)
			e := readError(t, resp)
			assert.Contains(t, e.Error.Message, tt.want)
			assert.Equal(t, "invalid_request_error", e.Error.Type)
			if tt.code == "" {
				assert.Nil(t, e.Error.Code)
			} else if assert.NotNil(t, e.Error.Code) {
				assert.Equal(t, tt.code, *e.Error.Code)
			}
		})
	}

	t.Run("valid tool round", func(t *testing.T) {
		body := `{"model":"gpt-4o","messages":[` + user + `,` + asst + `,` + tool + `],` +
			`"tools":[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}],"tool_choice":"auto",` +
			`"temperature":0.2,"top_p":1,"max_tokens":5,"seed":7,"stop":"\n","n":1}`
		assert.Equal(t, http.StatusOK, post(t, s, body).StatusCode)
	})
	t.Run("refused requests take no answer", func(t *testing.T) {
		s.SetScript(Answer{Text: "scripted"})
		post(t, s, `{"model":"gpt-9","messages":[`+user+`]}`)
		assert.Equal(t, "scripted", completionText(t, post(t, s, hello)))
	})
}

func completionText(t *testing.T, resp *http.Response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	require.Equal(t, "chat.completion", c.Object)
	require.Len(t, c.Choices, 1)
	if c.Choices[0].Message.Content == nil {
		return "<null>"
	}
	return *c.Choices[0].Message.Content
}

func TestEchoAndScript(t *testing.T) {
	s := newFake(t)
	assert.Equal(t, "echo: hello there", completionText(t, post(t, s, hello)))
	multi := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://e.x/a.png"}}]}]}`
	assert.Equal(t, "echo: look", completionText(t, post(t, s, multi)))

	s.SetScript(Answer{Text: "first"}, Answer{ToolCalls: []ToolCall{{ID: "call_9", Name: "weather", Arguments: `{"city":"Paris"}`}}})
	assert.Equal(t, "first", completionText(t, post(t, s, hello)))

	resp := post(t, s, hello)
	var c map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	choice := c["choices"].([]any)[0].(map[string]any)
	assert.Equal(t, "tool_calls", choice["finish_reason"])
	msg := choice["message"].(map[string]any)
	assert.Nil(t, msg["content"])
	assert.Equal(t, []any{map[string]any{"id": "call_9", "type": "function", "function": map[string]any{"name": "weather", "arguments": `{"city":"Paris"}`}}}, msg["tool_calls"])
	assert.Equal(t, map[string]any{"prompt_tokens": 2.0, "completion_tokens": 5.0, "total_tokens": 7.0}, c["usage"])

	assert.Equal(t, "echo: hello there", completionText(t, post(t, s, hello)), "script used up")
}

// events reads an SSE body: each data payload.
func events(t *testing.T, body io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		require.True(t, ok, "line %q", line)
		out = append(out, data)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestStreamText(t *testing.T) {
	s := newFake(t)
	s.SetScript(Answer{Text: "Hello brave world", Model: "gpt-4o-mini-2024-07-18"})
	resp := post(t, s, `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	evs := events(t, resp.Body)
	require.Equal(t, "[DONE]", evs[len(evs)-1])
	var text strings.Builder
	var finish string
	var usage map[string]any
	for _, e := range evs[:len(evs)-1] {
		var c struct {
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Delta        map[string]any `json:"delta"`
				FinishReason *string        `json:"finish_reason"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(e), &c))
		assert.Equal(t, "chat.completion.chunk", c.Object)
		assert.Equal(t, "gpt-4o-mini-2024-07-18", c.Model)
		assert.Contains(t, e, `"usage":`, "include_usage puts usage in every chunk")
		for _, ch := range c.Choices {
			if s, ok := ch.Delta["content"].(string); ok {
				text.WriteString(s)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			assert.Empty(t, c.Choices, "the usage chunk has no choices")
			usage = c.Usage
		}
	}
	assert.Len(t, evs, 1+3+1+1+1, "role, three words, finish, usage, [DONE]")
	assert.Equal(t, "Hello brave world", text.String())
	assert.Equal(t, "stop", finish)
	assert.Equal(t, map[string]any{"prompt_tokens": 1.0, "completion_tokens": 3.0, "total_tokens": 4.0}, usage)

	// Without include_usage: no usage chunk, no usage field.
	s.SetScript(Answer{Text: "a b"})
	evs = events(t, post(t, s, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`).Body)
	assert.Len(t, evs, 1+2+1+1)
	for _, e := range evs {
		assert.NotContains(t, e, "usage")
	}
}

func TestStreamToolCall(t *testing.T) {
	s := newFake(t)
	s.SetScript(Answer{ToolCalls: []ToolCall{
		{ID: "call_a", Name: "weather", Arguments: `{"city":"Paris"}`},
		{Name: "time", Arguments: `{}`},
	}})
	evs := events(t, post(t, s, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`).Body)
	type frag struct {
		Index    int     `json:"index"`
		ID       *string `json:"id"`
		Function struct {
			Name      *string `json:"name"`
			Arguments string  `json:"arguments"`
		} `json:"function"`
	}
	args := map[int]string{}
	var heads []string
	for _, e := range evs[:len(evs)-1] {
		var c struct {
			Choices []struct {
				Delta struct {
					ToolCalls []frag `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(e), &c))
		for _, f := range c.Choices[0].Delta.ToolCalls {
			if f.ID != nil {
				heads = append(heads, *f.ID+" "+*f.Function.Name)
				assert.Empty(t, f.Function.Arguments, "arguments come after the head")
			} else {
				assert.Nil(t, f.Function.Name)
			}
			args[f.Index] += f.Function.Arguments
		}
	}
	assert.Equal(t, []string{"call_a weather", "call_fake1_1 time"}, heads)
	assert.Equal(t, map[int]string{0: `{"city":"Paris"}`, 1: `{}`}, args)
	assert.Contains(t, evs[len(evs)-2], `"finish_reason":"tool_calls"`)
}

func TestErrorsAndRaw(t *testing.T) {
	s := newFake(t)
	s.SetScript(
		Answer{Status: 429, Message: "Rate limit reached for gpt-4o-mini", Type: "requests", Code: "rate_limit_exceeded", RetryAfter: "20"},
		Answer{Status: 500, Message: "The server had an error"},
		Answer{Raw: "<html>bad gateway</html>", Status: 502, RawContentType: "text/html"},
	)
	resp := post(t, s, hello)
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "20", resp.Header.Get("Retry-After"))
	e := readError(t, resp)
	assert.Equal(t, "Rate limit reached for gpt-4o-mini", e.Error.Message)
	assert.Equal(t, "requests", e.Error.Type)
	assert.Equal(t, "rate_limit_exceeded", *e.Error.Code)

	resp = post(t, s, hello)
	assert.Equal(t, 500, resp.StatusCode)
	assert.Equal(t, "server_error", readError(t, resp).Error.Type)

	resp = post(t, s, hello)
	assert.Equal(t, 502, resp.StatusCode)
	assert.Equal(t, "text/html", resp.Header.Get("Content-Type"))
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "<html>bad gateway</html>", string(b))

	reqs := s.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, 429, reqs[0].Status)
	assert.Equal(t, "gpt-4o-mini", strings.Trim(string(reqs[0].Fields()["model"]), `"`))
	assert.Equal(t, "Bearer "+s.APIKey(), reqs[0].Header.Get("Authorization"))
}

func TestDelayEndsWithTheClient(t *testing.T) {
	s := newFake(t)
	s.SetScript(Answer{Text: "late", Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(hello))
	req.Header.Set("Authorization", "Bearer "+s.APIKey())
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	s.Close() // returns once the handler has given up
	assert.Less(t, time.Since(start), 10*time.Second)
}
