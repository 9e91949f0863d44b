package playground

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/opperotel/bridge/translator"
)

// maxToolCalls bounds the tool calls of one answer.
const maxToolCalls = 128

// wireAnswer is a chat.completion or a chat.completion.chunk. Only what
// the playground uses is typed; fields that providers fill differently
// stay raw.
type wireAnswer struct {
	Model   string          `json:"model"`
	Choices []wireChoice    `json:"choices"`
	Usage   *wireUsage      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type wireChoice struct {
	Index        int          `json:"index"`
	Message      *wireMessage `json:"message"` // chat.completion
	Delta        *wireMessage `json:"delta"`   // chat.completion.chunk
	FinishReason *string      `json:"finish_reason"`
}

type wireMessage struct {
	Content          json.RawMessage `json:"content"` // a string, null, or text parts
	Refusal          json.RawMessage `json:"refusal"`
	ReasoningContent json.RawMessage `json:"reasoning_content"` // DeepSeek, vLLM
	Reasoning        json.RawMessage `json:"reasoning"`         // Ollama, OpenRouter
	ToolCalls        []wireToolCall  `json:"tool_calls"`
}

type wireToolCall struct {
	Index    *int   `json:"index"` // in a chunk: which call the fragment belongs to
	ID       string `json:"id"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"` // a JSON string (OpenAI) or an object (some local servers)
	} `json:"function"`
}

type wireUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// answerError says the provider's answer cannot be used: it is malformed,
// too large, or it is the provider's own error sent with status 200.
type answerError struct {
	msg          string
	providerSaid bool
}

func (e *answerError) Error() string { return e.msg }

func malformed(format string, args ...any) error {
	return &answerError{msg: fmt.Sprintf(format, args...)}
}

// callbackError carries what onDelta returned, to be given back as it is.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// assembler builds the answer from a completion or from chunks, emitting
// text and reasoning as they come and each tool call once complete: when
// the finish reason arrives, or when the stream ends without one.
type assembler struct {
	max       int // bytes of text, reasoning and arguments
	size      int
	model     string
	reasoning strings.Builder
	text      strings.Builder
	calls     []*callBuf
	byIndex   map[int]*callBuf
	finish    string
	usage     Usage
	sent      []translator.Part // tool calls emitted
	callsDone bool
	emit      func(Delta) error
}

type callBuf struct {
	id, name string
	args     strings.Builder
}

func newAssembler(maxBytes int, emit func(Delta) error) *assembler {
	if emit == nil {
		emit = func(Delta) error { return nil }
	}
	return &assembler{max: maxBytes, byIndex: map[int]*callBuf{}, emit: emit}
}

// add takes one completion or chunk; only choice 0 is read.
func (a *assembler) add(w *wireAnswer) error {
	if len(w.Error) > 0 && string(w.Error) != "null" {
		return &answerError{msg: errorMessage([]byte(`{"error":` + string(w.Error) + `}`)), providerSaid: true}
	}
	if w.Model != "" {
		a.model = w.Model
	}
	if u := w.Usage; u != nil {
		a.usage = Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
		if a.usage.TotalTokens == 0 {
			a.usage.TotalTokens = u.PromptTokens + u.CompletionTokens
		}
	}
	for _, c := range w.Choices {
		if c.Index != 0 {
			continue
		}
		m := c.Delta
		if m == nil {
			m = c.Message
		}
		if m != nil {
			if err := a.addMessage(m); err != nil {
				return err
			}
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			a.finish = *c.FinishReason
			if err := a.flushCalls(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *assembler) addMessage(m *wireMessage) error {
	for _, raw := range []json.RawMessage{m.ReasoningContent, m.Reasoning} {
		s, err := optString(raw, "reasoning")
		if err != nil {
			return err
		}
		if err := a.addText(&a.reasoning, s, func(s string) Delta { return Delta{Reasoning: s} }); err != nil {
			return err
		}
	}
	content, err := contentText(m.Content)
	if err != nil {
		return err
	}
	refusal, err := optString(m.Refusal, "refusal")
	if err != nil {
		return err
	}
	for _, s := range []string{content, refusal} {
		if err := a.addText(&a.text, s, func(s string) Delta { return Delta{Text: s} }); err != nil {
			return err
		}
	}
	var last *callBuf
	if n := len(a.calls); n > 0 {
		last = a.calls[n-1]
	}
	for _, tc := range m.ToolCalls {
		if a.callsDone {
			return malformed("a tool call fragment came after the finish reason")
		}
		cb, isNew := last, false
		switch {
		case tc.Index != nil:
			cb = a.byIndex[*tc.Index]
			if cb == nil {
				cb, isNew = &callBuf{}, true
				a.byIndex[*tc.Index] = cb
			}
		case cb == nil || (tc.ID != "" && cb.id != "" && tc.ID != cb.id):
			cb, isNew = &callBuf{}, true
		}
		if isNew {
			if len(a.calls) == maxToolCalls {
				return malformed("more than %d tool calls", maxToolCalls)
			}
			a.calls = append(a.calls, cb)
		}
		last = cb
		if cb.id == "" {
			cb.id = tc.ID
		}
		if cb.name == "" {
			cb.name = tc.Function.Name
		}
		args, err := argumentsText(tc.Function.Arguments)
		if err != nil {
			return err
		}
		if err := a.grow(len(args) + len(tc.ID) + len(tc.Function.Name)); err != nil {
			return err
		}
		cb.args.WriteString(args)
	}
	return nil
}

func (a *assembler) addText(b *strings.Builder, s string, delta func(string) Delta) error {
	if s == "" {
		return nil
	}
	if err := a.grow(len(s)); err != nil {
		return err
	}
	b.WriteString(s)
	return a.emitDelta(delta(s))
}

func (a *assembler) grow(n int) error {
	a.size += n
	if a.size > a.max {
		return malformed("the answer is larger than the %s limit", byteSize(a.max))
	}
	return nil
}

func (a *assembler) emitDelta(d Delta) error {
	if err := a.emit(d); err != nil {
		return &callbackError{err}
	}
	return nil
}

// flushCalls emits the tool calls, complete, once.
func (a *assembler) flushCalls() error {
	if a.callsDone {
		return nil
	}
	a.callsDone = true
	for i, cb := range a.calls {
		if cb.name == "" {
			return malformed("tool call %d has no name", i+1)
		}
		p := translator.Part{Type: translator.PartToolCall, ID: cb.id, Name: cb.name, Arguments: argumentsValue(cb.args.String())}
		a.sent = append(a.sent, p)
		if err := a.emitDelta(Delta{ToolCall: &p}); err != nil {
			return err
		}
	}
	return nil
}

func (a *assembler) result() (Result, error) {
	if err := a.flushCalls(); err != nil {
		return Result{}, err
	}
	m := translator.Message{Role: "assistant", Parts: []translator.Part{}, FinishReason: a.finish}
	if a.reasoning.Len() > 0 {
		m.Parts = append(m.Parts, translator.Part{Type: translator.PartReasoning, Content: a.reasoning.String()})
	}
	if a.text.Len() > 0 {
		m.Parts = append(m.Parts, translator.Part{Type: translator.PartText, Content: a.text.String()})
	}
	m.Parts = append(m.Parts, a.sent...)
	return Result{Message: m, Usage: a.usage, FinishReason: a.finish, Model: a.model}, nil
}

// parseCompletion reads a non-streamed answer.
func parseCompletion(body []byte, a *assembler) (Result, error) {
	var w wireAnswer
	if err := json.Unmarshal(body, &w); err != nil {
		return Result{}, malformed("not a chat completion: %v", jsonError(err))
	}
	if len(w.Error) > 0 && string(w.Error) != "null" {
		return Result{}, a.add(&w)
	}
	if len(w.Choices) == 0 {
		return Result{}, malformed("the answer has no choices")
	}
	sort.SliceStable(w.Choices, func(i, j int) bool { return w.Choices[i].Index < w.Choices[j].Index })
	c := w.Choices[0]
	if c.Message == nil {
		return Result{}, malformed("choice %d has no message", c.Index)
	}
	// A completion's calls carry no index: give them their order.
	for i := range c.Message.ToolCalls {
		c.Message.ToolCalls[i].Index = &i
	}
	c.Index = 0
	w.Choices = []wireChoice{c}
	if err := a.add(&w); err != nil {
		return Result{}, err
	}
	return a.result()
}

// readStream reads server-sent events of chat.completion.chunk data until
// "data: [DONE]". A line or an event longer than maxLine, a line that is
// not an SSE field, data that is not a chunk, and a stream that ends
// before [DONE] and before any finish reason are errors. onLine is called
// for every line read. Errors from r are returned as they are.
func readStream(r io.Reader, maxLine int, onLine func(), a *assembler) (Result, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(maxLine, 64<<10)), maxLine)
	var data bytes.Buffer
	event, hasData := "", false
	// dispatch handles one event; done is true at [DONE].
	dispatch := func() (done bool, err error) {
		defer func() { data.Reset(); event, hasData = "", false }()
		if !hasData {
			return false, nil
		}
		d := bytes.TrimSpace(data.Bytes())
		if string(d) == "[DONE]" {
			return true, nil
		}
		if event == "error" {
			return false, &answerError{msg: errorMessage(d), providerSaid: true}
		}
		var w wireAnswer
		if err := json.Unmarshal(d, &w); err != nil {
			return false, malformed("stream data is not a chat completion chunk: %v", jsonError(err))
		}
		return false, a.add(&w)
	}
	for sc.Scan() {
		if onLine != nil {
			onLine()
		}
		line := sc.Bytes()
		if len(line) == 0 {
			done, err := dispatch()
			if err != nil || done {
				if err == nil {
					return a.result()
				}
				return Result{}, err
			}
			continue
		}
		if line[0] == ':' { // a comment, e.g. OpenRouter's keep-alive
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > maxLine {
				return Result{}, malformed("a stream event is longer than the %s limit", byteSize(maxLine))
			}
			data.Write(value)
			hasData = true
		case "event":
			event = string(value)
		case "id", "retry":
		default:
			return Result{}, malformed("the stream is not server-sent events: %q", excerpt(string(line), 80))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Result{}, malformed("a stream line is longer than the %s limit", byteSize(maxLine))
		}
		return Result{}, err
	}
	// The body ended: an event without its blank line still counts.
	done, err := dispatch()
	if err != nil {
		return Result{}, err
	}
	if !done && a.finish == "" {
		return Result{}, malformed("the stream ended before the answer was complete (no finish reason, no [DONE])")
	}
	return a.result()
}

// optString reads a string or null.
func optString(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if field == "reasoning" { // some providers send an object: not ours to read
			return "", nil
		}
		return "", malformed("%s is not a string", field)
	}
	return s, nil
}

// contentText reads content: a string, null, or an array of text parts.
func contentText(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return "", nil
	}
	if t[0] != '[' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", malformed("content is neither a string nor a list of parts")
		}
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(t, &parts); err != nil {
		return "", malformed("content is neither a string nor a list of parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" || p.Type == "output_text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// argumentsText is a tool call's arguments (or a piece of them) as text.
func argumentsText(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return "", nil
	}
	if t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", malformed("tool call arguments are not a string")
		}
		return s, nil
	}
	if t[0] == '{' {
		return string(t), nil
	}
	return "", malformed("tool call arguments are neither a string nor an object")
}

// argumentsValue is the canonical form of arguments text: the JSON it
// holds when it is an object or array, else the text as a JSON string
// (the translator's rule).
func argumentsValue(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == '{' || t[0] == '[') {
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(t)) == nil {
			return buf.Bytes()
		}
	}
	b, _ := json.Marshal(s)
	return b
}

// jsonError shortens a decoding error to what helps.
func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return excerpt(err.Error(), 200)
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
