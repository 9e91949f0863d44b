package translator

import (
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxRebuiltIndex bounds the array indices taken from flattened keys
// (`llm.input_messages.99999999.message.role`), so a crafted key cannot make
// us allocate a huge array; larger indices are dropped and counted.
const maxRebuiltIndex = 10000

// indexed collects the elements of a flattened array before it is compacted.
type indexed map[int]any

// rebuildFlattened turns flattened attributes under prefix, such as
// `gen_ai.prompt.0.role` or `llm.input_messages.1.message.content`, back
// into an array of objects: numeric segments become array indices sorted
// numerically, gaps are closed. Only keys whose first segment is numeric
// are taken (so `gen_ai.prompt.name` is not). It returns nil when there are
// none, and the number of keys dropped for an out-of-range index.
func rebuildFlattened(a *attrView, p attrPrefix) (out []any, dropped int) {
	var root indexed
	eachFlattened(a, p, func(at *attr, rest string) bool {
		if root == nil {
			root = indexed{}
		}
		c, ok := insertPath(root, strings.Split(rest, "."), valueToAny(at.val, 0))
		if !ok {
			dropped++
			return true
		}
		root = c.(indexed)
		return true
	})
	if root == nil {
		return nil, dropped
	}
	return finalizeFlattened(root).([]any), dropped
}

// consumeFlattened marks consumed the attributes rebuildFlattened would
// rebuild under p, without rebuilding them: what metadata retention and
// content already read need.
func consumeFlattened(a *attrView, p attrPrefix) {
	eachFlattened(a, p, func(*attr, string) bool { return true })
}

// eachFlattened marks consumed, and calls f with, every attribute under p
// whose first key segment after p is an array index, with the key's rest
// after p, until f returns false.
func eachFlattened(a *attrView, p attrPrefix, f func(at *attr, rest string) bool) {
	bit := p.bit()
	if a.prefixes&bit == 0 {
		return
	}
	n := len(prefixNames[p])
	for i := range a.attrs {
		at := &a.attrs[i]
		if at.prefixes&bit == 0 {
			continue
		}
		rest := at.key[n:]
		first := rest
		if dot := strings.IndexByte(rest, '.'); dot >= 0 {
			first = rest[:dot]
		}
		if !isIndex(first) {
			continue
		}
		at.used = true
		if !f(at, rest) {
			return
		}
	}
}

func insertPath(container any, segs []string, v any) (any, bool) {
	if len(segs) == 0 {
		return v, true
	}
	seg := segs[0]
	if isIndex(seg) {
		n, err := strconv.Atoi(seg)
		if err != nil {
			return container, false
		}
		if n > maxRebuiltIndex {
			return container, false
		}
		c, isIdx := container.(indexed)
		if !isIdx {
			c = indexed{}
		}
		child, ok := insertPath(c[n], segs[1:], v)
		if !ok {
			return container, false
		}
		c[n] = child
		return c, true
	}
	c, isMap := container.(map[string]any)
	if !isMap {
		c = map[string]any{}
	}
	child, ok := insertPath(c[seg], segs[1:], v)
	if !ok {
		return container, false
	}
	c[seg] = child
	return c, true
}

// isIndex reports whether a key segment is an array index (all digits),
// without the error value strconv allocates for every non-number.
func isIndex(seg string) bool {
	if seg == "" {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return false
		}
	}
	return true
}

// wrapperKeys are the single-key objects OpenInference nests its flattened
// elements in (`.message.role`, `.tool_call.id`); unwrapping them gives the
// ordinary chat-message shape.
var wrapperKeys = []string{"message", "tool_call", "message_content", "document", "prompt", "completion", "evaluation", "annotation", "embedding"}

func finalizeFlattened(x any) any {
	switch c := x.(type) {
	case indexed:
		idx := make([]int, 0, len(c))
		for i := range c {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		out := make([]any, 0, len(idx))
		for _, i := range idx {
			out = append(out, finalizeFlattened(c[i]))
		}
		return out
	case map[string]any:
		for k, v := range c {
			c[k] = finalizeFlattened(v)
		}
		if len(c) == 1 {
			for _, w := range wrapperKeys {
				if inner, ok := c[w].(map[string]any); ok {
					return inner
				}
			}
		}
		return c
	}
	return x
}

// kvlistToAny converts event attributes to a JSON-ready map, decoding
// values that are JSON strings of objects or arrays, so that a message
// embedded in a rebuilt array is not encoded twice.
func kvlistToAny(m pcommon.Map, skip ...string) map[string]any {
	out := make(map[string]any, m.Len())
	for k, v := range m.All() {
		if slices.Contains(skip, k) {
			continue
		}
		// Azure's inference SDK puts the whole message body in one JSON
		// attribute; its fields belong to the message itself.
		if k == "gen_ai.event.content" {
			if parsed, ok := valueJSON(v); ok {
				if body, ok := parsed.(map[string]any); ok {
					for bk, bv := range body {
						if _, set := out[bk]; !set {
							out[bk] = bv
						}
					}
					continue
				}
			}
		}
		if v.Type() == pcommon.ValueTypeStr && k != "content" {
			if s := strings.TrimSpace(v.Str()); s != "" && (s[0] == '{' || s[0] == '[') {
				if parsed, ok := parseJSON(s); ok {
					out[k] = parsed
					continue
				}
			}
		}
		out[k] = valueToAny(v, 0)
	}
	return out
}
