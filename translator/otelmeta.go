package translator

import (
	"encoding/json"
	"slices"
	"strconv"
)

// otelMeta is what meta.otel records about a span's OTel origin: where its
// type came from, its kind and scope, and every attribute, event and link no
// mapping consumed. It is gathered as a struct and encoded once per span,
// which keeps the per-span cost of the bookkeeping small.
type otelMeta struct {
	attributes, events, links, resource, scope json.RawMessage

	typeSource, spanKind, statusCode, traceState string
	// typeSourceValue, when set, follows typeSource after a "=".
	typeSourceValue string

	droppedAttributes, droppedEvents, droppedFlattened, endBeforeStartNs int64

	syntheticID, unparsed bool
}

// MarshalJSON lets encoding/json write meta.otel held in a span's Meta.
func (o *otelMeta) MarshalJSON() ([]byte, error) { return o.encode(nil), nil }

// AppendJSON implements JSONAppender.
func (o *otelMeta) AppendJSON(b []byte) []byte { return o.encode(b) }

// size is the encoded size of the raw groups, which dominate.
func (o *otelMeta) size() int {
	return len(o.attributes) + len(o.events) + len(o.links) + len(o.resource) + len(o.scope) + 256
}

// encode writes meta.otel with keys sorted, as appendJSON would write the
// equivalent map.
func (o *otelMeta) encode(b []byte) []byte {
	first := true
	sep := func(k string) {
		if first {
			b = append(b, '{')
			first = false
		} else {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	raw := func(k string, v json.RawMessage) {
		if len(v) > 0 {
			sep(k)
			b = append(b, v...)
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			sep(k)
			b = strconv.AppendInt(b, v, 10)
		}
	}
	str := func(k, v string) {
		if v != "" {
			sep(k)
			b = appendJSONString(b, v)
		}
	}
	flag := func(k string, v bool) {
		if v {
			sep(k)
			b = append(b, "true"...)
		}
	}
	// Alphabetical order.
	raw("attributes", o.attributes)
	num("dropped_attributes_count", o.droppedAttributes)
	num("dropped_events_count", o.droppedEvents)
	num("dropped_flattened_keys", o.droppedFlattened)
	num("end_before_start_ns", o.endBeforeStartNs)
	raw("events", o.events)
	raw("links", o.links)
	raw("resource", o.resource)
	raw("scope", o.scope)
	str("span_kind", o.spanKind)
	str("status_code", o.statusCode)
	flag("synthetic_id", o.syntheticID)
	str("trace_state", o.traceState)
	if o.typeSourceValue != "" {
		sep("type_source")
		b = append(b, '"')
		b = appendJSONStringContent(b, o.typeSource)
		b = append(b, '=')
		b = appendJSONStringContent(b, o.typeSourceValue)
		b = append(b, '"')
	} else {
		str("type_source", o.typeSource)
	}
	flag("unparsed", o.unparsed)
	if first {
		return append(b, "{}"...)
	}
	return append(b, '}')
}

// capped returns meta.otel within limit bytes: itself when it fits (it
// is encoded only when the span is, and shares the resource and scope
// bytes with the other spans of its batch), else a map with the largest
// resource, attribute, event and link entries dropped, counted in
// dropped_keys and flagged truncated. Nothing is lost silently.
func (o *otelMeta) capped(limit int) any {
	if limit < 0 || o.size() <= limit {
		return o
	}
	enc := o.encode(make([]byte, 0, o.size()))
	if len(enc) <= limit {
		return o
	}
	m, _ := asMap(json.RawMessage(enc))
	size := len(enc)
	dropped := 0
	// The largest entry of any group goes first, so an oversized attribute
	// costs only itself: dropping group by group took the resource
	// (service.name with it) before reaching the attribute.
	for size > limit {
		group, key, kb := "", "", 0
		for _, g := range []string{"resource", "attributes", "events", "links"} {
			if k, n := largestEntry(m[g]); k != "" && n > kb {
				group, key, kb = g, k, n
			}
		}
		if key == "" {
			break
		}
		switch g := m[group].(type) {
		case map[string]any:
			delete(g, key)
		case []any:
			i, _ := strconv.Atoi(key)
			m[group] = slices.Delete(g, i, i+1)
		}
		size -= kb
		dropped++
	}
	if size > limit {
		// Still too big: keep only the facts needed for debugging.
		for k := range m {
			if k != "type_source" && k != "span_kind" && k != "scope" {
				delete(m, k)
			}
		}
	}
	m["truncated"] = true
	m["dropped_keys"] = int64(dropped)
	return m
}

// largestEntry returns the key of the largest entry of a map group, or the
// index of the largest element of a list group, and its encoded size.
func largestEntry(group any) (string, int) {
	best, bestSize := "", 0
	switch g := group.(type) {
	case map[string]any:
		for k, v := range g {
			if n := len(k) + len(appendJSON(nil, v)) + 4; n > bestSize {
				best, bestSize = k, n
			}
		}
	case []any:
		for i, v := range g {
			if n := len(appendJSON(nil, v)) + 1; n > bestSize {
				best, bestSize = strconv.Itoa(i), n
			}
		}
	}
	return best, bestSize
}

// ServiceName is the service.name of the OTel resource a span came from,
// "" when it has none (spans written by Opper SDKs).
func ServiceName(s *Span) string {
	switch otel := s.Meta.Value(MetaOTel).(type) {
	case *otelMeta:
		return serviceNameOf(otel.resource)
	case json.RawMessage:
		if m, ok := asMap(otel); ok {
			return serviceNameIn(m["resource"])
		}
	case map[string]any:
		return serviceNameIn(otel["resource"])
	}
	return ""
}

func serviceNameIn(resource any) string {
	switch r := resource.(type) {
	case map[string]any:
		name, _ := r["service.name"].(string)
		return name
	case json.RawMessage:
		return serviceNameOf(r)
	}
	return ""
}

// serviceNameOf reads the top-level "service.name" string of a resource
// object with the translator's JSON scanner, without decoding the rest: it
// is read for every span written.
func serviceNameOf(resource json.RawMessage) string {
	doc := string(resource)
	var name string
	objectFields(doc, skipSpace(doc, 0), func(key, value string) bool {
		if k, ok := unquoteKey(key); !ok || k != "service.name" {
			return true
		}
		name, _ = unquoteJSON(value)
		return false
	})
	return name
}
