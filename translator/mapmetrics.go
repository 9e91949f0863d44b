package translator

import (
	"fmt"
	"strconv"
)

// The metrics mapper: evaluations carried by the span.

// mapMetrics reads evaluations: semconv gen_ai.evaluation.result events
// and OpenInference flattened evaluations and annotations.
func (c *spanCtx) mapMetrics() {
	s := c.out
	for i := 0; i < c.events.Len(); i++ {
		ev := c.events.At(i)
		if ev.Name() != "gen_ai.evaluation.result" {
			continue
		}
		c.eventUsed[i] = true
		attrs := ev.Attributes()
		name, _ := attrs.Get("gen_ai.evaluation.name")
		score, ok := attrs.Get("gen_ai.evaluation.score.value")
		value, isNum := valueFloat(score)
		if !ok || !isNum || name.Str() == "" {
			continue
		}
		label, _ := attrs.Get("gen_ai.evaluation.score.label")
		explanation, _ := attrs.Get("gen_ai.evaluation.explanation")
		// An id carried through OTLP (a span that came from a store) wins;
		// otherwise the event's place and time name the evaluation: a span
		// is immutable once ended, so both are the same on every export.
		id := ""
		if v, ok := attrs.Get(AttrOpperMetricID); ok && v.Str() != "" {
			id = v.Str()
		} else {
			id = MetricID(s.ID, "event/"+strconv.Itoa(i)+"/"+strconv.FormatUint(uint64(ev.Timestamp()), 10)+"/"+name.Str())
		}
		s.Metrics = append(s.Metrics, Metric{ID: id, Dimension: name.Str(), Value: value, Comment: joinComment(label.Str(), explanation.Str())})
	}
	for _, src := range [...]struct {
		prefix attrPrefix
		key    string
	}{{pEvaluations, "evaluations/"}, {pAnnotations, "annotations/"}} {
		items, _ := rebuildFlattened(c.a, src.prefix)
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			name, _ := m["name"].(string)
			value, ok := anyFloat(m["score"])
			if name == "" || !ok {
				continue
			}
			label, _ := m["label"].(string)
			explanation, _ := m["explanation"].(string)
			id := MetricID(s.ID, src.key+strconv.Itoa(i)+"/"+name)
			s.Metrics = append(s.Metrics, Metric{ID: id, Dimension: name, Value: value, Comment: joinComment(label, explanation)})
		}
	}
}

func joinComment(label, explanation string) string {
	switch {
	case label != "" && explanation != "":
		return label + ": " + explanation
	case label != "":
		return label
	}
	return explanation
}

func anyFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case string:
		var f float64
		_, err := fmt.Sscan(x, &f)
		return f, err == nil
	}
	return 0, false
}
