package translator

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func checkFlattened(t *testing.T, attrs pcommon.Map) {
	t.Helper()
	for _, p := range []attrPrefix{pGenAIPrompt, pLLMInputMessages} {
		view := newAttrView()
		view.reset(attrs)
		want, wantDropped := flattenedTreeJSON(view, p, nil)
		view.reset(attrs)
		var f flatBuilder
		got, gotDropped := flattenedJSON(view, p, &f)
		if got != want || gotDropped != wantDropped {
			t.Fatalf("prefix %s: got %s (%d dropped), want %s (%d dropped)", prefixNames[p], got, gotDropped, want, wantDropped)
		}
		for _, field := range []string{"text", "vector", "role", "message"} {
			view.reset(attrs)
			want := flattenedFieldTreeJSON(view, p, field, nil)
			view.reset(attrs)
			assert.Equal(t, want, flattenedFieldJSON(view, p, field, &f), "field %s", field)
		}
		for i := range view.attrs {
			if strings.HasPrefix(view.attrs[i].key, prefixNames[p]) {
				first, _, _ := strings.Cut(view.attrs[i].key[len(prefixNames[p]):], ".")
				assert.Equal(t, isIndex(first), view.attrs[i].used, view.attrs[i].key)
			}
		}
	}
}

func TestFlattenedJSON(t *testing.T) {
	attrs := pcommon.NewMap()
	// OpenInference: wrappers, nested tool calls, contents.
	attrs.PutStr("llm.input_messages.0.message.role", "system")
	attrs.PutStr("llm.input_messages.0.message.content", "be brief")
	attrs.PutStr("llm.input_messages.1.message.role", "user")
	attrs.PutStr("llm.input_messages.1.message.contents.0.message_content.type", "text")
	attrs.PutStr("llm.input_messages.1.message.contents.0.message_content.text", "hi")
	attrs.PutStr("llm.input_messages.10.message.role", "assistant")
	attrs.PutStr("llm.input_messages.10.message.tool_calls.0.tool_call.function.name", "get_weather")
	attrs.PutStr("llm.input_messages.10.message.tool_calls.0.tool_call.function.arguments", `{"city":"Oslo"}`)
	attrs.PutInt("llm.input_messages.2.message.tokens", 7)
	attrs.PutDouble("llm.input_messages.2.message.score", 0.5)
	attrs.PutDouble("llm.input_messages.2.message.nan", math.NaN())
	attrs.PutBool("llm.input_messages.2.message.ok", true)
	attrs.PutEmptySlice("llm.input_messages.2.message.list").AppendEmpty().SetStr("x")
	attrs.PutStr("llm.input_messages.99999.message.role", "dropped")
	attrs.PutStr("llm.input_messages.name", "not an element")
	// OpenLLMetry: plain elements, a gap, a leaf element.
	attrs.PutStr("gen_ai.prompt.0.role", "user")
	attrs.PutStr("gen_ai.prompt.0.content", "what is \"2+2\"?")
	attrs.PutStr("gen_ai.prompt.3.role", "assistant")
	attrs.PutStr("gen_ai.prompt.4", "a bare element")
	// OpenInference embeddings: text and vector side by side.
	attrs.PutStr("llm.input_messages.3.embedding.text", "hello")
	vec := attrs.PutEmptySlice("llm.input_messages.3.embedding.vector")
	vec.AppendEmpty().SetDouble(0.25)
	vec.AppendEmpty().SetDouble(-1)
	attrs.PutStr("llm.input_messages.4.embedding.text", "world")
	checkFlattened(t, attrs)
	for _, p := range []attrPrefix{pGenAIPrompt, pLLMInputMessages} {
		view := newAttrView()
		view.reset(attrs)
		var f flatBuilder
		_, _, direct := f.build(view, p)
		assert.True(t, direct, "the instrumentations' shapes are written directly")
	}

	// Shapes the direct writer leaves to the tree.
	for _, keys := range [][]string{
		{"gen_ai.prompt.0.role", "gen_ai.prompt.0.role.x"},
		{"gen_ai.prompt.0.a.0", "gen_ai.prompt.0.a.b"},
		{"gen_ai.prompt.01.role", "gen_ai.prompt.1.content"},
		{"gen_ai.prompt.0", "gen_ai.prompt.0.role"},
	} {
		m := pcommon.NewMap()
		for _, k := range keys {
			m.PutStr(k, k)
		}
		checkFlattened(t, m)
	}
	m := pcommon.NewMap()
	m.PutEmptyMap("gen_ai.prompt.0.message").PutEmptyMap("message").PutStr("role", "user")
	checkFlattened(t, m)
}

// Any set of flattened keys and values gives what the tree gives.
func FuzzFlattenedJSON(f *testing.F) {
	f.Add("0.role|0.content|1.message.role|1.message.content|3", "user")
	f.Add("0.a.0.tool_call.id|0.a.1.tool_call.id|0.b|00.c", "v")
	f.Add("2.message.message.x|2.x.9|10|1.0.0", "")
	f.Add("0.embedding.text|0.embedding.vector|1.embedding.text|2.text|3.vector.0|4.message.role", "t")
	f.Fuzz(func(t *testing.T, keys, value string) {
		m := pcommon.NewMap()
		for i, k := range strings.Split(keys, "|") {
			key := "gen_ai.prompt." + k
			switch i % 4 {
			case 0:
				m.PutStr(key, value)
			case 1:
				m.PutInt(key, int64(len(value)))
			case 2:
				m.PutEmptySlice(key).AppendEmpty().SetStr(value)
			case 3:
				m.PutDouble(key, float64(len(value))/3)
			}
		}
		checkFlattened(t, m)
	})
}
