package playground

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opperotel/bridge/translator"
)

// FuzzAnswer feeds any bytes to both answer readers: they fail with an
// answerError or succeed with a well-formed assistant message whose parts
// agree with the deltas sent; they never panic and never exceed their caps.
func FuzzAnswer(f *testing.F) {
	chunk := func(delta string) string {
		return `data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}` + "\n\n"
	}
	f.Add([]byte(chunk(`{"role":"assistant","content":""}`) + chunk(`{"content":"Hello "}`) + chunk(`{"content":"world"}`) +
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}` + "\n\n" +
		`data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}` + "\n\ndata: [DONE]\n\n"))
	f.Add([]byte(chunk(`{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]}`) +
		chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}`) + chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"ty\":1}"}}]}`) +
		chunk(`{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"t","arguments":{"a":1}}}]}`) +
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\ndata: [DONE]\n\n"))
	f.Add([]byte(": keep-alive\nevent: message\nid: 1\nretry: 10\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"r\",\"content\":\"a\"}}]}\ndata: \n\ndata: [DONE]"))
	f.Add([]byte("event: error\ndata: {\"error\":{\"message\":\"x\"}}\n\n"))
	f.Add([]byte(`{"model":"m","choices":[{"index":0,"message":{"content":[{"type":"text","text":"a"}],"refusal":"r","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}`))
	f.Add([]byte(`{"error":{"message":"bad"}}`))
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":99999999999,\"id\":\"c\"}]}}]}\n\n"))
	f.Add([]byte("data: " + strings.Repeat("x", 2000) + "\n\n"))
	f.Add([]byte("garbage\n"))

	const maxAnswer, maxLine = 4096, 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, stream := range []bool{false, true} {
			var deltas []Delta
			a := newAssembler(maxAnswer, func(d Delta) error { deltas = append(deltas, d); return nil })
			var res Result
			var err error
			if stream {
				res, err = readStream(bytes.NewReader(data), maxLine, nil, a)
			} else {
				res, err = parseCompletion(data, a)
			}
			if err != nil {
				var ae *answerError
				if !errors.As(err, &ae) {
					t.Fatalf("stream=%v: error %T %v, want an answerError", stream, err, err)
				}
				continue
			}
			checkResult(t, res, deltas, maxAnswer)
		}
	})
}

func checkResult(t *testing.T, res Result, deltas []Delta, maxAnswer int) {
	t.Helper()
	m := res.Message
	if m.Role != "assistant" || m.Parts == nil || m.FinishReason != res.FinishReason {
		t.Fatalf("bad message %+v", m)
	}
	var text, reasoning strings.Builder
	var calls []translator.Part
	for _, d := range deltas {
		set := 0
		if d.Text != "" {
			set++
			text.WriteString(d.Text)
		}
		if d.Reasoning != "" {
			set++
			reasoning.WriteString(d.Reasoning)
		}
		if d.ToolCall != nil {
			set++
			calls = append(calls, *d.ToolCall)
		}
		if set != 1 {
			t.Fatalf("delta %+v sets %d fields", d, set)
		}
	}
	size := 0
	var gotCalls []translator.Part
	for _, p := range m.Parts {
		switch p.Type {
		case translator.PartText:
			if p.Content != text.String() || p.Content == "" {
				t.Fatalf("text part %q, deltas %q", p.Content, text.String())
			}
			size += len(p.Content)
		case translator.PartReasoning:
			if p.Content != reasoning.String() || p.Content == "" {
				t.Fatalf("reasoning part %q, deltas %q", p.Content, reasoning.String())
			}
			size += len(p.Content)
		case translator.PartToolCall:
			if p.Name == "" || !json.Valid(p.Arguments) {
				t.Fatalf("bad tool call %+v", p)
			}
			gotCalls = append(gotCalls, p)
		default:
			t.Fatalf("unexpected part %+v", p)
		}
	}
	if size > maxAnswer {
		t.Fatalf("answer of %d bytes over the %d cap", size, maxAnswer)
	}
	if len(gotCalls) != len(calls) || len(calls) > maxToolCalls {
		t.Fatalf("%d tool call parts, %d tool call deltas", len(gotCalls), len(calls))
	}
	for i := range calls {
		if calls[i].ID != gotCalls[i].ID || !bytes.Equal(calls[i].Arguments, gotCalls[i].Arguments) {
			t.Fatalf("delta %+v, part %+v", calls[i], gotCalls[i])
		}
	}
}
