package translator

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A contentSource yields a span's input or output text from one convention,
// and says where content lives for it: the attribute keys, key prefixes
// and span events it reads. Those are content whatever the retention, so
// they are what retention drops and what never reaches meta.otel
// (contentKeys, contentPrefixes, contentEvents are made from the sources):
// a source cannot read content that retention does not know about.
type contentSource struct {
	read     func(c *spanCtx) (string, bool)
	keys     []attrKey
	prefixes []attrPrefix
	events   []string
}

// attrText reads the first non-empty attribute among keys as text: a string
// passes through unchanged, a structured value is encoded once.
func attrText(keys ...attrKey) contentSource {
	return contentSource{read: func(c *spanCtx) (string, bool) { return c.a.str(keys...) }, keys: keys}
}

// flattenedMessages rebuilds flattened message attributes under prefix.
func flattenedMessages(prefix attrPrefix) contentSource {
	return contentSource{prefixes: []attrPrefix{prefix}, read: func(c *spanCtx) (string, bool) {
		text, dropped := flattenedJSON(c.a, prefix, c.flat)
		if dropped > 0 {
			c.otel.droppedFlattened = int64(dropped)
		}
		return text, text != ""
	}}
}

// numberedMessages is flattenedMessages for a prefix whose keys are content
// only under a numeric index (OpenLLMetry's gen_ai.prompt.0.content; but
// gen_ai.prompt.name is a prompt's name): mapContent consumes those keys
// itself (consumeFlattened), so the prefix is not registered as content.
func numberedMessages(prefix attrPrefix) contentSource {
	src := flattenedMessages(prefix)
	src.prefixes = nil
	return src
}

// eventAttr reads an attribute of the first span event called name.
func eventAttr(name, key string) contentSource {
	return contentSource{events: []string{name}, read: func(c *spanCtx) (string, bool) {
		for i := 0; i < c.events.Len(); i++ {
			ev := c.events.At(i)
			if ev.Name() != name {
				continue
			}
			if v, ok := ev.Attributes().Get(key); ok {
				if s := valueString(v); s != "" {
					c.eventUsed[i] = true
					return s, true
				}
			}
		}
		return "", false
	}}
}

var legacyMessageEvents = map[string]string{
	"gen_ai.system.message":    "system",
	"gen_ai.user.message":      "user",
	"gen_ai.assistant.message": "assistant",
	"gen_ai.tool.message":      "tool",
}

// legacyInputEvents rebuilds the input messages of the semconv <=1.36 event
// layout: one event per message, the role from the event name.
var legacyInputEvents = contentSource{read: readLegacyInputEvents,
	events: []string{"gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"}}

func readLegacyInputEvents(c *spanCtx) (string, bool) {
	var msgs []any
	for i := 0; i < c.events.Len(); i++ {
		ev := c.events.At(i)
		role, ok := legacyMessageEvents[ev.Name()]
		if !ok {
			continue
		}
		c.eventUsed[i] = true
		msg := kvlistToAny(ev.Attributes(), "gen_ai.system", "gen_ai.provider.name")
		if _, has := msg["role"]; !has {
			msg["role"] = role
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return "", false
	}
	return string(appendJSON(nil, msgs)), true
}

// legacyChoiceEvents rebuilds the output of the <=1.36 layout from
// gen_ai.choice events; a single choice is unwrapped to an object.
var legacyChoiceEvents = contentSource{read: readLegacyChoiceEvents, events: []string{"gen_ai.choice"}}

func readLegacyChoiceEvents(c *spanCtx) (string, bool) {
	var choices []any
	for i := 0; i < c.events.Len(); i++ {
		ev := c.events.At(i)
		if ev.Name() != "gen_ai.choice" {
			continue
		}
		c.eventUsed[i] = true
		choices = append(choices, kvlistToAny(ev.Attributes(), "gen_ai.system", "gen_ai.provider.name"))
	}
	switch len(choices) {
	case 0:
		return "", false
	case 1:
		return string(appendJSON(nil, choices[0])), true
	}
	return string(appendJSON(nil, choices)), true
}

// aiSDKOutput is the AI SDK legacy output: the text and tool calls of a
// response combined into one assistant message when both exist, else the
// first of the single fields.
var aiSDKOutput = contentSource{read: readAISDKOutput, keys: []attrKey{kAiResponseText, kAiResultText, kAiToolCallResult,
	kAiResponseObject, kAiResultObject, kAiResponseToolCalls, kAiResultToolCalls}}

func readAISDKOutput(c *spanCtx) (string, bool) {
	if c.a.has(kAiResponseText) && c.a.has(kAiResponseToolCalls) {
		text, _ := c.a.str(kAiResponseText)
		v, _ := c.a.get(kAiResponseToolCalls)
		calls, ok := valueJSON(v)
		if !ok {
			calls = valueString(v)
		}
		msg := map[string]any{"role": "assistant", "content": text, "tool_calls": calls}
		return string(appendJSON(nil, msg)), true
	}
	return c.a.str(kAiResponseText, kAiResultText, kAiToolCallResult, kAiResponseObject,
		kAiResultObject, kAiResponseToolCalls, kAiResultToolCalls)
}

// aiSDKEmbedInput is the value (or values) an AI SDK embed call embedded.
var aiSDKEmbedInput = contentSource{read: readAISDKEmbedInput, keys: []attrKey{kAiValues, kAiValue}}

func readAISDKEmbedInput(c *spanCtx) (string, bool) {
	if s, ok := jsonElements(c, kAiValues); ok {
		return s, true
	}
	return c.a.str(kAiValue)
}

// aiSDKEmbedOutput is the vector (or vectors) an AI SDK embed call returned.
var aiSDKEmbedOutput = contentSource{read: readAISDKEmbedOutput, keys: []attrKey{kAiEmbeddings, kAiEmbedding}}

func readAISDKEmbedOutput(c *spanCtx) (string, bool) {
	if s, ok := jsonElements(c, kAiEmbeddings); ok {
		return s, true
	}
	return c.a.str(kAiEmbedding)
}

// jsonElements reads an array attribute whose elements are each a JSON
// document (the AI SDK encodes every value and vector on its own) as one
// JSON array. Valid elements are spliced in as they are, so nothing is
// encoded twice and nothing is decoded.
func jsonElements(c *spanCtx, key attrKey) (string, bool) {
	v, ok := c.a.get(key)
	if !ok {
		return "", false
	}
	if v.Type() != pcommon.ValueTypeSlice {
		s := valueString(v)
		return s, s != ""
	}
	vals := v.Slice()
	if vals.Len() == 0 {
		return "", false
	}
	b := make([]byte, 0, 64*vals.Len())
	b = append(b, '[')
	for i := 0; i < vals.Len(); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		e := vals.At(i)
		if e.Type() == pcommon.ValueTypeStr && json.Valid([]byte(e.Str())) {
			b = append(b, strings.TrimSpace(e.Str())...)
		} else {
			b = appendValue(b, e, 0)
		}
	}
	return string(append(b, ']')), true
}

// flattenedField rebuilds flattened elements under prefix and keeps one
// field of each (OpenInference's embedding.embeddings.{i}.embedding.text
// and .vector live side by side).
func flattenedField(prefix attrPrefix, field string) contentSource {
	return contentSource{prefixes: []attrPrefix{prefix}, read: func(c *spanCtx) (string, bool) {
		text := flattenedFieldJSON(c.a, prefix, field, c.flat)
		return text, text != ""
	}}
}

var (
	semconvInput       = attrText(kGenAiInputMessages)
	semconvOutput      = attrText(kGenAiOutputMessages)
	opDetailsInput     = eventAttr("gen_ai.client.inference.operation.details", "gen_ai.input.messages")
	opDetailsOutput    = eventAttr("gen_ai.client.inference.operation.details", "gen_ai.output.messages")
	veryOldPrompt      = eventAttr("gen_ai.content.prompt", "gen_ai.prompt")
	veryOldCompletion  = eventAttr("gen_ai.content.completion", "gen_ai.completion")
	oiInputMessages    = flattenedMessages(pLLMInputMessages)
	oiOutputMessages   = flattenedMessages(pLLMOutputMessages)
	oiPrompts          = flattenedMessages(pLLMPrompts)
	oiChoices          = flattenedMessages(pLLMChoices)
	oiEmbeddingTexts   = flattenedField(pEmbeddingEmbeddings, "text")
	oiEmbeddingVectors = flattenedField(pEmbeddingEmbeddings, "vector")
	llmetryPrompt      = numberedMessages(pGenAIPrompt)
	llmetryCompletion  = numberedMessages(pGenAICompletion)
	aiPromptMessages   = attrText(kAiPromptMessages)
	aiPrompt           = attrText(kAiPrompt)
	inputValue         = attrText(kInputValue)
	outputValue        = attrText(kOutputValue)
	langfuseInput      = attrText(kLangfuseObservationInput, kLangfuseTraceInput)
	langfuseOutput     = attrText(kLangfuseObservationOutput, kLangfuseTraceOutput)
	traceloopInput     = attrText(kTraceloopEntityInput)
	traceloopOutput    = attrText(kTraceloopEntityOutput)
	toolArguments      = attrText(kGenAiToolCallArguments)
	toolResult         = attrText(kGenAiToolCallResult)
	aiToolArgs         = attrText(kAiToolCallArgs)
	aiToolResult       = attrText(kAiToolCallResult)
	pydanticToolArgs   = attrText(kToolArguments)
	pydanticToolResult = attrText(kToolResponse)
	pydanticMessages   = attrText(kPydanticAiAllMessages)
	pydanticFinal      = attrText(kFinalResult)
	plainInput         = attrText(kInput, kMlflowSpanInputs)
	plainOutput        = attrText(kOutput, kMlflowSpanOutputs)
	retrievalQuery     = attrText(kGenAiRetrievalQueryText, kRerankerQuery)
	semconvDocuments   = attrText(kGenAiRetrievalDocuments)
	oiDocuments        = flattenedMessages(pRetrievalDocuments)
	rerankerDocuments  = flattenedMessages(pRerankerOutputDocs)
)

// Input and output are chosen independently, per type, from ordered
// sources (genai-mapping.md b.3): taking them as a pair from one convention
// is what leaves outputs null elsewhere.
var inputSources = map[string][]contentSource{
	TypeGeneration: {semconvInput, opDetailsInput, oiInputMessages, llmetryPrompt, aiPromptMessages, legacyInputEvents,
		veryOldPrompt, oiPrompts, inputValue, langfuseInput, traceloopInput, aiPrompt},
	TypeEmbedding: {aiSDKEmbedInput, oiEmbeddingTexts, semconvInput, inputValue, langfuseInput, traceloopInput},
	TypeTool:      {toolArguments, aiToolArgs, inputValue, traceloopInput, pydanticToolArgs, langfuseInput},
	TypeAgent:     {semconvInput, pydanticMessages, inputValue, traceloopInput, langfuseInput, opDetailsInput, aiPrompt},
	TypeRetrieval: {retrievalQuery, inputValue, langfuseInput, traceloopInput},
}

var outputSources = map[string][]contentSource{
	TypeGeneration: {semconvOutput, opDetailsOutput, oiOutputMessages, llmetryCompletion, aiSDKOutput, legacyChoiceEvents,
		veryOldCompletion, oiChoices, outputValue, langfuseOutput, traceloopOutput},
	TypeEmbedding: {aiSDKEmbedOutput, oiEmbeddingVectors, outputValue, langfuseOutput},
	TypeTool:      {toolResult, aiToolResult, outputValue, traceloopOutput, pydanticToolResult, langfuseOutput},
	TypeAgent:     {semconvOutput, pydanticFinal, outputValue, traceloopOutput, langfuseOutput, opDetailsOutput, aiSDKOutput},
	TypeRetrieval: {semconvDocuments, oiDocuments, rerankerDocuments, outputValue, langfuseOutput},
}

var defaultInputSources = []contentSource{langfuseInput, inputValue, traceloopInput, plainInput, aiPrompt, aiSDKEmbedInput, semconvInput}
var defaultOutputSources = []contentSource{langfuseOutput, outputValue, traceloopOutput, plainOutput, aiSDKOutput, aiSDKEmbedOutput, semconvOutput}

// instructionContent is where the system prompt lives beside the input
// (instructions): semconv system instructions, on the span or in its
// operation-details event, and the system-message event.
var instructionContent = contentSource{keys: []attrKey{kGenAiSystemInstructions},
	events: []string{"gen_ai.client.inference.operation.details", "gen_ai.system.message"}}

// otherContent is content that no source takes as input or output but that
// is dropped with it: descriptions of the content (mime types), inputs
// kept elsewhere (OpenInference's reranker input documents) and the keys
// of conventions whose content is read elsewhere or not at all (Pydantic
// AI's events, OpenLLMetry's whole prompt and completion).
var otherContent = contentSource{
	keys: []attrKey{key("input.mime_type"), key("output.mime_type"), key("prompt"), key("all_messages_events"),
		key("events"), key("gen_ai.prompt"), key("gen_ai.completion")},
	prefixes: []attrPrefix{pRerankerInputDocuments},
	events:   []string{"gen_ai.content.prompt", "gen_ai.content.completion"},
}

// contentKeys, contentPrefixes and contentEvents are everything the content
// sources read: attributes that hold content (the ones not chosen as input
// or output are consumed anyway, so that content never reaches meta.otel,
// where retention could not see it, and is not kept twice), key prefixes
// under which any key holds content, and span events that carry it.
var contentKeys, contentPrefixes, contentEvents = contentPlaces(
	slices.Concat(slices.Concat(slices.Collect(maps.Values(inputSources))...),
		slices.Concat(slices.Collect(maps.Values(outputSources))...),
		defaultInputSources, defaultOutputSources, []contentSource{instructionContent, otherContent}))

func contentPlaces(sources []contentSource) (map[string]bool, []attrPrefix, map[string]bool) {
	keys, events := map[string]bool{}, map[string]bool{}
	var prefixes []attrPrefix
	for _, src := range sources {
		for _, k := range src.keys {
			keys[keyNames[k]] = true
		}
		for _, p := range src.prefixes {
			if !slices.Contains(prefixes, p) {
				prefixes = append(prefixes, p)
			}
		}
		for _, e := range src.events {
			events[e] = true
		}
	}
	return keys, prefixes, events
}

func (c *spanCtx) mapContent(typ string) {
	ins, ok := inputSources[typ]
	if !ok {
		ins = defaultInputSources
	}
	outs, ok := outputSources[typ]
	if !ok {
		outs = defaultOutputSources
	}
	// Under metadata retention content is never kept, so it is not
	// looked for either; its keys are still consumed below.
	if c.retention == RetentionFull {
		c.out.Input = firstContent(c, ins)
		c.out.Output = firstContent(c, outs)
		if s, ok := c.instructions(); ok {
			instructions := s
			c.out.Instructions = &instructions
		}
	}
	for i := range c.a.attrs {
		if at := &c.a.attrs[i]; at.content {
			at.used = true
		}
	}
	for i := 0; i < c.events.Len(); i++ {
		if contentEvents[c.events.At(i).Name()] {
			c.eventUsed[i] = true
		}
	}
	// Flattened OpenLLMetry prompt keys are content too, but only under a
	// numeric index: gen_ai.prompt.name is a prompt's name, not content.
	consumeFlattened(c.a, pGenAIPrompt)
	consumeFlattened(c.a, pGenAICompletion)
}

// firstContent returns the text of the first source that has some.
func firstContent(c *spanCtx, sources []contentSource) *string {
	for _, src := range sources {
		if s, ok := src.read(c); ok {
			text := s
			return &text
		}
	}
	return nil
}

// instructions finds the system prompt (genai-mapping.md b.4): semconv
// system instructions, else the first system or developer message of the
// input, else the AI SDK prompt's system field, else the system event.
func (c *spanCtx) instructions() (string, bool) {
	if v, ok := c.a.get(kGenAiSystemInstructions); ok {
		if s, ok := c.partsText(v); ok {
			return s, true
		}
	}
	for i := 0; i < c.events.Len(); i++ {
		ev := c.events.At(i)
		if ev.Name() != "gen_ai.client.inference.operation.details" {
			continue
		}
		if v, ok := ev.Attributes().Get("gen_ai.system_instructions"); ok {
			if s, ok := c.partsText(v); ok {
				return s, true
			}
		}
	}
	if c.out.Input != nil {
		if s, ok := c.systemMessage(*c.out.Input); ok {
			return s, true
		}
	}
	if v := c.a.peekStr(kAiPrompt); v != "" {
		// {"system": "...", "prompt"|"messages": ...}: the system field only.
		var system string
		if i := skipSpace(v, 0); i < len(v) && v[i] == '{' && json.Valid([]byte(v)) {
			objectFields(v, i, func(k, val string) bool {
				if key, _ := unquoteKey(k); key == "system" {
					// The last of repeated keys wins, as with encoding/json.
					system, _ = unquoteJSON(val)
				}
				return true
			})
		}
		if system != "" {
			return system, true
		}
	}
	for i := 0; i < c.events.Len(); i++ {
		ev := c.events.At(i)
		if ev.Name() != "gen_ai.system.message" {
			continue
		}
		if v, ok := ev.Attributes().Get("content"); ok {
			if s := valueString(v); s != "" {
				return s, true
			}
		}
	}
	return "", false
}

// partsText joins the text parts of a semconv parts array; a plain string
// that is not JSON is the instruction itself.
func (c *spanCtx) partsText(v pcommon.Value) (string, bool) {
	raw := strings.TrimSpace(valueString(v))
	if raw == "" {
		return "", false
	}
	if raw[0] != '[' && raw[0] != '{' && raw[0] != '"' {
		return raw, true
	}
	text, ok := rawText(raw)
	if !ok {
		if raw[0] != '"' {
			c.otel.unparsed = true
		}
		return raw, true
	}
	return text, text != ""
}

// maxInstructionMessages bounds how far into a conversation instructions
// are looked for: a system prompt comes first, and decoding a whole long
// history to find it would cost more than the rest of the span.
const maxInstructionMessages = 4

// systemMessage returns the text of the first system or developer message
// among the first messages of an input that is a JSON message array, or a
// request body with a "messages" array, in any of the usual shapes. It
// scans only the messages it inspects (see jsonscan.go).
func (c *spanCtx) systemMessage(input string) (string, bool) {
	t := input
	i := skipSpace(t, 0)
	if i >= len(t) || (t[i] != '[' && t[i] != '{') || !strings.Contains(t, "system") && !strings.Contains(t, "developer") {
		return "", false
	}
	if t[i] == '{' {
		// {"messages":[...]} request bodies (OpenInference, Langfuse).
		var messages string
		if objectFields(t, i, func(k, v string) bool {
			if k == "messages" {
				messages = v
				return false
			}
			return true
		}) < 0 {
			c.otel.unparsed = true
			return "", false
		}
		t, i = messages, skipSpace(messages, 0)
		if i >= len(t) || t[i] != '[' {
			return "", false
		}
	}
	i = skipSpace(t, i+1)
	for n := 0; n < maxInstructionMessages && i < len(t) && t[i] == '{'; n++ {
		var role, content, parts string
		end := objectFields(t, i, func(k, v string) bool {
			switch k {
			case "role":
				role = v
			case "content":
				content = v
			case "parts":
				parts = v
			}
			return true
		})
		if end < 0 {
			c.otel.unparsed = true
			return "", false
		}
		if role == `"system"` || role == `"developer"` {
			for _, raw := range []string{parts, content} {
				if text, _ := rawText(raw); text != "" {
					return text, true
				}
			}
		}
		i = skipSpace(t, end)
		if i < len(t) && t[i] == ',' {
			i = skipSpace(t, i+1)
		}
	}
	return "", false
}

// textPart is a content part: semconv keeps the text in "content",
// OpenAI and the AI SDK in "text".
// partText returns the text of one element of a content list, as
// encoding/json would read it into {type, content, text}: a string is its
// own text; an object's content, else its text, when its type is text (or
// absent); anything else, or a field of the wrong kind, has none.
func partText(p string) (string, bool) {
	if p[0] == '"' {
		return unquoteJSON(p)
	}
	var typ, content, text string
	ok := true
	// A null leaves the field as it was, as encoding/json does.
	set := func(dst *string, v string) {
		if v == "null" {
			return
		}
		t, valid := unquoteJSON(v)
		ok = ok && valid
		*dst = t
	}
	if objectFields(p, 0, func(k, v string) bool {
		key, _ := unquoteKey(k)
		switch {
		case strings.EqualFold(key, "type"):
			set(&typ, v)
		case strings.EqualFold(key, "content"):
			set(&content, v)
		case strings.EqualFold(key, "text"):
			set(&text, v)
		}
		return ok
	}) < 0 || !ok {
		return "", false
	}
	if typ != "" && typ != "text" && typ != "input_text" {
		return "", false
	}
	if content == "" {
		content = text
	}
	return content, true
}

// rawText extracts the text of a content value without decoding more than
// it needs: a JSON string, or a list of parts (or strings) whose text parts
// are joined with newlines. ok is false when raw is not valid JSON.
func rawText(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if len(raw) == 0 {
		return "", true
	}
	switch raw[0] {
	case '"':
		return unquoteJSON(raw)
	case '[':
		if !json.Valid([]byte(raw)) {
			return "", false
		}
		var b strings.Builder
		arrayElements(raw, 0, func(p string) bool {
			text, ok := partText(p)
			if !ok || text == "" {
				return true
			}
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(text)
			return true
		})
		return b.String(), true
	}
	return "", json.Valid([]byte(raw))
}
