package translator

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
)

// MessageSide says whether content is a span's input or its output: a plain
// string becomes a user turn on the input side, an assistant turn on the
// output side.
type MessageSide int

const (
	InputSide MessageSide = iota
	OutputSide
)

// Message is a chat message in the OTel GenAI semantic conventions' shape
// (gen_ai.input.messages / gen_ai.output.messages).
type Message struct {
	Role         string `json:"role"`           // system, user, assistant, tool (lower case; "developer" -> system, "model" -> assistant, "human" -> user, "ai" -> assistant)
	Parts        []Part `json:"parts"`          // never nil in output (use empty slice)
	Name         string `json:"name,omitempty"` // participant / tool name where the source has one
	FinishReason string `json:"finish_reason,omitempty"`
}

// Part kinds, as the semantic conventions name them.
const (
	PartText             = "text"
	PartToolCall         = "tool_call"
	PartToolCallResponse = "tool_call_response"
	PartReasoning        = "reasoning"
	PartURI              = "uri"
	PartBlob             = "blob"
)

// Part is one piece of a message. A part of a kind not listed above keeps
// its type and its whole JSON in Raw.
type Part struct {
	Type      string          `json:"type"`
	Content   string          `json:"content,omitempty"`   // text, reasoning; blob: base64 data as given
	ID        string          `json:"id,omitempty"`        // tool_call and tool_call_response id
	Name      string          `json:"name,omitempty"`      // tool_call (and tool_call_response when the source names the tool)
	Arguments json.RawMessage `json:"arguments,omitempty"` // tool_call: a JSON value; arguments given as a JSON-encoded string holding JSON are decoded to that JSON value, otherwise kept as a JSON string
	Response  json.RawMessage `json:"response,omitempty"`  // tool_call_response: a JSON value (same string-decoding rule)
	URI       string          `json:"uri,omitempty"`
	MimeType  string          `json:"mime_type,omitempty"`
	Modality  string          `json:"modality,omitempty"` // image, audio, video
	Raw       json.RawMessage `json:"raw,omitempty"`      // an unknown part, whole
}

// NormalizeMessages turns a span's stored input or output into canonical
// messages, whichever convention wrote it: OpenAI chat messages and
// choices, semconv parts (and Gemini's untyped ones), the Vercel AI SDK's
// content arrays, prompts and tool calls, Anthropic content blocks,
// Langfuse's {messages} wrapper, and the OpenInference and OpenLLMetry
// messages the translator has already unflattened. ok is false when the
// content is not message-shaped (a tool's JSON arguments, an embedding
// vector, a function's kwargs): callers show it as it is.
func NormalizeMessages(content string, side MessageSide) (msgs []Message, ok bool) {
	trimmed := strings.TrimSpace(content)
	if trimmed == "" {
		return nil, false
	}
	// Text that is not JSON is one turn; JSON null, numbers and booleans
	// are values, not turns. The decoder scans as it decodes, and a token
	// after the value means the text only starts like JSON, so one pass
	// tells both apart.
	var v any
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return []Message{textMessage(sideRole(side), content)}, true
	}
	if _, err := dec.Token(); err != io.EOF {
		return []Message{textMessage(sideRole(side), content)}, true
	}
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "" {
			return nil, false
		}
		return []Message{textMessage(sideRole(side), x)}, true
	case []any:
		return messageList(x, side)
	case map[string]any:
		// A lone object with a role is a message only when it carries
		// content of some kind: {"role": "admin", "user": 7} is kwargs.
		if _, ok := x["role"]; ok && !hasAny(x, "content", "parts", "tool_calls", "function_call", "refusal") {
			return nil, false
		}
		return messageObject(x, side)
	}
	return nil, false
}

func hasAny(o map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := o[k]; ok {
			return true
		}
	}
	return false
}

func sideRole(side MessageSide) string {
	if side == OutputSide {
		return "assistant"
	}
	return "user"
}

func textMessage(role, text string) Message {
	return Message{Role: role, Parts: []Part{{Type: PartText, Content: text}}}
}

// messageList reads an array: of messages, of choices, of AI SDK v4 tool
// calls, or of semconv system-instruction parts.
func messageList(items []any, side MessageSide) ([]Message, bool) {
	if len(items) == 0 {
		return nil, false
	}
	objs := make([]map[string]any, len(items))
	for i, it := range items {
		o, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		objs[i] = o
	}
	// AI SDK v4's ai.response.toolCalls: one assistant turn of calls.
	if allHave(objs, "toolCallId") && !anyHas(objs, "role") {
		m := Message{Role: "assistant", Parts: []Part{}}
		for _, o := range objs {
			m.Parts = append(m.Parts, aiSDKToolCall(o))
		}
		return []Message{m}, true
	}
	// Semconv system instructions: parts without a message around them.
	// On the output side such a list is what the model said (a bare
	// content-block list). Only known kinds count: a list of typed objects
	// of kinds we do not know (retrieved documents, say) is not a turn.
	if !anyHas(objs, "role") && allHave(objs, "type") && !anyHas(objs, "message") {
		role := "system"
		if side == OutputSide {
			role = "assistant"
		}
		m := Message{Role: role, Parts: []Part{}}
		for _, o := range objs {
			p, ok := typedPart(o)
			if !ok || p.Raw != nil {
				return nil, false
			}
			m.Parts = append(m.Parts, p)
		}
		return []Message{m}, true
	}
	out := make([]Message, 0, len(objs))
	for _, o := range objs {
		ms, ok := messageObject(o, side)
		if !ok {
			return nil, false
		}
		out = append(out, ms...)
	}
	return out, true
}

func allHave(objs []map[string]any, key string) bool {
	for _, o := range objs {
		if _, ok := o[key]; !ok {
			return false
		}
	}
	return true
}

func anyHas(objs []map[string]any, key string) bool {
	for _, o := range objs {
		if _, ok := o[key]; ok {
			return true
		}
	}
	return false
}

// messageObject reads one object: a message, a choice, a whole response
// ({choices}, Anthropic's {type: message}), or a {messages} wrapper.
func messageObject(o map[string]any, side MessageSide) ([]Message, bool) {
	if _, ok := o["role"]; ok {
		m, ok := message(o)
		if !ok {
			return nil, false
		}
		return []Message{m}, true
	}
	inner, ok := o["message"].(map[string]any)
	if !ok {
		inner, ok = o["delta"].(map[string]any) // a streamed choice
	}
	if ok {
		// An OpenAI choice, or OpenInference's {message: {...}} element:
		// both are what a model answered, whichever side holds them.
		if _, has := inner["role"]; !has {
			inner["role"] = "assistant"
		}
		m, ok := message(inner)
		if !ok {
			return nil, false
		}
		if fr, ok := o["finish_reason"].(string); ok && m.FinishReason == "" {
			m.FinishReason = fr
		}
		return []Message{m}, true
	}
	if choices, ok := o["choices"].([]any); ok {
		return messageList(choices, OutputSide)
	}
	if msgs, ok := o["messages"].([]any); ok {
		out, ok := messageList(msgs, side)
		if !ok {
			return nil, false
		}
		// The AI SDK's ai.prompt and Anthropic's request put the system
		// prompt beside them, Anthropic's sometimes as text blocks.
		switch sys := o["system"].(type) {
		case string:
			if sys != "" {
				out = append([]Message{textMessage("system", sys)}, out...)
			}
		case []any:
			if sm, ok := messageList(sys, InputSide); ok && len(sm) == 1 && sm[0].Role == "system" {
				out = append(sm, out...)
			}
		}
		return out, true
	}
	if in, ok := o["input"].([]any); ok {
		// Langfuse's and the Responses API's {input: [...messages]}.
		if out, ok := messageList(in, side); ok {
			return out, true
		}
	}
	// The AI SDK's ai.prompt: {system?, prompt}.
	if prompt, ok := o["prompt"]; ok && len(o) <= 2 {
		var out []Message
		sys, hasSys := o["system"]
		if len(o) == 2 && !hasSys {
			return nil, false
		}
		switch s := sys.(type) {
		case nil:
		case string:
			if s != "" {
				out = append(out, textMessage("system", s))
			}
		default:
			return nil, false
		}
		switch p := prompt.(type) {
		case string:
			out = append(out, textMessage("user", p))
		case []any:
			ms, ok := messageList(p, side)
			if !ok {
				return nil, false
			}
			out = append(out, ms...)
		default:
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// message reads {role, content | parts, tool_calls, tool_call_id, name,
// finish_reason}: OpenAI, semconv, the AI SDK and Anthropic alike.
func message(o map[string]any) (Message, bool) {
	role, ok := o["role"].(string)
	if !ok || role == "" {
		return Message{}, false
	}
	m := Message{Role: canonicalRole(role), Parts: []Part{}}
	m.Name, _ = o["name"].(string)
	for _, k := range []string{"finish_reason", "stop_reason"} {
		if fr, ok := o[k].(string); ok {
			m.FinishReason = fr
		}
	}
	if parts, ok := o["parts"].([]any); ok {
		for _, p := range parts {
			po, ok := p.(map[string]any)
			if !ok {
				if s, ok := p.(string); ok {
					m.Parts = append(m.Parts, Part{Type: PartText, Content: s})
					continue
				}
				return Message{}, false
			}
			part, ok := typedPart(po)
			if !ok {
				return Message{}, false
			}
			m.Parts = append(m.Parts, part)
		}
	}
	toolCallID, _ := o["tool_call_id"].(string)
	if toolCallID == "" && m.Role == "tool" {
		// The semconv gen_ai.tool.message event names the call "id".
		toolCallID, _ = o["id"].(string)
	}
	// OpenAI's tool (and legacy function) messages name the tool in "name".
	toolResponse := func(response any) {
		m.Parts = append(m.Parts, Part{Type: PartToolCallResponse, ID: toolCallID, Name: m.Name, Response: jsonValueOf(response)})
		m.Role = "tool"
	}
	switch c := o["content"].(type) {
	case nil:
	case string:
		if toolCallID != "" || m.Role == "tool" {
			toolResponse(c)
		} else if c != "" {
			m.Parts = append(m.Parts, Part{Type: PartText, Content: c})
		}
	case []any:
		// OpenAI lets a tool message's content be text parts; they are the
		// response, not a turn of text. The AI SDK's tool messages hold
		// tool-result parts that carry their own ids instead.
		if toolCallID != "" || m.Role == "tool" {
			if text, ok := textOnly(c); ok {
				toolResponse(text)
				break
			}
		}
		for _, p := range c {
			switch po := p.(type) {
			case string:
				m.Parts = append(m.Parts, Part{Type: PartText, Content: po})
			case map[string]any:
				part, ok := typedPart(po)
				if !ok {
					return Message{}, false
				}
				if part.Type == PartToolCallResponse && part.ID == "" {
					part.ID = toolCallID
				}
				m.Parts = append(m.Parts, part)
			default:
				return Message{}, false
			}
		}
	default:
		if toolCallID != "" || m.Role == "tool" {
			toolResponse(c)
		} else {
			m.Parts = append(m.Parts, Part{Type: PartText, Content: compactJSON(c)})
		}
	}
	if calls, ok := o["tool_calls"].([]any); ok {
		for _, c := range calls {
			co, ok := c.(map[string]any)
			if !ok {
				return Message{}, false
			}
			m.Parts = append(m.Parts, openAIToolCall(co))
		}
	}
	// OpenAI's legacy single function_call.
	if fc, ok := o["function_call"].(map[string]any); ok {
		name, _ := fc["name"].(string)
		m.Parts = append(m.Parts, Part{Type: PartToolCall, Name: name, Arguments: jsonValueOf(fc["arguments"])})
	}
	if refusal, ok := o["refusal"].(string); ok && refusal != "" {
		m.Parts = append(m.Parts, Part{Type: PartText, Content: refusal})
	}
	return m, true
}

func canonicalRole(role string) string {
	switch r := strings.ToLower(role); r {
	case "developer":
		return "system"
	case "model", "ai", "bot":
		return "assistant"
	case "human":
		return "user"
	case "function", "tool", "ipython":
		return "tool"
	default:
		return r
	}
}

// textOnly joins a content array made only of text parts (OpenAI's
// {type: text, text}, or plain strings).
func textOnly(items []any) (string, bool) {
	var texts []string
	for _, it := range items {
		switch x := it.(type) {
		case string:
			texts = append(texts, x)
		case map[string]any:
			if x["type"] != "text" {
				return "", false
			}
			t, ok := x["text"].(string)
			if !ok {
				return "", false
			}
			texts = append(texts, t)
		default:
			return "", false
		}
	}
	return strings.Join(texts, "\n"), len(texts) > 0
}

// openAIToolCall reads {id, type: function, function: {name, arguments}},
// with or without the type (OpenInference leaves it out).
func openAIToolCall(o map[string]any) Part {
	p := Part{Type: PartToolCall}
	p.ID, _ = o["id"].(string)
	if fn, ok := o["function"].(map[string]any); ok {
		p.Name, _ = fn["name"].(string)
		p.Arguments = jsonValueOf(fn["arguments"])
		return p
	}
	p.Name, _ = o["name"].(string)
	p.Arguments = jsonValueOf(o["arguments"])
	return p
}

func aiSDKToolCall(o map[string]any) Part {
	p := Part{Type: PartToolCall}
	p.ID, _ = o["toolCallId"].(string)
	p.Name, _ = o["toolName"].(string)
	if args, ok := o["args"]; ok {
		p.Arguments = jsonValueOf(args)
	} else {
		p.Arguments = jsonValueOf(o["input"])
	}
	return p
}

// typedPart reads one content part of any convention. A part without a
// type is Gemini's ({text}, {functionCall}, {functionResponse}).
func typedPart(o map[string]any) (Part, bool) {
	typ, _ := o["type"].(string)
	str := func(k string) string { s, _ := o[k].(string); return s }
	switch typ {
	case "text", "input_text", "output_text":
		switch t := o["content"].(type) {
		case string:
			return Part{Type: PartText, Content: t}, true
		case nil:
		default:
			return Part{Type: PartText, Content: compactJSON(t)}, true
		}
		return Part{Type: PartText, Content: str("text")}, true
	case "refusal":
		return Part{Type: PartText, Content: str("refusal")}, true
	case "tool_call":
		return Part{Type: PartToolCall, ID: str("id"), Name: str("name"), Arguments: jsonValueOf(o["arguments"])}, true
	case "tool_call_response":
		return Part{Type: PartToolCallResponse, ID: str("id"), Name: str("name"), Response: jsonValueOf(o["response"])}, true
	case "reasoning":
		if t, ok := o["content"].(string); ok {
			return Part{Type: PartReasoning, Content: t}, true
		}
		return Part{Type: PartReasoning, Content: str("text")}, true
	case "thinking": // Anthropic
		return Part{Type: PartReasoning, Content: str("thinking")}, true
	case "tool-call": // AI SDK
		return aiSDKToolCall(o), true
	case "tool-result": // AI SDK: v5+ wraps the output as {type, value}
		out, ok := o["output"]
		if !ok {
			out = o["result"]
		}
		if w, ok := out.(map[string]any); ok && len(w) == 2 {
			if v, has := w["value"]; has {
				if _, typed := w["type"].(string); typed {
					out = v
				}
			}
		}
		return Part{Type: PartToolCallResponse, ID: str("toolCallId"), Name: str("toolName"), Response: jsonValueOf(out)}, true
	case "tool_use": // Anthropic
		return Part{Type: PartToolCall, ID: str("id"), Name: str("name"), Arguments: jsonValueOf(o["input"])}, true
	case "tool_result": // Anthropic
		return Part{Type: PartToolCallResponse, ID: str("tool_use_id"), Response: jsonValueOf(anthropicResult(o["content"]))}, true
	case "uri":
		return Part{Type: PartURI, URI: str("uri"), MimeType: str("mime_type"), Modality: str("modality")}, true
	case "blob":
		return Part{Type: PartBlob, Content: str("content"), MimeType: str("mime_type"), Modality: str("modality")}, true
	case "input_audio": // OpenAI: {input_audio: {data, format}}
		if a, ok := o["input_audio"].(map[string]any); ok {
			data, _ := a["data"].(string)
			mime := ""
			if f, _ := a["format"].(string); f != "" {
				mime = "audio/" + f
			}
			return Part{Type: PartBlob, Content: data, MimeType: mime, Modality: "audio"}, true
		}
	case "image_url":
		url := str("image_url")
		if iu, ok := o["image_url"].(map[string]any); ok {
			url, _ = iu["url"].(string)
		}
		return mediaPart(url, "", "image"), true
	case "image", "file":
		mime := str("mimeType")
		if mime == "" {
			mime = str("mediaType")
		}
		modality := "image"
		if typ == "file" {
			modality = ""
		}
		for _, k := range []string{"image", "data", "url"} {
			if s, ok := o[k].(string); ok {
				return mediaPart(s, mime, modality), true
			}
		}
		if f, ok := o["file"].(map[string]any); ok { // OpenAI: {file: {file_data, filename}}
			if data, ok := f["file_data"].(string); ok {
				return mediaPart(data, mime, modality), true
			}
		}
		if src, ok := o["source"].(map[string]any); ok { // Anthropic
			mt, _ := src["media_type"].(string)
			if u, ok := src["url"].(string); ok {
				return Part{Type: PartURI, URI: u, MimeType: mt, Modality: modality}, true
			}
			data, _ := src["data"].(string)
			return Part{Type: PartBlob, Content: data, MimeType: mt, Modality: modality}, true
		}
	case "":
		if t, ok := o["text"].(string); ok {
			return Part{Type: PartText, Content: t}, true
		}
		if fc, ok := o["functionCall"].(map[string]any); ok {
			name, _ := fc["name"].(string)
			return Part{Type: PartToolCall, Name: name, Arguments: jsonValueOf(fc["args"])}, true
		}
		if fr, ok := o["functionResponse"].(map[string]any); ok {
			name, _ := fr["name"].(string)
			return Part{Type: PartToolCallResponse, Name: name, Response: jsonValueOf(fr["response"])}, true
		}
		return Part{}, false
	}
	return Part{Type: typ, Raw: json.RawMessage(compactJSON(o))}, true
}

// mediaPart is a link, or inline data when the value is a data: URL or
// bare base64.
func mediaPart(s, mime, modality string) Part {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return Part{Type: PartURI, URI: s, MimeType: mime, Modality: modality}
	}
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		if head, data, ok := strings.Cut(rest, ","); ok {
			if mime == "" {
				mime, _, _ = strings.Cut(head, ";")
			}
			s = data
		}
	}
	return Part{Type: PartBlob, Content: s, MimeType: mime, Modality: modality}
}

// anthropicResult is a tool_result's content: a string, or text blocks
// joined.
func anthropicResult(c any) any {
	blocks, ok := c.([]any)
	if !ok {
		return c
	}
	var texts []string
	for _, b := range blocks {
		bo, ok := b.(map[string]any)
		if !ok {
			return c
		}
		t, ok := bo["text"].(string)
		if !ok {
			return c
		}
		texts = append(texts, t)
	}
	return strings.Join(texts, "\n")
}

// jsonValueOf encodes a decoded value as JSON; a string that holds JSON
// (tool arguments are usually sent that way) becomes that JSON value.
func jsonValueOf(v any) json.RawMessage {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		t := strings.TrimSpace(x)
		if t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
			var buf bytes.Buffer
			if json.Compact(&buf, []byte(t)) == nil {
				return buf.Bytes()
			}
		}
	}
	return json.RawMessage(compactJSON(v))
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}
