package translator

import (
	"strings"
)

// typeDecision is the outcome of the type precedence: the type, where it
// came from (kept in meta.otel.type_source for debugging and round trips),
// and flags that later steps need.
type typeDecision struct {
	typ    string
	source string
	// sourceValue is the value of the source attribute that decided, for
	// meta.otel.type_source ("source=value"); kept apart so that deciding
	// costs no string concatenation.
	sourceValue string
	// subtype refines a type whose source distinguishes more than Opper's
	// types do (rerank, prompt, event).
	subtype string
	// container marks wrapper spans whose usage repeats their children's:
	// AI SDK outer calls and agent steps.
	container bool
}

var langfuseTypes = map[string]string{
	"generation": TypeGeneration, "embedding": TypeEmbedding, "agent": TypeAgent, "tool": TypeTool,
	"retriever": TypeRetrieval, "chain": TypeFunction, "span": TypeFunction, "event": TypeFunction,
	"guardrail": TypeGuardrail, "evaluator": TypeEvaluator,
}

var openInferenceKinds = map[string]string{
	"LLM": TypeGeneration, "EMBEDDING": TypeEmbedding, "CHAIN": TypeFunction, "RETRIEVER": TypeRetrieval,
	"RERANKER": TypeRetrieval, "TOOL": TypeTool, "AGENT": TypeAgent, "GUARDRAIL": TypeGuardrail,
	"EVALUATOR": TypeEvaluator, "PROMPT": TypeFunction,
}

var genAIOperations = map[string]string{
	"chat": TypeGeneration, "text_completion": TypeGeneration, "generate_content": TypeGeneration,
	"completion": TypeGeneration, "generate": TypeGeneration, "llm_request": TypeGeneration,
	"embeddings": TypeEmbedding, "retrieval": TypeRetrieval, "vector_db_retrieve": TypeRetrieval,
	"execute_tool": TypeTool, "invoke_agent": TypeAgent, "create_agent": TypeAgent,
	"invoke_workflow": TypeFunction, "execute_task": TypeFunction, "agent_step": TypeFunction,
	"rerank": TypeRetrieval,
}

var langsmithKinds = map[string]string{
	"llm": TypeGeneration, "embedding": TypeEmbedding, "retriever": TypeRetrieval, "tool": TypeTool,
	"chain": TypeFunction, "prompt": TypeFunction, "parser": TypeFunction,
}

var aiSDKOperations = map[string]typeDecision{
	"ai.generateText.doGenerate":   {typ: TypeGeneration},
	"ai.streamText.doStream":       {typ: TypeGeneration},
	"ai.generateObject.doGenerate": {typ: TypeGeneration},
	"ai.streamObject.doStream":     {typ: TypeGeneration},
	"ai.embed.doEmbed":             {typ: TypeEmbedding},
	"ai.embedMany.doEmbed":         {typ: TypeEmbedding},
	"ai.toolCall":                  {typ: TypeTool},
	"ai.generateText":              {typ: TypeFunction, container: true},
	"ai.streamText":                {typ: TypeFunction, container: true},
	"ai.generateObject":            {typ: TypeFunction, container: true},
	"ai.streamObject":              {typ: TypeFunction, container: true},
	"ai.embed":                     {typ: TypeFunction, container: true},
	"ai.embedMany":                 {typ: TypeFunction, container: true},
	"ai.rerank":                    {typ: TypeFunction, container: true},
}

var traceloopKinds = map[string]string{
	"workflow": TypeFunction, "task": TypeFunction, "agent": TypeAgent, "tool": TypeTool,
}

var llmRequestTypes = map[string]string{
	"chat": TypeGeneration, "completion": TypeGeneration, "embedding": TypeEmbedding, "rerank": TypeRetrieval,
}

// modelEvidence are the attributes whose presence makes an otherwise
// unclassified span a generation. ai.model.id is deliberately absent: the
// outer AI SDK wrapper carries it and is not a generation.
var modelEvidence = []attrKey{
	kGenAiRequestModel, kGenAiResponseModel, kLlmModelName, kLangfuseObservationModelName, kModel,
}

// decideType applies the precedence of genai-mapping.md section a.2: the
// first source that yields a known value wins; an unknown value falls
// through to the next source.
func decideType(a *attrView, defaultType string) typeDecision {
	if v := a.peekStr(kOpperSpanType); v != "" {
		a.get(kOpperSpanType)
		return typeDecision{typ: v, source: AttrOpperSpanType}
	}
	if v := a.peekStr(kLangfuseObservationType); v != "" {
		if t, ok := langfuseTypes[strings.ToLower(v)]; ok {
			a.get(kLangfuseObservationType)
			d := typeDecision{typ: t, source: "langfuse.observation.type", sourceValue: v}
			if strings.EqualFold(v, "event") {
				d.subtype = "event"
			}
			return d
		}
	}
	if v := a.peekStr(kOpeninferenceSpanKind); v != "" {
		kind := strings.ToUpper(v)
		if t, ok := openInferenceKinds[kind]; ok {
			a.get(kOpeninferenceSpanKind)
			d := typeDecision{typ: t, source: "openinference.span.kind", sourceValue: v}
			switch kind {
			case "RERANKER":
				d.subtype = "rerank"
			case "PROMPT":
				d.subtype = "prompt"
			}
			return d
		}
	}
	if v := a.peekStr(kGenAiOperationName); v != "" {
		if t, ok := genAIOperations[v]; ok {
			a.get(kGenAiOperationName)
			d := typeDecision{typ: t, source: "gen_ai.operation.name", sourceValue: v}
			switch v {
			case "agent_step":
				d.container = true
			case "rerank":
				d.subtype = "rerank"
			}
			return d
		}
	}
	if v := a.peekStr(kLangsmithSpanKind); v != "" {
		if t, ok := langsmithKinds[strings.ToLower(v)]; ok {
			a.get(kLangsmithSpanKind)
			return typeDecision{typ: t, source: "langsmith.span.kind", sourceValue: v}
		}
	}
	if op := aiSDKOperation(a); op != "" {
		if d, ok := aiSDKOperations[op]; ok {
			a.get(kAiOperationId)
			a.get(kOperationName)
			d.source, d.sourceValue = "ai.operationId", op
			return d
		}
	}
	if v := a.peekStr(kTraceloopSpanKind); v != "" {
		if t, ok := traceloopKinds[strings.ToLower(v)]; ok {
			a.get(kTraceloopSpanKind)
			return typeDecision{typ: t, source: "traceloop.span.kind", sourceValue: v}
		}
	}
	if v := a.peekStr(kLlmRequestType); v != "" {
		if t, ok := llmRequestTypes[strings.ToLower(v)]; ok {
			a.get(kLlmRequestType)
			return typeDecision{typ: t, source: "llm.request.type", sourceValue: v}
		}
	}
	for _, k := range []attrKey{kGenAiToolName, kGenAiToolCallId, kAiToolCallName, kToolName} {
		if a.has(k) {
			return typeDecision{typ: TypeTool, source: keyNames[k]}
		}
	}
	for _, k := range modelEvidence {
		if a.peekStr(k) != "" {
			return typeDecision{typ: TypeGeneration, source: keyNames[k]}
		}
	}
	return typeDecision{typ: defaultType, source: "default"}
}

// aiSDKOperation returns the AI SDK legacy operation of a span:
// ai.operationId exactly, else operation.name up to the " <functionId>"
// suffix the SDK appends.
func aiSDKOperation(a *attrView) string {
	if v := a.peekStr(kAiOperationId); v != "" {
		return v
	}
	v := a.peekStr(kOperationName)
	if !strings.HasPrefix(v, "ai.") {
		return ""
	}
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v
}
