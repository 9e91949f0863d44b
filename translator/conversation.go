package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Conversation is a generation's conversation, ready to replay.
type Conversation struct {
	SpanID string `json:"span_id"`
	Model  string `json:"model,omitempty"`
	// Parameters are the request settings the span recorded (meta
	// model_parameters: temperature, max_tokens, top_p...), {} when none.
	Parameters map[string]any `json:"parameters"`
	// Tools are the tool definitions the span recorded, each as an OpenAI
	// {"type":"function","function":{name,description,parameters}} where
	// the source says that much, as recorded otherwise; [] when none.
	Tools []json.RawMessage `json:"tools"`
	// Messages are the instructions, the input and the output as semconv
	// messages, tool results in tool messages paired with their calls.
	Messages []Message `json:"messages"`
}

var (
	// ErrNoGeneration is BuildConversation's error for a trace without a
	// generation, and for a span that is not one of its generations.
	ErrNoGeneration = errors.New("no generation")
	// ErrNoContent is BuildConversation's error for a generation that has
	// neither input, output nor instructions: stored under metadata
	// retention, or its content never arrived.
	ErrNoContent = errors.New("no content to replay")
)

// BuildConversation returns the conversation of generation spanID among
// spans (one trace's), or of the trace's last generation by start time
// when spanID is "". Messages are the instructions as a system message
// (unless the input has one), then the input, then the output; content
// that is not message-shaped is one user (input) or assistant (output)
// text turn. Every tool result is in a tool message of its own, and a call
// or result without an id gets the id of its counterpart (calls without one
// get call_<n>), so each result names the call it answers.
func BuildConversation(spans []Span, spanID string) (Conversation, error) {
	g, err := pickGeneration(spans, spanID)
	if err != nil {
		return Conversation{}, err
	}
	if !hasText(g.Input) && !hasText(g.Output) && !hasText(g.Instructions) {
		return Conversation{}, fmt.Errorf("%w: generation %s has no input, output or instructions", ErrNoContent, g.ID)
	}
	c := Conversation{
		SpanID:     g.ID,
		Model:      g.Model,
		Parameters: modelParametersOf(g.Meta),
		Tools:      toolDefinitionsOf(g),
		Messages:   conversationMessages(g),
	}
	if c.Model == "" {
		c.Model = g.RequestModel
	}
	return c, nil
}

// pickGeneration finds spanID, or the last generation to start; of two
// starting together, the one later in spans.
func pickGeneration(spans []Span, spanID string) (*Span, error) {
	if spanID != "" {
		id := CanonicalID(spanID)
		for i := range spans {
			if spans[i].ID != id {
				continue
			}
			if spans[i].Type != TypeGeneration {
				return nil, fmt.Errorf("%w: span %s is not a generation (type %q)", ErrNoGeneration, id, spans[i].Type)
			}
			return &spans[i], nil
		}
		return nil, fmt.Errorf("%w: span %s is not in the trace", ErrNoGeneration, id)
	}
	var last *Span
	for i := range spans {
		if spans[i].Type == TypeGeneration && (last == nil || !spans[i].StartTime.Before(last.StartTime)) {
			last = &spans[i]
		}
	}
	if last == nil {
		return nil, fmt.Errorf("%w: the trace has no generation", ErrNoGeneration)
	}
	return last, nil
}

func hasText(s *string) bool { return s != nil && strings.TrimSpace(*s) != "" }

// conversationMessages lays out a generation's turns: instructions, input,
// output, with tool results paired to their calls.
func conversationMessages(g *Span) []Message {
	in := contentMessages(g.Input, InputSide)
	msgs := make([]Message, 0, len(in)+2)
	if hasText(g.Instructions) && !slices.ContainsFunc(in, func(m Message) bool { return m.Role == "system" }) {
		msgs = append(msgs, textMessage("system", *g.Instructions))
	}
	msgs = append(msgs, in...)
	msgs = append(msgs, contentMessages(g.Output, OutputSide)...)
	return pairToolCalls(toolMessages(msgs))
}

// contentMessages is content as messages; content that is not
// message-shaped is one text turn of the side's role, as it is.
func contentMessages(c *string, side MessageSide) []Message {
	if !hasText(c) {
		return nil
	}
	if msgs, ok := NormalizeMessages(*c, side); ok {
		return msgs
	}
	return []Message{textMessage(sideRole(side), *c)}
}

// toolMessages puts every tool result in a tool message of its own:
// Anthropic and Gemini send results in user turns, and one message may
// answer several calls. The parts around them keep their message's role,
// in order.
func toolMessages(msgs []Message) []Message {
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		n := 0
		for _, p := range m.Parts {
			if p.Type == PartToolCallResponse {
				n++
			}
		}
		if n == 0 || (m.Role == "tool" && len(m.Parts) == 1) {
			out = append(out, m)
			continue
		}
		rest := Message{Role: m.Role, Name: m.Name, FinishReason: m.FinishReason, Parts: []Part{}}
		flush := func() {
			if len(rest.Parts) > 0 {
				out = append(out, rest)
				rest = Message{Role: m.Role, Name: m.Name, Parts: []Part{}}
			}
		}
		for _, p := range m.Parts {
			if p.Type != PartToolCallResponse {
				rest.Parts = append(rest.Parts, p)
				continue
			}
			flush()
			tm := Message{Role: "tool", Parts: []Part{p}}
			if m.Role == "tool" {
				tm.Name = m.Name
			}
			out = append(out, tm)
		}
		flush()
	}
	return out
}

// pairToolCalls gives each call an id (call_<n> where the source has
// none) and each result without an id the id of the earliest unanswered
// call of its name (of any name when it has none), and the call's name
// where the result has none.
func pairToolCalls(msgs []Message) []Message {
	type call struct {
		id, name string
		answered bool
	}
	var calls []call
	used := map[string]bool{}
	for _, m := range msgs {
		for _, p := range m.Parts {
			if p.Type == PartToolCall && p.ID != "" {
				used[p.ID] = true
			}
		}
	}
	next := 0
	newID := func() string {
		for {
			next++
			if id := "call_" + strconv.Itoa(next); !used[id] {
				used[id] = true
				return id
			}
		}
	}
	for i := range msgs {
		for j := range msgs[i].Parts {
			p := &msgs[i].Parts[j]
			switch p.Type {
			case PartToolCall:
				if p.ID == "" {
					p.ID = newID()
				}
				calls = append(calls, call{id: p.ID, name: p.Name})
			case PartToolCallResponse:
				k := slices.IndexFunc(calls, func(c call) bool {
					if p.ID != "" {
						return c.id == p.ID
					}
					return !c.answered && (p.Name == "" || c.name == p.Name)
				})
				if k < 0 {
					continue
				}
				calls[k].answered = true
				p.ID = calls[k].id
				if p.Name == "" {
					p.Name = calls[k].name
				}
			}
		}
	}
	return msgs
}

// modelParametersOf reads meta.model_parameters: JSON text or a value.
// Unset parameters (null, "") are left out, and a JSON object or array
// sent as text (the AI SDK's tool choice) is that value.
func modelParametersOf(m Meta) map[string]any {
	out := map[string]any{}
	obj, ok := metaJSON(m, "model_parameters").(map[string]any)
	if !ok {
		return out
	}
	for k, v := range obj {
		switch x := v.(type) {
		case nil:
			continue
		case string:
			if x == "" {
				continue
			}
			if d, ok := parseJSON(x); ok {
				if _, composite := d.([]any); composite {
					v = d
				} else if _, composite := d.(map[string]any); composite {
					v = d
				}
			}
		}
		out[k] = v
	}
	return out
}

// metaJSON returns the meta value of key as decoded JSON (numbers as
// json.Number); a string holding a JSON object or array is that value.
func metaJSON(m Meta, key string) any {
	v, ok := m.Get(key)
	if !ok || v == nil {
		return nil
	}
	if s, ok := v.(string); ok {
		d, ok := parseJSON(s)
		if !ok {
			return nil
		}
		return d
	}
	d, _ := parseJSON(string(appendJSON(nil, v)))
	return d
}

// toolDefinitionsOf returns the tools of meta.tool_definitions, or, when
// there are none, of a request the input records whole ({messages,
// tools}: Langfuse).
func toolDefinitionsOf(g *Span) []json.RawMessage {
	defs := metaJSON(g.Meta, "tool_definitions")
	if defs == nil && g.Input != nil && strings.Contains(*g.Input, `"tools"`) {
		if req, ok := parseJSON(*g.Input); ok {
			if o, ok := req.(map[string]any); ok {
				defs = o["tools"]
			}
		}
	}
	out := []json.RawMessage{}
	var list []any
	switch d := defs.(type) {
	case []any:
		list = d
	case map[string]any:
		list = []any{d}
	}
	for _, t := range list {
		if s, ok := t.(string); ok {
			// The AI SDK v4 records each tool as JSON text.
			if d, ok := parseJSON(s); ok {
				t = d
			}
		}
		out = append(out, openAITools(t, 0)...)
	}
	return out
}

// openAITool is a tool definition in OpenAI's chat completions shape.
type openAITool struct {
	Type     string         `json:"type"`
	Function openAIFunction `json:"function"`
}

type openAIFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// openAITools reads one recorded tool: OpenAI's {type: function,
// function}, the flat {type: function, name, parameters} of the semconv
// and the Responses API, the AI SDK's {name, inputSchema}, Anthropic's
// {name, input_schema}, OpenInference's {tool: {json_schema}} and
// Gemini's {functionDeclarations}. Anything else (a provider's built-in
// tool) is kept as recorded.
func openAITools(t any, depth int) []json.RawMessage {
	o, ok := t.(map[string]any)
	if !ok || depth > 2 {
		return []json.RawMessage{json.RawMessage(appendJSON(nil, t))}
	}
	typ, _ := o["type"].(string)
	if inner, ok := o["tool"].(map[string]any); ok && len(o) == 1 {
		schema := inner["json_schema"]
		if s, ok := schema.(string); ok {
			schema, _ = parseJSON(s)
		}
		if schema != nil {
			return openAITools(schema, depth+1)
		}
	}
	for _, k := range []string{"functionDeclarations", "function_declarations"} {
		if decls, ok := o[k].([]any); ok {
			var out []json.RawMessage
			for _, d := range decls {
				out = append(out, openAITools(d, depth+1)...)
			}
			return out
		}
	}
	fn := o
	if f, ok := o["function"].(map[string]any); ok && (typ == "" || typ == "function") {
		fn = f
	} else if typ != "" && typ != "function" {
		return []json.RawMessage{json.RawMessage(appendJSON(nil, o))}
	}
	name, _ := fn["name"].(string)
	if name == "" {
		return []json.RawMessage{json.RawMessage(appendJSON(nil, o))}
	}
	def := openAITool{Type: "function", Function: openAIFunction{Name: name}}
	def.Function.Description, _ = fn["description"].(string)
	for _, k := range []string{"parameters", "inputSchema", "input_schema", "parametersJsonSchema"} {
		if p, ok := fn[k]; ok && p != nil {
			if s, ok := p.(string); ok {
				if d, ok := parseJSON(s); ok {
					p = d
				}
			}
			def.Function.Parameters = appendJSON(nil, p)
			break
		}
	}
	if strict, ok := fn["strict"].(bool); ok {
		def.Function.Strict = &strict
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(def) != nil {
		return nil
	}
	return []json.RawMessage{bytes.TrimRight(buf.Bytes(), "\n")}
}
