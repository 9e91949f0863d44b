package translator

import (
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Meta groups: one meta entry gathered from several attributes (the
// agent, the tool).

type groupKey struct {
	key   attrKey
	short string
}

// metaGroup is a meta entry gathered from several attributes, each under a
// short name, with the set of its keys to skip spans that have none.
type metaGroup struct {
	name string
	keys []groupKey
	all  keySet
}

func newMetaGroup(name string, keys ...groupKey) metaGroup {
	g := metaGroup{name: name, keys: keys}
	for _, gk := range keys {
		g.all.add(gk.key)
	}
	return g
}

var agentGroup = newMetaGroup("agent",
	groupKey{kGenAiAgentName, "name"}, groupKey{key("gen_ai.agent.id"), "id"}, groupKey{key("gen_ai.agent.description"), "description"},
	groupKey{key("gen_ai.agent.version"), "version"}, groupKey{key("agent.name"), "name"}, groupKey{key("gen_ai.agent.call.id"), "call_id"},
	groupKey{key("graph.node.id"), "graph_node_id"}, groupKey{key("graph.node.name"), "graph_node_name"},
	groupKey{key("graph.node.parent_id"), "graph_node_parent_id"},
)

var toolGroup = newMetaGroup("tool",
	groupKey{kGenAiToolName, "name"}, groupKey{kGenAiToolCallId, "call_id"}, groupKey{key("gen_ai.tool.type"), "type"},
	groupKey{key("gen_ai.tool.description"), "description"}, groupKey{kToolName, "name"}, groupKey{key("tool.description"), "description"},
	groupKey{key("tool.parameters"), "parameters"}, groupKey{key("tool.json_schema"), "json_schema"}, groupKey{key("tool.id"), "id"},
	groupKey{key("tool_call.id"), "call_id"}, groupKey{kAiToolCallName, "name"}, groupKey{key("ai.toolCall.id"), "call_id"},
)

// collectGroup moves the attributes of g into meta[g.name], under their
// short names, when any is present; the first of two aliases wins.
func (c *spanCtx) collectGroup(g *metaGroup) {
	if !c.a.anyOf(&g.all) {
		return
	}
	o := c.obj
	o.reset()
	for _, gk := range g.keys {
		if v, ok := c.a.get(gk.key); ok && !o.has(gk.short) {
			o.putValue(gk.short, v)
		}
	}
	c.putGroup(g.name)
}

// putStrings sets meta[key] to v read as a list of strings (valueStrings),
// unless it has none.
func (c *spanCtx) putStrings(key string, v pcommon.Value) {
	b := append(c.scratch[:0], '[')
	n := 0
	add := func(s string) {
		if n > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
		n++
	}
	if v.Type() == pcommon.ValueTypeSlice {
		// The common case, without the list valueStrings would build.
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			if str := valueString(sl.At(i)); str != "" {
				add(str)
			}
		}
	} else {
		for _, str := range valueStrings(v) {
			add(str)
		}
	}
	c.scratch = append(b, ']')
	if n > 0 {
		c.setMeta(key, c.arena.json(c.scratch))
	}
}

// putGroup sets meta[group] to the object built in c.obj, unless empty.
func (c *spanCtx) putGroup(group string) {
	if c.obj.empty() {
		return
	}
	var enc json.RawMessage
	enc, c.scratch = c.obj.encode(c.arena, c.scratch)
	c.setMeta(group, enc)
}
