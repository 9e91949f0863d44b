package translator

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxValueDepth bounds the nesting of kvlist and array values we follow; a
// deeper value is cut with a marker instead of recursing without limit.
const maxValueDepth = 32

// attrView indexes one span's attributes and remembers which ones a
// mapping consumed, so the rest can be kept under meta.otel.attributes.
// Known keys are found by slot (one map lookup per attribute present on the
// span, when the view is reset), so the hundreds of candidate keys the
// conventions define cost an array index each, not a hash.
type attrView struct {
	attrs []attr
	// slot[k] is 1 + the position of known key k on the span, 0 if absent.
	slot []int32
	set  []attrKey
	// present is the set of known keys on the span.
	present keySet
	// prefixes is the union of the attributes' registered prefixes.
	prefixes uint64
	// cache classifies keys; it outlives the view's spans (see mapState).
	cache *keyCache

	// eventUsed is scratch space for the span's events, idx for sorting.
	eventUsed []bool
	idx       []int
}

// attr is one attribute of the span, with what its key's keyInfo says.
type attr struct {
	key      string
	val      pcommon.Value
	prefixes uint64
	used     bool
	content  bool
	plainKey bool
}

func newAttrView() *attrView {
	return &attrView{slot: make([]int32, len(keyNames)), cache: newKeyCache()}
}

func (a *attrView) reset(m pcommon.Map) {
	for _, k := range a.set {
		a.slot[k] = 0
	}
	a.set = a.set[:0]
	a.present = keySet{}
	a.attrs = a.attrs[:0]
	a.prefixes = 0
	for k, v := range m.All() {
		info := a.cache.info(k)
		if info.known {
			if a.slot[info.id] != 0 {
				continue // a duplicate key: the first wins
			}
			a.slot[info.id] = int32(len(a.attrs) + 1)
			a.set = append(a.set, info.id)
			a.present.add(info.id)
		}
		a.prefixes |= info.prefixes
		a.attrs = append(a.attrs, attr{key: k, val: v, prefixes: info.prefixes, content: info.content, plainKey: info.plainJSON})
	}
}

// get returns the value of key and marks it consumed.
func (a *attrView) get(key attrKey) (pcommon.Value, bool) {
	i := a.slot[key] - 1
	if i < 0 {
		return pcommon.Value{}, false
	}
	a.attrs[i].used = true
	return a.attrs[i].val, true
}

// anyOf reports whether any key of s is present.
func (a *attrView) anyOf(s *keySet) bool { return a.present.intersects(s) }

// has reports whether key is present without consuming it.
func (a *attrView) has(key attrKey) bool { return a.slot[key] != 0 }

// peekStr returns a string attribute without consuming it.
func (a *attrView) peekStr(key attrKey) string {
	i := a.slot[key] - 1
	if i < 0 {
		return ""
	}
	return valueString(a.attrs[i].val)
}

// str returns the first non-empty attribute among keys as a string. The
// keys are aliases of one fact, so all of them are consumed: the ones that
// lost would only repeat it under meta.otel.
func (a *attrView) str(keys ...attrKey) (string, bool) {
	found, out := false, ""
	for _, k := range keys {
		if v, ok := a.get(k); ok && !found {
			if s := valueString(v); s != "" {
				found, out = true, s
			}
		}
	}
	return out, found
}

// int returns the first attribute among keys that reads as an integer.
func (a *attrView) int(keys ...attrKey) (int64, bool) {
	found, out := false, int64(0)
	for _, k := range keys {
		if v, ok := a.get(k); ok && !found {
			out, found = valueInt(v)
		}
	}
	return out, found
}

// float returns the first attribute among keys that reads as a finite number.
func (a *attrView) float(keys ...attrKey) (float64, bool) {
	found, out := false, 0.0
	for _, k := range keys {
		if v, ok := a.get(k); ok && !found {
			out, found = valueFloat(v)
		}
	}
	return out, found
}

// withPrefix calls f for every attribute whose key starts with prefix, in
// the order they appear on the span, and marks them consumed.
func (a *attrView) withPrefix(p attrPrefix, f func(rest string, v pcommon.Value)) {
	bit := p.bit()
	if a.prefixes&bit == 0 {
		return
	}
	n := len(prefixNames[p])
	for i := range a.attrs {
		if at := &a.attrs[i]; at.prefixes&bit != 0 {
			at.used = true
			f(at.key[n:], at.val)
		}
	}
}

// clearRefs drops the view's references to the last span's attributes,
// so that a pooled view does not keep a batch alive.
func (a *attrView) clearRefs() {
	clear(a.attrs[:cap(a.attrs)])
	a.attrs = a.attrs[:0]

}

// unusedJSON encodes the attributes no mapping consumed as one JSON
// object, keys sorted, into the arena, or returns nil when every attribute
// was consumed. scratch is reused between spans.
func (a *attrView) unusedJSON(ar *arena, scratch []byte) (json.RawMessage, []byte) {
	a.idx = a.idx[:0]
	for i := range a.attrs {
		if !a.attrs[i].used {
			a.idx = append(a.idx, i)
		}
	}
	if len(a.idx) == 0 {
		return nil, scratch
	}
	slices.SortFunc(a.idx, func(x, y int) int { return strings.Compare(a.attrs[x].key, a.attrs[y].key) })
	b := append(scratch[:0], '{')
	for n, i := range a.idx {
		if n > 0 {
			b = append(b, ',')
		}
		at := &a.attrs[i]
		if at.plainKey {
			b = append(b, '"')
			b = append(b, at.key...)
			b = append(b, '"', ':')
		} else {
			b = appendJSONString(b, at.key)
			b = append(b, ':')
		}
		b = appendValue(b, at.val, 0)
	}
	b = append(b, '}')
	return ar.json(b), b
}

// appendValue encodes a value as JSON directly, as valueToAny followed by
// appendJSON would, without building the intermediate Go values.
func appendValue(b []byte, v pcommon.Value, depth int) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(b, v.Str())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendJSONFloat(b, v.Double())
	case pcommon.ValueTypeBytes:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		if depth >= maxValueDepth {
			return appendJSONString(b, "[nested too deep]")
		}
		s := v.Slice()
		b = append(b, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, s.At(i), depth+1)
		}
		return append(b, ']')
	case pcommon.ValueTypeMap:
		if depth >= maxValueDepth {
			return appendJSONString(b, "[nested too deep]")
		}
		return appendMap(b, v.Map(), depth+1)
	}
	return append(b, "null"...)
}

type keyValue struct {
	k string
	v pcommon.Value
}

// appendMap encodes a pcommon.Map as a JSON object with sorted keys.
func appendMap(b []byte, m pcommon.Map, depth int) []byte {
	var stack [16]keyValue
	kvs := stack[:0]
	for k, v := range m.All() {
		kvs = append(kvs, keyValue{k, v})
	}
	slices.SortFunc(kvs, func(x, y keyValue) int { return strings.Compare(x.k, y.k) })
	b = append(b, '{')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, kv.k)
		b = append(b, ':')
		b = appendValue(b, kv.v, depth)
	}
	return append(b, '}')
}

// mapJSON encodes a pcommon.Map as a JSON object into the arena, nil when
// empty.
func mapJSON(ar *arena, scratch []byte, m pcommon.Map) (json.RawMessage, []byte) {
	if m.Len() == 0 {
		return nil, scratch
	}
	b := appendMap(scratch[:0], m, 0)
	return ar.json(b), b
}

// asMap returns a meta group as a map: groups the translator pre-encoded
// (json.RawMessage) are decoded, maps pass through.
func asMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case *otelMeta:
		return asMap(json.RawMessage(x.encode(nil)))
	case json.RawMessage:
		if parsed, ok := parseJSON(string(x)); ok {
			m, ok := normalizeNumbers(parsed).(map[string]any)
			return m, ok
		}
	}
	return nil, false
}

// asList is asMap for list groups (events, links).
func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case json.RawMessage:
		if parsed, ok := parseJSON(string(x)); ok {
			l, ok := normalizeNumbers(parsed).([]any)
			return l, ok
		}
	}
	return nil, false
}

// valueString renders a value as text: strings as they are, structured
// values as compact JSON, so a JSON string is never encoded twice.
func valueString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return string(appendJSON(nil, valueToAny(v, 0)))
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return ""
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	default:
		return v.AsString()
	}
}

func valueInt(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int64(f), true
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func valueFloat(v pcommon.Value) (float64, bool) {
	var f float64
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		f = v.Double()
	case pcommon.ValueTypeInt:
		f = float64(v.Int())
	case pcommon.ValueTypeStr:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str()), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// valueStrings reads a string list: an array value, a JSON array in a
// string, a comma-separated string, or a single string.
func valueStrings(v pcommon.Value) []string {
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]string, 0, s.Len())
		for i := 0; i < s.Len(); i++ {
			if str := valueString(s.At(i)); str != "" {
				out = append(out, str)
			}
		}
		return out
	case pcommon.ValueTypeStr:
		str := strings.TrimSpace(v.Str())
		if str == "" {
			return nil
		}
		if str[0] == '[' {
			var list []any
			if json.Unmarshal([]byte(str), &list) == nil {
				out := make([]string, 0, len(list))
				for _, e := range list {
					switch x := e.(type) {
					case string:
						if x != "" {
							out = append(out, x)
						}
					case nil:
					default:
						out = append(out, string(appendJSON(nil, x)))
					}
				}
				return out
			}
		}
		parts := strings.Split(str, ",")
		out := make([]string, 0, len(parts))
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	if s := valueString(v); s != "" {
		return []string{s}
	}
	return nil
}

// valueToAny converts a value to a JSON-ready Go value: kvlists become real
// objects (not the OTLP wrapper), bytes become base64, NaN becomes null.
func valueToAny(v pcommon.Value, depth int) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		if depth >= maxValueDepth {
			return "[nested too deep]"
		}
		s := v.Slice()
		out := make([]any, s.Len())
		for i := range out {
			out[i] = valueToAny(s.At(i), depth+1)
		}
		return out
	case pcommon.ValueTypeMap:
		if depth >= maxValueDepth {
			return "[nested too deep]"
		}
		m := v.Map()
		out := make(map[string]any, m.Len())
		for k, e := range m.All() {
			out[k] = valueToAny(e, depth+1)
		}
		return out
	}
	return nil
}

// valueJSON returns the value as a Go value where a string holding a JSON
// object or array is decoded, for places that need structure (messages,
// tool definitions). ok is false for a string that is not valid JSON.
func valueJSON(v pcommon.Value) (any, bool) {
	if v.Type() != pcommon.ValueTypeStr {
		return valueToAny(v, 0), true
	}
	return parseJSON(v.Str())
}

// rawOrText keeps a value for meta as cheaply as possible: a string that
// holds a JSON object or array as that JSON (validated, not decoded), a
// structured value encoded once, anything else as text.
func rawOrText(v pcommon.Value) any {
	if v.Type() == pcommon.ValueTypeStr {
		t := strings.TrimSpace(v.Str())
		if t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
			return json.RawMessage(t)
		}
		return v.Str()
	}
	return json.RawMessage(appendValue(nil, v, 0))
}

// parseJSON decodes s when it holds a JSON value; numbers keep their text.
func parseJSON(s string) (any, bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, false
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || dec.More() {
		return nil, false
	}
	return out, true
}

// mapToAny converts a pcommon.Map to a JSON-ready map, nil when empty.
func mapToAny(m pcommon.Map) map[string]any {
	if m.Len() == 0 {
		return nil
	}
	out := make(map[string]any, m.Len())
	for k, v := range m.All() {
		out[k] = valueToAny(v, 0)
	}
	return out
}
