package translator

import (
	"encoding/json"
	"math"
	"strings"
)

// usageFields says where one convention keeps each bucket. Every list is
// tried in order; the first number found wins.
type usageFields struct {
	input, output, cacheRead, cacheWrite, reasoning, total []attrKey
}

// keys returns every key of f.
func (f *usageFields) keys() keySet {
	var s keySet
	for _, keys := range [...][]attrKey{f.input, f.output, f.cacheRead, f.cacheWrite, f.reasoning, f.total} {
		s.union(keysOf(keys...))
	}
	return s
}

// usageKeySets are the keys of each of usageFamilies, in that order.
var usageKeySets = func() []keySet {
	out := make([]keySet, len(usageFamilies))
	for i := range usageFamilies {
		out[i] = usageFamilies[i].keys()
	}
	return out
}()

var aggregatedUsageKeys = aggregatedUsage.keys()

// usageFamilies are read in this order and merged field by field, so an AI
// SDK span that has gen_ai.usage.input_tokens and ai.usage.cachedInputTokens
// gets both. All of them count input inclusive of cache tokens and output
// inclusive of reasoning tokens (the semconv meaning).
var usageFamilies = []usageFields{
	{ // OTel GenAI semconv, old and new names, and OpenLLMetry.
		input:      []attrKey{kGenAiUsageInputTokens, kGenAiUsagePromptTokens},
		output:     []attrKey{kGenAiUsageOutputTokens, kGenAiUsageCompletionTokens},
		cacheRead:  []attrKey{kGenAiUsageCacheReadInputTokens, kGenAiUsageCacheReadInputTokens2, kGenAiUsageDetailsCacheReadTokens},
		cacheWrite: []attrKey{kGenAiUsageCacheCreationInputTokens, kGenAiUsageCacheCreationInputTokens2, kGenAiUsageDetailsCacheWriteTokens},
		reasoning:  []attrKey{kGenAiUsageReasoningOutputTokens, kGenAiUsageReasoningTokens, kGenAiUsageDetailsReasoningTokens},
		total:      []attrKey{kGenAiUsageTotalTokens},
	},
	{ // OpenInference.
		input:      []attrKey{kLlmTokenCountPrompt},
		output:     []attrKey{kLlmTokenCountCompletion},
		cacheRead:  []attrKey{kLlmTokenCountPromptDetailsCacheRead},
		cacheWrite: []attrKey{kLlmTokenCountPromptDetailsCacheWrite},
		reasoning:  []attrKey{kLlmTokenCountCompletionDetailsReasoning},
		total:      []attrKey{kLlmTokenCountTotal},
	},
	{ // Vercel AI SDK legacy, v4 to v6 and after vercel/ai#13129.
		input:      []attrKey{kAiUsageInputTokens, kAiUsagePromptTokens},
		output:     []attrKey{kAiUsageOutputTokens, kAiUsageCompletionTokens},
		cacheRead:  []attrKey{kAiUsageInputTokenDetailsCacheReadTokens, kAiUsageCachedInputTokens},
		cacheWrite: []attrKey{kAiUsageInputTokenDetailsCacheWriteTokens},
		reasoning:  []attrKey{kAiUsageOutputTokenDetailsReasoningTokens, kAiUsageReasoningTokens},
		total:      []attrKey{kAiUsageTotalTokens, kAiUsageTokens},
	},
	{ // Older OpenLLMetry.
		input:     []attrKey{kLlmUsagePromptTokens},
		output:    []attrKey{kLlmUsageCompletionTokens},
		reasoning: []attrKey{kLlmUsageReasoningTokens},
		total:     []attrKey{kLlmUsageTotalTokens},
	},
}

// aggregatedUsage is Pydantic AI's name for an agent run's summed usage: it
// is never a leaf's own usage.
var aggregatedUsage = usageFields{
	input:      []attrKey{kGenAiAggregatedUsageInputTokens},
	output:     []attrKey{kGenAiAggregatedUsageOutputTokens},
	cacheRead:  []attrKey{kGenAiAggregatedUsageCacheReadInputTokens},
	cacheWrite: []attrKey{kGenAiAggregatedUsageCacheCreationInputTokens},
	reasoning:  []attrKey{kGenAiAggregatedUsageReasoningOutputTokens},
	total:      []attrKey{kGenAiAggregatedUsageTotalTokens},
}

type usageReading struct {
	vals  [6]int64
	found [6]bool
}

// read takes the buckets of one family that earlier families did not
// supply; the keys it does not need are consumed all the same, as they
// repeat a count already taken.
func (r *usageReading) read(a *attrView, f *usageFields) {
	for i, keys := range [6][]attrKey{f.input, f.output, f.cacheRead, f.cacheWrite, f.reasoning, f.total} {
		if len(keys) == 0 {
			continue
		}
		if n, ok := a.int(keys...); ok && n >= 0 && !r.found[i] {
			r.vals[i], r.found[i] = n, true
		}
	}
}

// usage normalises to inclusive buckets. Anthropic's raw input count
// excludes cache tokens and some instrumentations forward it raw: an input
// smaller than its own cache buckets can only be exclusive, so the cache is
// added (genai-mapping.md c.4).
func (r *usageReading) usage() (Usage, bool) {
	// Detail buckets alone (AI SDK 7 step spans carry only
	// ai.usage.*Details) are not a usage reading.
	if !r.found[0] && !r.found[1] && !r.found[5] {
		return Usage{}, false
	}
	u := Usage{Input: r.vals[0], Output: r.vals[1], CacheRead: r.vals[2], CacheWrite: r.vals[3], Reasoning: r.vals[4]}
	if u.Input < u.CacheRead+u.CacheWrite {
		u.Input += u.CacheRead + u.CacheWrite
	}
	if u.Output < u.Reasoning {
		u.Output += u.Reasoning
	}
	if r.found[5] {
		u.Total = r.vals[5]
	} else {
		u.Total = u.Input + u.Output
	}
	return u, true
}

// mapUsage reads the span's usage. The second result is true when the
// usage is an aggregate by name (gen_ai.aggregated_usage.*).
func mapUsage(a *attrView) (u Usage, found, aggregate bool) {
	if u, ok := langfuseUsage(a); ok {
		return u, true, false
	}
	var r usageReading
	for i := range usageFamilies {
		if a.anyOf(&usageKeySets[i]) {
			r.read(a, &usageFamilies[i])
		}
	}
	if u, ok := r.usage(); ok {
		return u, true, false
	}
	if !a.anyOf(&aggregatedUsageKeys) {
		return Usage{}, false, false
	}
	var agg usageReading
	agg.read(a, &aggregatedUsage)
	if u, ok := agg.usage(); ok {
		return u, true, true
	}
	return Usage{}, false, false
}

// langfuseUsage converts Langfuse's usage_details, whose buckets are
// mutually exclusive ({"input":70,"input_cached_tokens":30,...}), to
// inclusive totals: every input_* bucket is part of the input, every
// output_* bucket part of the output.
func langfuseUsage(a *attrView) (Usage, bool) {
	if !a.has(kLangfuseObservationUsageDetails) {
		return Usage{}, false
	}
	raw, ok := a.str(kLangfuseObservationUsageDetails)
	if !ok {
		return Usage{}, false
	}
	var u Usage
	var total int64
	hasTotal := false
	if objectFields(raw, skipSpace(raw, 0), func(k, v string) bool {
		n := bucketCount(v)
		switch {
		case k == "total":
			total, hasTotal = n, true
		case k == "input", k == "prompt_tokens", k == "input_tokens":
			u.Input += n
		case k == "output", k == "completion_tokens", k == "output_tokens":
			u.Output += n
		case strings.HasPrefix(k, "input_") || strings.HasPrefix(k, "cache_"):
			u.Input += n
			if strings.Contains(k, "cache_read") || strings.Contains(k, "cached") {
				u.CacheRead += n
			} else if strings.Contains(k, "cache_creation") || strings.Contains(k, "cache_write") {
				u.CacheWrite += n
			}
		case strings.HasPrefix(k, "output_"):
			u.Output += n
			if strings.Contains(k, "reasoning") {
				u.Reasoning += n
			}
		}
		return true
	}) < 0 {
		return Usage{}, false
	}
	if hasTotal {
		u.Total = total
	} else {
		u.Total = u.Input + u.Output
	}
	return u, true
}

// bucketCount reads one usage_details bucket: a non-negative count, a
// float count truncated, anything else zero.
func bucketCount(raw string) int64 {
	n := json.Number(raw)
	if i, err := n.Int64(); err == nil {
		return max(i, 0)
	}
	if f, err := n.Float64(); err == nil && f >= 0 {
		return int64(f)
	}
	return 0
}

func (c *spanCtx) mapUsageAndCost(d typeDecision, prices *PriceTable, costSource string) {
	s := c.out
	u, found, aggregateByName := mapUsage(c.a)
	if found {
		if (d.typ == TypeEmbedding || s.Type == TypeEmbedding || c.a.has(kAiUsageTokens)) && u.Input == 0 && u.Output == 0 {
			// Embedding calls report one count, and it is all input.
			u.Input = u.Total
		}
		s.Usage = c.arena.usage(u)
		// Only generation and embedding spans consume tokens themselves;
		// agents, steps and wrappers repeat their children's usage.
		s.Aggregate = aggregateByName || d.container || (s.Type != TypeGeneration && s.Type != TypeEmbedding && d.typ != TypeGeneration && d.typ != TypeEmbedding)
	}
	if cost, ok := providedCost(c.a); ok && cost >= 0 {
		s.Cost, s.CostSource = c.arena.float(cost), "provided"
		return
	}
	if !found || s.Model == "" || s.Aggregate {
		return
	}
	p, ok := c.prices.lookup(prices, s.Model)
	if !ok && s.RequestModel != "" {
		p, ok = c.prices.lookup(prices, s.RequestModel)
	}
	if !ok {
		return
	}
	// Rounded to a picodollar so float noise does not reach golden files
	// and UIs as 0.000025200000000000003.
	cost := math.Round(p.Cost(s.Usage)*1e12) / 1e12
	s.Cost, s.CostSource = c.arena.float(cost), costSource
}
