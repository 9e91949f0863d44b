package translator

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The model mapper: the model and provider a span asked for and the one
// that answered, the function or prompt it ran, and the request settings.

// providerSuffixes are the API-kind suffixes the AI SDK appends to provider
// ids (`openai.chat`); the provider is what comes before.
var providerSuffixes = []string{".chat", ".completion", ".responses", ".embedding", ".image", ".transcription", ".speech", ".messages"}

func (c *spanCtx) mapModel(d typeDecision) {
	s := c.out
	response, _ := c.a.str(kLangfuseObservationModelName, kGenAiResponseModel, kAiResponseModel, kLlmResponseModelName, kLlmResponseModel)
	request, _ := c.a.str(kAiModelId, kGenAiRequestModel, kLlmRequestModelName, kLlmModelName, kEmbeddingModelName,
		kRerankerModelName, kLangsmithMetadataLsModelName, kModel)
	s.Model = response
	if s.Model == "" {
		s.Model = request
	} else if request != "" && request != response {
		s.RequestModel = request
	}
	if p, ok := c.a.str(kGenAiProviderName, kGenAiSystem, kLlmProvider, kLlmSystem, kAiModelProvider, kLangsmithMetadataLsProvider); ok {
		p = strings.ToLower(p)
		for _, suffix := range providerSuffixes {
			p = strings.TrimSuffix(p, suffix)
		}
		s.Provider = p
	}
	s.GenerationID, _ = c.a.str(kGenAiResponseId, kAiResponseId)

	if v, ok := c.a.get(kGenAiResponseFinishReasons); ok {
		c.putStrings("finish_reasons", v)
	} else if r, ok := c.a.str(kAiResponseFinishReason, kGenAiFinishReason, kLlmFinishReason, kGenAiResponseFinishReason); ok {
		b := append(c.scratch[:0], '[')
		b = appendJSONString(b, r)
		c.scratch = append(b, ']')
		c.setMeta("finish_reasons", c.arena.json(c.scratch))
	}
	c.modelParameters()
	// Tool definitions are content (descriptions written for the model):
	// under metadata retention they are consumed, not read.
	for _, k := range []attrKey{kGenAiToolDefinitions, kAiPromptTools} {
		if v, ok := c.a.get(k); ok && c.retention == RetentionFull {
			c.setMeta("tool_definitions", rawOrText(v))
			break
		}
	}
	if c.retention == RetentionFull {
		if tools, _ := rebuildFlattened(c.a, pLLMTools); len(tools) > 0 {
			c.setMeta("tool_definitions", tools)
		}
	} else {
		consumeFlattened(c.a, pLLMTools)
	}
	c.collectGroup(&agentGroup)
	c.collectGroup(&toolGroup)
	if d.typ == TypeFunction || d.typ == TypeAgent {
		s.Function, _ = c.a.str(kGenAiAgentName, kAiTelemetryFunctionId, kGenAiWorkflowName)
		if s.Function == "" {
			if kind := strings.ToLower(c.a.peekStr(kTraceloopSpanKind)); kind == "workflow" || kind == "task" || kind == "agent" {
				s.Function, _ = c.a.str(kTraceloopEntityName)
			}
		}
	}
	if v, ok := c.a.str(kOpperFunction); ok {
		s.Function = v
	}
	if s.Function == "" {
		if v, ok := c.a.str(kAiTelemetryFunctionId, kLangfuseObservationPromptName, kGenAiPromptName); ok {
			s.Function = v
		}
	}
}

// What modelParameters reads: objects of parameters, the tool choice, and
// keys under prefixes.
var (
	modelParameterObjects    = []attrKey{kLlmInvocationParameters, kModelConfig, kLangfuseObservationModelParameters}
	modelParameterPrefixes   = []attrPrefix{pGenAIRequest, pAISettings, pLLMInvocationParams}
	modelParameterKeys       = keysOfLists(modelParameterObjects, []attrKey{kAiPromptToolChoice})
	modelParameterPrefixBits = prefixBits(modelParameterPrefixes...)
)

// skipModelParameter leaves out of model parameters what is kept
// elsewhere: the model, the tool list, the messages.
func skipModelParameter(k string) bool { return k == "model" || k == "tools" || k == "messages" }

// modelParameters gathers request settings into meta.model_parameters:
// explicit Langfuse parameters, OpenInference invocation parameters (minus
// the model and tool list, kept elsewhere), then every gen_ai.request.* and
// ai.settings.* key.
func (c *spanCtx) modelParameters() {
	if !c.a.anyOf(&modelParameterKeys) && c.a.prefixes&modelParameterPrefixBits == 0 {
		return
	}
	o := c.obj
	o.reset()
	for _, k := range modelParameterObjects {
		if v, ok := c.a.get(k); ok {
			o.putObjectFields(v, skipModelParameter)
		}
	}
	if v, ok := c.a.get(kAiPromptToolChoice); ok {
		o.putValue("tool_choice", v)
	}
	for _, prefix := range modelParameterPrefixes {
		c.a.withPrefix(prefix, func(rest string, v pcommon.Value) {
			if rest == "model" || strings.HasPrefix(rest, "context.") {
				return
			}
			o.putValue(rest, v)
		})
	}
	c.putGroup("model_parameters")
}
