package explorer

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/translator"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func span(id, parent string, startMS, durMS int) translator.Span {
	return translator.Span{TraceID: "t", ID: id, ParentID: parent, Name: "span " + id,
		StartTime: t0.Add(time.Duration(startMS) * time.Millisecond),
		EndTime:   t0.Add(time.Duration(startMS+durMS) * time.Millisecond)}
}

func ids(rows []treeRow) []string {
	var out []string
	for _, r := range rows {
		if r.More > 0 {
			out = append(out, "more:"+r.ParentID+"@"+strconv.Itoa(r.MoreOffset)+"+"+strconv.Itoa(r.More))
			continue
		}
		out = append(out, r.ID)
	}
	return out
}

func TestTreeOrderAndBars(t *testing.T) {
	spans := []translator.Span{
		span("root", "", 0, 100),
		span("b", "root", 50, 50),
		span("a", "root", 10, 20),
		span("a1", "a", 12, 5),
		span("orphan", "missing", 20, 10),
	}
	running := span("run", "b", 60, 0)
	running.EndTime = time.Time{}
	spans = append(spans, running)
	rows := newTree(spans, "a1").allRows()
	assert.Equal(t, []string{"root", "a", "a1", "b", "run", "orphan"}, ids(rows), "depth-first, children by start time, orphans as roots")
	byID := map[string]treeRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	assert.Equal(t, 0, byID["root"].Depth)
	assert.Equal(t, 2, byID["a1"].Depth)
	assert.InDelta(t, 0, byID["root"].Left, 1e-9)
	assert.InDelta(t, 100, byID["root"].Width, 1e-9)
	assert.InDelta(t, 50, byID["b"].Left, 1e-9)
	assert.InDelta(t, 50, byID["b"].Width, 1e-9)
	assert.True(t, byID["run"].Running)
	assert.Positive(t, byID["run"].Width, "a running span still has a sliver")
	assert.True(t, byID["a1"].Selected)
	for _, r := range rows {
		assert.LessOrEqual(t, r.Left+r.Width, 100.0000001, r.ID)
	}
}

func TestTreeSurvivesCycles(t *testing.T) {
	spans := []translator.Span{span("x", "y", 0, 10), span("y", "x", 1, 10), span("self", "self", 2, 1)}
	rows := newTree(spans, "x").allRows()
	assert.ElementsMatch(t, []string{"x", "y", "self"}, ids(rows), "every span once")
}

// bigTrace is a root with n children, each with one child.
func bigTrace(n int) []translator.Span {
	spans := []translator.Span{span("root", "", 0, 2*n+10)}
	for i := range n {
		c := "c" + strconv.Itoa(i)
		spans = append(spans, span(c, "root", 2*i+1, 1), span(c+"-leaf", c, 2*i+1, 1))
	}
	return spans
}

func TestLargeTreeOpensFoldedAndPaged(t *testing.T) {
	spans := bigTrace(600) // 1,201 spans
	tr := newTree(spans, "")
	require.True(t, tr.folded)
	rows := tr.allRows()
	// The root, its first page of children (folded, leaves not sent), and a
	// "more" row for the rest.
	require.Len(t, rows, 1+childPage+1)
	assert.Equal(t, "more:root@200+400", ids(rows)[len(rows)-1])
	for _, r := range rows[1 : len(rows)-1] {
		assert.False(t, r.Open, r.ID)
		assert.Equal(t, 1, r.Children)
	}

	// The next page, then the rest.
	next, ok := tr.childRows("root", 200, morePage)
	require.True(t, ok)
	assert.Len(t, next, 400, "fewer than a page left: no more row")
	assert.Equal(t, "c200", next[0].ID)
	next, ok = tr.childRows("root", 200, 100)
	require.True(t, ok)
	assert.Equal(t, "more:root@300+300", ids(next)[len(next)-1])
	// A folded span's children, at their depth.
	leaf, ok := tr.childRows("c7", 0, childPage)
	require.True(t, ok)
	require.Len(t, leaf, 1)
	assert.Equal(t, "c7-leaf", leaf[0].ID)
	assert.Equal(t, 2, leaf[0].Depth)
	_, ok = tr.childRows("nope", 0, 10)
	assert.False(t, ok)
	_, ok = tr.childRows("root", 5000, 10)
	assert.False(t, ok)
}

func TestLargeTreeShowsTheSelectedPath(t *testing.T) {
	spans := bigTrace(600)
	rows := newTree(spans, "c450-leaf").allRows()
	got := ids(rows)
	// The selected span's parent is past the first page: it is shown in
	// its place, with "more" rows on either side, and opened.
	assert.Equal(t, []string{"more:root@200+250", "c450", "c450-leaf", "more:root@451+149"}, got[len(got)-4:])
	var sel treeRow
	for _, r := range rows {
		if r.ID == "c450-leaf" {
			sel = r
		}
	}
	assert.True(t, sel.Selected)
}

func TestConversationMergesGenerations(t *testing.T) {
	gen := func(id string, startMS int, in, out string) translator.Span {
		s := span(id, "root", startMS, 10)
		s.Type = translator.TypeGeneration
		s.Input, s.Output = &in, &out
		return s
	}
	spans := []translator.Span{
		span("root", "", 0, 100),
		gen("g1", 1, `[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Oslo?"}]`,
			`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]}`),
		gen("g2", 20, `[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Oslo?"},`+
			`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},`+
			`{"role":"tool","tool_call_id":"c1","content":"{\"temp\":7}"}]`, `{"role":"assistant","content":"7°C."}`),
		gen("other", 40, `[{"role":"user","content":"Summarise."}]`, `Done.`),
	}
	turns := conversationTurns(spans)
	var roles []string
	for _, tu := range turns {
		roles = append(roles, tu.Role)
	}
	assert.Equal(t, []string{"system", "user", "assistant", "tool", "assistant", "user", "assistant"}, roles)
	assert.Equal(t, "g2", turns[3].SpanID, "the tool result was new in g2")
	assert.True(t, turns[5].Restart, "a generation that does not continue the conversation starts a thread")
	assert.False(t, turns[3].Restart)
}

func TestConversationAddsInstructionsOnce(t *testing.T) {
	in, instr := `[{"role":"user","content":"hi"}]`, "Be kind."
	g := span("g", "", 0, 1)
	g.Type, g.Input, g.Instructions = translator.TypeGeneration, &in, &instr
	turns := conversationTurns([]translator.Span{g})
	require.Len(t, turns, 2)
	assert.Equal(t, "system", turns[0].Role)
	withSystem := `[{"role":"system","content":"Be kind."},{"role":"user","content":"hi"}]`
	g.Input = &withSystem
	assert.Len(t, conversationTurns([]translator.Span{g}), 2, "not again when the input has it")
}

func TestPreview(t *testing.T) {
	assert.Equal(t, "Weather in Oslo?", preview(`[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Oslo?"}]`, translator.InputSide))
	assert.Equal(t, `→ weather({"city":"Oslo"})`, preview(`{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]}`, translator.OutputSide))
	assert.Equal(t, `{"city": "Oslo"}`, preview(`{"city":   "Oslo"}`, translator.InputSide), "not messages: the text, on one line")
	long := preview(strings.Repeat("word ", 100), translator.InputSide)
	assert.Len(t, []rune(long), 141, "140 runes and an ellipsis")
}

func TestFormats(t *testing.T) {
	assert.Equal(t, "1,234,567", formatCount(1234567))
	assert.Equal(t, "-1,000", formatCount(-1000))
	assert.Equal(t, "12", formatCount(12))
	assert.Equal(t, "$0", formatCost(0))
	assert.Equal(t, "$1.50", formatCost(1.5))
	assert.Equal(t, "$0.0125", formatCost(0.0125))
	assert.Equal(t, "$0.0000120", formatCost(0.000012))
	assert.Equal(t, "850 ms", formatDuration(850*time.Millisecond))
	assert.Equal(t, "1.25 s", formatDuration(1250*time.Millisecond))
	assert.Equal(t, "2 min 5 s", formatDuration(125*time.Second))
	assert.Equal(t, "3 steps · 2 llm · 1 tool", composition(3, map[string]int64{"generation": 2, "tool": 1, "function": 4}))
	assert.Equal(t, "1 step", composition(1, nil))
	assert.Equal(t, "/", safeNext("//evil.example"))
	assert.Equal(t, "/", safeNext("https://evil.example"))
	assert.Equal(t, "/", safeNext(`/\evil.example`))
	assert.Equal(t, "/traces/x?span=y", safeNext("/traces/x?span=y"))
}
