package playground

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/translator"
)

func text(role, s string) translator.Message {
	return translator.Message{Role: role, Parts: []translator.Part{{Type: translator.PartText, Content: s}}}
}

// chatJSON converts msgs and gives the messages as JSON.
func chatJSON(t *testing.T, msgs ...translator.Message) string {
	t.Helper()
	out, err := toChatMessages(msgs)
	require.NoError(t, err)
	b, err := json.Marshal(out)
	require.NoError(t, err)
	return string(b)
}

// png is the start of a PNG file, enough to be recognised.
var pngBase64 = base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"))

func TestToChatMessages(t *testing.T) {
	tests := []struct {
		name string
		in   []translator.Message
		want string
	}{
		{
			name: "text turns, parts joined",
			in: []translator.Message{
				{Role: "system", Parts: []translator.Part{{Type: "text", Content: "Be brief."}, {Type: "text", Content: "Answer in French."}}},
				{Role: "user", Name: "ada", Parts: []translator.Part{{Type: "text", Content: "Hi"}}},
				{Role: "assistant", Parts: []translator.Part{{Type: "text", Content: "Salut"}}, FinishReason: "stop"},
				{Role: "user", Parts: []translator.Part{}},
			},
			want: `[{"role":"system","content":"Be brief.\nAnswer in French."},{"role":"user","content":"Hi","name":"ada"},
				{"role":"assistant","content":"Salut"},{"role":"user","content":""}]`,
		},
		{
			name: "multi-part user with images, audio and a pdf",
			in: []translator.Message{{Role: "user", Parts: []translator.Part{
				{Type: "text", Content: "What is in these?"},
				{Type: "uri", URI: "https://example.com/cat.png", Modality: "image"},
				{Type: "blob", Content: pngBase64}, // no mime type: sniffed
				{Type: "blob", Content: "UklGRg==", MimeType: "audio/wav", Modality: "audio"},
				{Type: "blob", Content: "JVBERi0=", MimeType: "application/pdf"},
				{Type: "text", Content: "Be precise."},
			}}},
			want: `[{"role":"user","content":[
				{"type":"text","text":"What is in these?"},
				{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,` + pngBase64 + `"}},
				{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
				{"type":"file","file":{"filename":"document.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
				{"type":"text","text":"Be precise."}]}]`,
		},
		{
			name: "tool call and its result",
			in: []translator.Message{
				text("user", "Weather in Paris?"),
				{Role: "assistant", Parts: []translator.Part{
					{Type: "reasoning", Content: "I should call the tool."},
					{Type: "text", Content: "Let me check."},
					{Type: "tool_call", ID: "call_1", Name: "weather", Arguments: json.RawMessage(`{"city": "Paris"}`)},
					{Type: "tool_call", ID: "call_2", Name: "clock", Arguments: json.RawMessage(`"not json"`)},
				}},
				{Role: "tool", Name: "weather", Parts: []translator.Part{{Type: "tool_call_response", ID: "call_1", Response: json.RawMessage(`{"temp":21}`)}}},
				{Role: "tool", Parts: []translator.Part{{Type: "tool_call_response", ID: "call_2", Response: json.RawMessage(`"noon"`)}}},
			},
			want: `[{"role":"user","content":"Weather in Paris?"},
				{"role":"assistant","content":"Let me check.","tool_calls":[
					{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
					{"id":"call_2","type":"function","function":{"name":"clock","arguments":"not json"}}]},
				{"role":"tool","content":"{\"temp\":21}","tool_call_id":"call_1"},
				{"role":"tool","content":"noon","tool_call_id":"call_2"}]`,
		},
		{
			name: "tool calls without ids (Gemini) paired by name, then in order",
			in: []translator.Message{
				text("user", "Go"),
				{Role: "assistant", Parts: []translator.Part{
					{Type: "tool_call", Name: "a"},
					{Type: "tool_call", Name: "b", Arguments: json.RawMessage(`{}`)},
					{Type: "tool_call", Name: "c"},
				}},
				{Role: "tool", Parts: []translator.Part{
					{Type: "tool_call_response", Name: "b", Response: json.RawMessage(`1`)},
					{Type: "tool_call_response", Response: json.RawMessage(`2`)},
					{Type: "tool_call_response", Name: "c", Response: json.RawMessage(`3`)},
				}},
			},
			want: `[{"role":"user","content":"Go"},
				{"role":"assistant","tool_calls":[
					{"id":"call_2_1","type":"function","function":{"name":"a","arguments":"{}"}},
					{"id":"call_2_2","type":"function","function":{"name":"b","arguments":"{}"}},
					{"id":"call_2_3","type":"function","function":{"name":"c","arguments":"{}"}}]},
				{"role":"tool","content":"1","tool_call_id":"call_2_2"},
				{"role":"tool","content":"2","tool_call_id":"call_2_1"},
				{"role":"tool","content":"3","tool_call_id":"call_2_3"}]`,
		},
		{
			name: "results in a user message (Anthropic) come first, one message each",
			in: []translator.Message{
				{Role: "assistant", Parts: []translator.Part{{Type: "tool_call", ID: "toolu_1", Name: "search", Arguments: json.RawMessage(`{"q":"go"}`)}}},
				{Role: "user", Parts: []translator.Part{
					{Type: "tool_call_response", ID: "toolu_1", Response: json.RawMessage(`"found"`)},
					{Type: "text", Content: "Summarise it."},
				}},
			},
			want: `[{"role":"assistant","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"search","arguments":"{\"q\":\"go\"}"}}]},
				{"role":"tool","content":"found","tool_call_id":"toolu_1"},
				{"role":"user","content":"Summarise it."}]`,
		},
		{
			name: "a tool message's text is its response",
			in: []translator.Message{
				{Role: "assistant", Parts: []translator.Part{{Type: "tool_call", ID: "c1", Name: "f"}}},
				{Role: "tool", Name: "f", Parts: []translator.Part{{Type: "text", Content: "done"}}},
			},
			want: `[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"tool","content":"done","tool_call_id":"c1"}]`,
		},
		{
			name: "reasoning dropped, a reasoning-only turn left out",
			in: []translator.Message{
				text("user", "Think"),
				{Role: "assistant", Parts: []translator.Part{{Type: "reasoning", Content: "hmm"}}},
				{Role: "assistant", Parts: []translator.Part{{Type: "reasoning", Content: "so"}, {Type: "text", Content: "42"}}},
			},
			want: `[{"role":"user","content":"Think"},{"role":"assistant","content":"42"}]`,
		},
		{
			name: "a response id is sent as it is",
			in: []translator.Message{
				{Role: "tool", Parts: []translator.Part{{Type: "tool_call_response", ID: "call_old", Response: json.RawMessage(`null`)}}},
			},
			want: `[{"role":"tool","content":"null","tool_call_id":"call_old"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.JSONEq(t, tt.want, chatJSON(t, tt.in...))
		})
	}
}

func TestToChatMessagesRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   []translator.Message
		want string
	}{
		{"nothing", nil, "no messages"},
		{"unknown role", []translator.Message{text("robot", "x")}, `message 1 (robot): unknown role "robot"`},
		{"tool call from the user", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "tool_call", Name: "f"}}}}, "only an assistant message can hold a tool call"},
		{"unnamed tool call", []translator.Message{{Role: "assistant", Parts: []translator.Part{{Type: "tool_call", ID: "c"}}}}, `tool call "c" has no tool name`},
		{"image from the assistant", []translator.Message{{Role: "assistant", Parts: []translator.Part{{Type: "uri", URI: "https://x/y.png"}}}}, "only a user message can hold an image"},
		{"video link", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "uri", URI: "https://x/y.mp4", Modality: "video"}}}}, "a video link cannot be sent"},
		{"ogg audio", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "blob", Content: "AAAA", MimeType: "audio/ogg"}}}}, `audio of type "audio/ogg" cannot be sent`},
		{"blob of unknown type", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "blob", Content: "AAAA"}}}}, "whose type is unknown"},
		{"image blob without image type", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "blob", Content: "AAAA", Modality: "image"}}}}, "an image blob without an image mime type"},
		{"unknown part", []translator.Message{{Role: "user", Parts: []translator.Part{{Type: "server_tool_use", Raw: json.RawMessage(`{}`)}}}}, `a part of type "server_tool_use" cannot be sent`},
		{"unpaired response", []translator.Message{text("user", "x"), {Role: "tool", Parts: []translator.Part{{Type: "tool_call_response", Response: json.RawMessage(`1`)}}}}, "message 2 (tool): a tool response without a call id answers no tool call before it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := toChatMessages(tt.in)
			require.ErrorIs(t, err, ErrInvalidRequest)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseCompletion(t *testing.T) {
	body := `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06",
		"choices":[{"index":1,"message":{"role":"assistant","content":"other"},"finish_reason":"stop"},
		           {"index":0,"message":{"role":"assistant","content":"Checking.","reasoning_content":"Need the tool.","refusal":null,
		             "tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Paris\"}"}},
		                           {"id":"call_2","type":"function","function":{"name":"ollama_style","arguments":{"n":1}}},
		                           {"id":"call_3","type":"function","function":{"name":"plain","arguments":"not json"}}]},
		            "finish_reason":"tool_calls"}],
		"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`
	res, err := parseCompletion([]byte(body), newAssembler(1<<20, nil))
	require.NoError(t, err)
	assert.Equal(t, Result{
		Message: translator.Message{Role: "assistant", FinishReason: "tool_calls", Parts: []translator.Part{
			{Type: "reasoning", Content: "Need the tool."},
			{Type: "text", Content: "Checking."},
			{Type: "tool_call", ID: "call_1", Name: "weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
			{Type: "tool_call", ID: "call_2", Name: "ollama_style", Arguments: json.RawMessage(`{"n":1}`)},
			{Type: "tool_call", ID: "call_3", Name: "plain", Arguments: json.RawMessage(`"not json"`)},
		}},
		Usage:        Usage{InputTokens: 12, OutputTokens: 7, TotalTokens: 19},
		FinishReason: "tool_calls",
		Model:        "gpt-4o-2024-08-06",
	}, res)

	// Content as text parts, a refusal, no total in usage.
	res, err = parseCompletion([]byte(`{"model":"m","choices":[{"index":0,"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"refusal":"no"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`), newAssembler(1<<20, nil))
	require.NoError(t, err)
	assert.Equal(t, []translator.Part{{Type: "text", Content: "abno"}}, res.Message.Parts)
	assert.Equal(t, Usage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3}, res.Usage)

	// An empty answer still has its (empty) parts.
	res, err = parseCompletion([]byte(`{"choices":[{"index":0,"message":{"content":null},"finish_reason":"length"}]}`), newAssembler(1<<20, nil))
	require.NoError(t, err)
	assert.NotNil(t, res.Message.Parts)
	assert.Empty(t, res.Message.Parts)
	assert.Equal(t, "length", res.FinishReason)
}

func TestParseCompletionRefuses(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", `{"choices":`, "not a chat completion"},
		{"not an object", `[1]`, "not a chat completion"},
		{"no choices", `{"choices":[]}`, "no choices"},
		{"no message", `{"choices":[{"index":0}]}`, "choice 0 has no message"},
		{"content a number", `{"choices":[{"index":0,"message":{"content":5}}]}`, "content is neither a string nor a list of parts"},
		{"arguments a number", `{"choices":[{"index":0,"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":5}}]}}]}`, "arguments are neither"},
		{"unnamed call", `{"choices":[{"index":0,"message":{"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}}]}`, "tool call 1 has no name"},
		{"too large", `{"choices":[{"index":0,"message":{"content":"0123456789abcdefghijklmnopqrstuvwxyz"}}]}`, "larger than the 16 bytes limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCompletion([]byte(tt.body), newAssembler(16, nil))
			var ae *answerError
			require.ErrorAs(t, err, &ae)
			assert.Contains(t, ae.msg, tt.want)
		})
	}
	_, err := parseCompletion([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`), newAssembler(16, nil))
	var ae *answerError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.providerSaid)
	assert.Equal(t, "overloaded", ae.msg)
}

func TestArgumentsValue(t *testing.T) {
	for in, want := range map[string]string{
		`{"a": [1, 2]}`: `{"a":[1,2]}`,
		`[1]`:           `[1]`,
		`{"a":`:         `"{\"a\":"`, // cut short: kept as text
		``:              `""`,
		`42`:            `"42"`,
	} {
		assert.Equal(t, want, string(argumentsValue(in)), in)
	}
}
