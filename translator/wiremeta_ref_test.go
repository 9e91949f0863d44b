package translator

import (
	"slices"

	"github.com/opperotel/bridge/opperapi"
)

// mergeWireMetaDecoded merges meta by decoding it whole: the plain
// implementation FuzzWireMeta checks the scanning mergeWireMeta against.
func (s *Span) mergeWireMetaDecoded(raw opperapi.Object) error {
	if len(raw) == 0 {
		return nil
	}
	m, err := raw.Map()
	if err != nil {
		return err
	}
	m = normalizeNumbers(m).(map[string]any)
	takeStr := func(k string, dst *string) {
		if v, ok := m[k].(string); ok {
			*dst = v
			delete(m, k)
		}
	}
	takeStr(MetaModel, &s.Model)
	takeStr(MetaRequestModel, &s.RequestModel)
	takeStr(MetaProvider, &s.Provider)
	takeStr(MetaGenerationID, &s.GenerationID)
	takeStr(MetaFunction, &s.Function)
	takeStr(MetaUserID, &s.UserID)
	takeStr(MetaSessionID, &s.SessionID)
	takeStr(MetaCostSource, &s.CostSource)
	if v, ok := m[MetaInstructions].(string); ok {
		s.Instructions = &v
		delete(m, MetaInstructions)
	}
	for key, aggregate := range map[string]bool{MetaUsage: false, MetaUsageAggregate: true} {
		if u, ok := usageFromMap(m[key]); ok {
			s.Usage, s.Aggregate = u, aggregate
			delete(m, key)
		}
	}
	if n, ok := m[MetaTotalTokens].(int64); ok {
		if s.Usage == nil {
			s.Usage = &Usage{Total: n}
		}
		delete(m, MetaTotalTokens)
	}
	if f, ok := anyNumber(m[MetaCost]); ok {
		s.Cost = &f
		delete(m, MetaCost)
	}
	if f, ok := anyNumber(m[MetaCostAggregate]); ok {
		s.Cost, s.Aggregate = &f, true
		delete(m, MetaCostAggregate)
	}
	if tm, ok := m[MetaTags].(map[string]any); ok {
		s.Tags = mergeTags(s.Tags, tm)
		delete(m, MetaTags)
	} else if tl, ok := m[MetaTags].([]any); ok {
		for _, t := range tl {
			if str, ok := t.(string); ok && !slices.Contains(s.Tags, str) {
				s.Tags = append(s.Tags, str)
			}
		}
		delete(m, MetaTags)
	}
	if b, ok := m[MetaInputJSON].(bool); ok {
		s.InputJSON = b
		delete(m, MetaInputJSON)
	}
	if b, ok := m[MetaOutputJSON].(bool); ok {
		s.OutputJSON = b
		delete(m, MetaOutputJSON)
	}
	if len(m) == 0 {
		return nil
	}
	for k, v := range m {
		s.Meta.Set(k, v)
	}
	return nil
}

func usageFromMap(v any) (*Usage, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	get := func(k string) int64 {
		n, _ := m[k].(int64)
		return n
	}
	total, hasTotal := m["total_tokens"].(int64)
	u := &Usage{Input: get("input_tokens"), Output: get("output_tokens"), CacheRead: get("cache_read_tokens"),
		CacheWrite: get("cache_write_tokens"), Reasoning: get("reasoning_tokens"), Total: total}
	if !hasTotal {
		if u.Input == 0 && u.Output == 0 {
			return nil, false
		}
		u.Total = u.Input + u.Output
	}
	return u, true
}

func anyNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
}
