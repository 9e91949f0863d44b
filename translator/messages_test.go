package translator

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

const messagesDir = "../testdata/messages"

func TestNormalizeMessagesShapes(t *testing.T) {
	cases := []struct {
		name    string
		content string
		side    MessageSide
		want    string // the messages as JSON; "" means not messages
	}{
		{"plain input", "What is the capital of France?", InputSide,
			`[{"role":"user","parts":[{"type":"text","content":"What is the capital of France?"}]}]`},
		{"plain output", "Paris.", OutputSide, `[{"role":"assistant","parts":[{"type":"text","content":"Paris."}]}]`},
		{"JSON string", `"Paris."`, OutputSide, `[{"role":"assistant","parts":[{"type":"text","content":"Paris."}]}]`},
		{"text starting with a bracket", "[draft] hello", InputSide, `[{"role":"user","parts":[{"type":"text","content":"[draft] hello"}]}]`},
		{"openai chat", `[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{"url":"https://x/cat.png"}}]},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},` +
			`{"role":"tool","tool_call_id":"c1","content":"{\"temp\":7}"}]`, InputSide,
			`[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},` +
				`{"role":"user","parts":[{"type":"text","content":"Hi"},{"type":"uri","uri":"https://x/cat.png","modality":"image"}]},` +
				`{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"weather","arguments":{"city":"Oslo"}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":{"temp":7}}]}]`},
		{"openai message object", `{"role":"assistant","content":"Hi","refusal":null,"annotations":[]}`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"Hi"}]}]`},
		{"openai choice", `{"finish_reason":"stop","index":0,"message":{"content":"It is sunny."}}`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"It is sunny."}],"finish_reason":"stop"}]`},
		{"openai response", `{"id":"x","choices":[{"finish_reason":"length","message":{"role":"assistant","content":"Hel"}}]}`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"Hel"}],"finish_reason":"length"}]`},
		{"openinference tool call without type", `[{"role":"assistant","tool_calls":[{"function":{"arguments":"{\"a\":1}","name":"f"},"id":"c"}]}]`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"tool_call","id":"c","name":"f","arguments":{"a":1}}]}]`},
		{"semconv", `[{"role":"user","parts":[{"type":"text","content":"Hi"}]},{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"reasoning","content":"hmm"},{"type":"tool_call","id":"c","name":"f","arguments":{"a":1}}]},` +
			`{"role":"tool","parts":[{"type":"tool_call_response","id":"c","response":"ok"}]},{"role":"user","parts":[{"type":"mystery","x":1}]}]`, InputSide,
			`[{"role":"user","parts":[{"type":"text","content":"Hi"}]},{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},{"type":"tool_call","id":"c","name":"f","arguments":{"a":1}}],"finish_reason":"tool_call"},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"c","response":"ok"}]},{"role":"user","parts":[{"type":"mystery","raw":{"type":"mystery","x":1}}]}]`},
		{"semconv system instructions", `[{"type":"text","content":"Be brief."}]`, InputSide,
			`[{"role":"system","parts":[{"type":"text","content":"Be brief."}]}]`},
		{"gemini parts", `[{"role":"model","parts":[{"text":"Hi"},{"functionCall":{"name":"f","args":{"a":1}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"r":2}}}]}]`, InputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"Hi"},{"type":"tool_call","name":"f","arguments":{"a":1}}]},{"role":"user","parts":[{"type":"tool_call_response","name":"f","response":{"r":2}}]}]`},
		{"ai sdk messages", `[{"role":"user","content":[{"type":"text","text":"Weather?"}]},{"role":"assistant","content":[{"type":"reasoning","text":"think"},{"type":"tool-call","toolCallId":"c","toolName":"w","args":{"city":"Oslo"}}]},` +
			`{"role":"tool","content":[{"type":"tool-result","toolCallId":"c","toolName":"w","output":{"type":"json","value":{"t":7}}}]}]`, InputSide,
			`[{"role":"user","parts":[{"type":"text","content":"Weather?"}]},{"role":"assistant","parts":[{"type":"reasoning","content":"think"},{"type":"tool_call","id":"c","name":"w","arguments":{"city":"Oslo"}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"c","name":"w","response":{"t":7}}]}]`},
		{"ai sdk prompt", `{"system":"Be brief.","prompt":"Capital of Spain?"}`, InputSide,
			`[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"text","content":"Capital of Spain?"}]}]`},
		{"ai sdk prompt with messages", `{"system":"S","messages":[{"role":"user","content":"Q"}]}`, InputSide,
			`[{"role":"system","parts":[{"type":"text","content":"S"}]},{"role":"user","parts":[{"type":"text","content":"Q"}]}]`},
		{"ai sdk v4 tool calls", `[{"toolCallType":"function","toolCallId":"c","toolName":"w","args":"{\"city\":\"Oslo\"}"}]`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"tool_call","id":"c","name":"w","arguments":{"city":"Oslo"}}]}]`},
		{"ai sdk image", `[{"role":"user","content":[{"type":"image","image":"data:image/png;base64,AAAA"}]}]`, InputSide,
			`[{"role":"user","parts":[{"type":"blob","content":"AAAA","mime_type":"image/png","modality":"image"}]}]`},
		{"anthropic", `[{"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Let me look."},{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},` +
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"42"}]}]}]`, InputSide,
			`[{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},{"type":"text","content":"Let me look."},{"type":"tool_call","id":"t1","name":"f","arguments":{"a":1}}]},` +
				`{"role":"user","parts":[{"type":"tool_call_response","id":"t1","response":"42"}]}]`},
		{"anthropic response", `{"type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn"}`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"Hi"}],"finish_reason":"end_turn"}]`},
		{"langfuse wrapper", `{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function"}]}`, InputSide,
			`[{"role":"user","parts":[{"type":"text","content":"Q"}]}]`},
		{"roles canonical", `[{"role":"developer","content":"D"},{"role":"Human","content":"H"},{"role":"ai","content":"A"}]`, InputSide,
			`[{"role":"system","parts":[{"type":"text","content":"D"}]},{"role":"user","parts":[{"type":"text","content":"H"}]},{"role":"assistant","parts":[{"type":"text","content":"A"}]}]`},
		{"big numbers kept", `[{"role":"tool","tool_call_id":"c","content":"{\"id\":12345678901234567890}"}]`, InputSide,
			`[{"role":"tool","parts":[{"type":"tool_call_response","id":"c","response":{"id":12345678901234567890}}]}]`},
		{"choice on the input side", `[{"finish_reason":"stop","message":{"content":"Hi"}}]`, InputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"Hi"}],"finish_reason":"stop"}]`},
		{"streamed choice", `{"choices":[{"delta":{"content":"He"},"finish_reason":null}]}`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"He"}]}]`},
		{"openai tool message with text parts", `[{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"{\"t\":7}"}]}]`, InputSide,
			`[{"role":"tool","parts":[{"type":"tool_call_response","id":"c","response":{"t":7}}]}]`},
		{"openai tool message with object content", `[{"role":"tool","tool_call_id":"c","content":{"t":7}}]`, InputSide,
			`[{"role":"tool","parts":[{"type":"tool_call_response","id":"c","response":{"t":7}}]}]`},
		{"legacy function message", `[{"role":"function","name":"weather","content":"rain"}]`, InputSide,
			`[{"role":"tool","name":"weather","parts":[{"type":"tool_call_response","name":"weather","response":"rain"}]}]`},
		{"object content is JSON text", `[{"role":"user","content":{"q":1}}]`, InputSide,
			`[{"role":"user","parts":[{"type":"text","content":"{\"q\":1}"}]}]`},
		{"openai audio and file", `[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf"}}]}]`, InputSide,
			`[{"role":"user","parts":[{"type":"blob","content":"UklG","mime_type":"audio/wav","modality":"audio"},{"type":"blob","content":"JVBE","mime_type":"application/pdf"}]}]`},
		{"ai sdk v4 tool result", `[{"role":"tool","content":[{"type":"tool-result","toolCallId":"c","toolName":"w","result":"{\"t\":7}"}]}]`, InputSide,
			`[{"role":"tool","parts":[{"type":"tool_call_response","id":"c","name":"w","response":{"t":7}}]}]`},
		{"ai sdk v5 text output and file", `[{"role":"tool","content":[{"type":"tool-result","toolCallId":"c","toolName":"w","output":{"type":"text","value":"rain"}}]},` +
			`{"role":"user","content":[{"type":"file","data":"https://x/a.pdf","mediaType":"application/pdf"}]}]`, InputSide,
			`[{"role":"tool","parts":[{"type":"tool_call_response","id":"c","name":"w","response":"rain"}]},{"role":"user","parts":[{"type":"uri","uri":"https://x/a.pdf","mime_type":"application/pdf"}]}]`},
		{"ai sdk prompt without system", `{"system":"","prompt":"Q"}`, InputSide, `[{"role":"user","parts":[{"type":"text","content":"Q"}]}]`},
		{"anthropic request", `{"model":"claude","system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}`, InputSide,
			`[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"blob","content":"AAAA","mime_type":"image/png","modality":"image"}]}]`},
		{"input wrapper", `{"input":[{"role":"user","content":"Q"}],"model":"m"}`, InputSide, `[{"role":"user","parts":[{"type":"text","content":"Q"}]}]`},
		{"bare parts on the output side", `[{"type":"text","text":"Hi"},{"type":"tool_use","id":"t","name":"f","input":{}}]`, OutputSide,
			`[{"role":"assistant","parts":[{"type":"text","content":"Hi"},{"type":"tool_call","id":"t","name":"f","arguments":{}}]}]`},
		{"semconv blob and uri", `[{"role":"user","parts":[{"type":"blob","content":"AAAA","mime_type":"image/png","modality":"image"},{"type":"uri","uri":"https://x/v.mp4","modality":"video"}]}]`, InputSide,
			`[{"role":"user","parts":[{"type":"blob","content":"AAAA","mime_type":"image/png","modality":"image"},{"type":"uri","uri":"https://x/v.mp4","modality":"video"}]}]`},
		{"trailing text after JSON", `{"a":1} and more`, InputSide, `[{"role":"user","parts":[{"type":"text","content":"{\"a\":1} and more"}]}]`},

		{"tool arguments", `{"city":"Oslo"}`, InputSide, ""},
		{"kwargs with a role", `{"role":"admin","user_id":7}`, InputSide, ""},
		{"typed documents", `[{"type":"document","content":"doc"}]`, OutputSide, ""},
		{"array of arrays of strings", `[["a"],["b"]]`, InputSide, ""},
		{"boolean", `true`, OutputSide, ""},
		{"empty string literal", `"  "`, OutputSide, ""},
		{"kwargs", `{"args":[],"kwargs":{"order_id":"A-1"}}`, InputSide, ""},
		{"embedding inputs", `["tomato soup","lentil curry"]`, InputSide, ""},
		{"vectors", `[[0.1,0.2],[0.3,0.4]]`, OutputSide, ""},
		{"mixed array", `[{"role":"user","content":"x"},"y"]`, InputSide, ""},
		{"retrieval documents", `[{"content":"doc","id":"kb-1","score":0.9}]`, OutputSide, ""},
		{"null", `null`, OutputSide, ""},
		{"number", `42`, OutputSide, ""},
		{"empty", "  ", InputSide, ""},
		{"empty array", `[]`, InputSide, ""},
		{"role not a string", `[{"role":1,"content":"x"}]`, InputSide, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msgs, ok := NormalizeMessages(c.content, c.side)
			if c.want == "" {
				assert.False(t, ok, "not messages: %+v", msgs)
				return
			}
			require.True(t, ok)
			got, err := json.Marshal(msgs)
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(got))
		})
	}
}

// TestMessagesGolden normalises the input and output of every span of every
// real payload in testdata/otlp into testdata/messages. Regenerate with `go
// test ./translator -run TestMessagesGolden -update` and read the diff.
func TestMessagesGolden(t *testing.T) {
	// An absent content and content that is not messages both leave the
	// messages null; the flags tell them apart.
	type entry struct {
		Span             string    `json:"span"`
		Type             string    `json:"type"`
		Input            []Message `json:"input"`
		Output           []Message `json:"output"`
		InputIsMessages  bool      `json:"input_is_messages"`
		OutputIsMessages bool      `json:"output_is_messages"`
	}
	normalize := func(c *string, s MessageSide) ([]Message, bool) {
		if c == nil {
			return nil, false
		}
		return NormalizeMessages(*c, s)
	}
	tr := New(Options{Retention: RetentionFull})
	for _, file := range otlpfixtures.Files(t, otlpDir) {
		name := strings.TrimSuffix(filepath.Base(file), ".otlp.json")
		t.Run(name, func(t *testing.T) {
			var doc []entry
			for _, s := range tr.ToOpper(otlpfixtures.Load(t, file)) {
				e := entry{Span: s.Name, Type: s.Type}
				e.Input, e.InputIsMessages = normalize(s.Input, InputSide)
				e.Output, e.OutputIsMessages = normalize(s.Output, OutputSide)
				doc = append(doc, e)
				// Every generation that has content reads as a conversation;
				// a tool's JSON arguments and results never do.
				switch {
				case s.Type == TypeGeneration:
					assert.Equal(t, s.Input != nil, e.InputIsMessages, "%s: generation %q input: %.200s", name, s.Name, ptrText(s.Input))
					assert.Equal(t, s.Output != nil, e.OutputIsMessages, "%s: generation %q output: %.200s", name, s.Name, ptrText(s.Output))
				case s.Type == TypeTool:
					assert.False(t, e.InputIsMessages || e.OutputIsMessages, "%s: tool %q reads as messages", name, s.Name)
				}
			}
			raw, err := json.MarshalIndent(doc, "", "  ")
			require.NoError(t, err)
			checkGolden(t, filepath.Join(messagesDir, name+".messages.json"), append(raw, '\n'))
		})
	}
}

func ptrText(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func FuzzNormalizeMessages(f *testing.F) {
	tr := New(Options{Retention: RetentionFull})
	for _, file := range otlpfixtures.Files(f, otlpDir) {
		for _, s := range tr.ToOpper(otlpfixtures.Load(f, file)) {
			for _, c := range []*string{s.Input, s.Output, s.Instructions} {
				if c != nil {
					f.Add(*c, false)
				}
			}
		}
	}
	f.Add(`[{"role":"user","parts":[{"type":"tool_call","arguments":"{\"a\":[1,"}]}]`, true)
	f.Fuzz(func(t *testing.T, content string, output bool) {
		side := InputSide
		if output {
			side = OutputSide
		}
		msgs, ok := NormalizeMessages(content, side)
		if !ok {
			return
		}
		if len(msgs) == 0 {
			t.Fatal("ok without messages")
		}
		for _, m := range msgs {
			if m.Role == "" || m.Parts == nil {
				t.Fatalf("message without role or parts: %+v", m)
			}
		}
		raw, err := json.Marshal(msgs)
		if err != nil || !json.Valid(raw) {
			t.Fatalf("messages do not encode: %v", err)
		}
		var back []Message
		if err := json.Unmarshal(raw, &back); err != nil || len(back) != len(msgs) {
			t.Fatalf("messages do not read back: %v", err)
		}
	})
}

func BenchmarkNormalizeMessages(b *testing.B) {
	var msgs []map[string]any
	msgs = append(msgs, map[string]any{"role": "system", "content": "You are a helpful assistant. Use tools when needed."})
	for i := range 4 {
		msgs = append(msgs,
			map[string]any{"role": "user", "content": "What is the weather like in city number " + string(rune('A'+i)) + " right now?"},
			map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": "call_1", "type": "function",
				"function": map[string]any{"name": "get_weather", "arguments": `{"city":"Oslo"}`}}}})
	}
	msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": "call_1", "content": `{"temperature":7,"unit":"celsius"}`})
	raw, err := json.Marshal(msgs)
	require.NoError(b, err)
	content := string(raw)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := NormalizeMessages(content, InputSide); !ok {
			b.Fatal("not messages")
		}
	}
}
