package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

const conversationsDir = "../testdata/conversations"

// TestConversationGolden builds the conversation of every trace with a
// generation in every real payload (with its log capture's content, when it
// has one) into testdata/conversations: trace id to the conversation of its
// last generation, or the error. Regenerate
// with `go test ./translator -run TestConversationGolden -update` and read
// the diff.
func TestConversationGolden(t *testing.T) {
	tr := New(Options{Retention: RetentionFull})
	for _, file := range otlpfixtures.Files(t, otlpDir) {
		name := strings.TrimSuffix(filepath.Base(file), ".otlp.json")
		t.Run(name, func(t *testing.T) {
			byTrace := map[string][]Span{}
			for _, s := range joinLogs(t, tr, file, tr.ToOpper(otlpfixtures.Load(t, file))) {
				byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
			}
			doc := map[string]any{}
			for id, spans := range byTrace {
				if !slices.ContainsFunc(spans, func(s Span) bool { return s.Type == TypeGeneration }) {
					continue
				}
				c, err := BuildConversation(spans, "")
				if err != nil {
					doc[id] = err.Error()
					continue
				}
				checkConversation(t, c)
				doc[id] = c
			}
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(doc))
			checkGolden(t, filepath.Join(conversationsDir, name+".conversations.json"), out.Bytes())
		})
	}
}

// joinLogs gives spans what the fixture's log capture (the
// .otlp-logs.json beside it, when there is one) adds to them, as the
// exporter does before it stores them: the OTel GenAI instrumentations put
// the messages there.
func joinLogs(t testing.TB, tr *Translator, file string, spans []Span) []Span {
	t.Helper()
	raw, err := os.ReadFile(strings.TrimSuffix(file, ".otlp.json") + ".otlp-logs.json")
	if errors.Is(err, fs.ErrNotExist) {
		return spans
	}
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	require.NoError(t, err)
	contents, _ := tr.LogContents(ld)
	FillSpans(spans, contents)
	return spans
}

// TestNoConversationGoldenWithoutFixture keeps testdata/conversations in
// step with the inputs.
func TestNoConversationGoldenWithoutFixture(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join(conversationsDir, "*.conversations.json"))
	require.NoError(t, err)
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".conversations.json")
		assert.FileExists(t, filepath.Join(otlpDir, name+".otlp.json"), "golden %s has no fixture", g)
	}
}

// checkConversation checks what every conversation promises: messages
// with a role and parts, tool calls with ids, tool results in tool
// messages of their own, and JSON tools.
func checkConversation(t testing.TB, c Conversation) {
	t.Helper()
	if c.Parameters == nil || c.Tools == nil || c.Messages == nil {
		t.Fatalf("nil parameters, tools or messages: %+v", c)
	}
	for _, m := range c.Messages {
		if m.Role == "" || m.Parts == nil {
			t.Fatalf("message without role or parts: %+v", m)
		}
		for _, p := range m.Parts {
			switch {
			case p.Type == PartToolCall && p.ID == "":
				t.Fatalf("tool call without id: %+v", m)
			case p.Type == PartToolCallResponse && (m.Role != "tool" || len(m.Parts) != 1):
				t.Fatalf("tool result outside a tool message of its own: %+v", m)
			}
		}
	}
	for _, tool := range c.Tools {
		if !json.Valid(tool) {
			t.Fatalf("tool is not JSON: %s", tool)
		}
	}
	if _, err := json.Marshal(c); err != nil {
		t.Fatalf("conversation does not encode: %v", err)
	}
}

func TestBuildConversation(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 3, 1, 0, 0, s, 0, time.UTC) }
	str := func(s string) *string { return &s }
	gen := func(id string, start int, in, out, instructions *string) Span {
		return Span{TraceID: "t", ID: id, Type: TypeGeneration, StartTime: at(start), Input: in, Output: out, Instructions: instructions, Model: "m-" + id}
	}
	root := Span{TraceID: "t", ID: "root", Type: TypeAgent, StartTime: at(0), Input: str("Hi"), Output: str("Hello")}
	tool := Span{TraceID: "t", ID: "tool", Type: TypeTool, StartTime: at(3), Input: str(`{"city":"Oslo"}`)}
	const (
		user  = `{"role":"user","parts":[{"type":"text","content":"Weather in Oslo?"}]}`
		sys   = `{"role":"system","parts":[{"type":"text","content":"Be brief."}]}`
		sunny = `{"role":"assistant","parts":[{"type":"text","content":"Sunny."}]}`
	)
	cases := []struct {
		name   string
		spans  []Span
		spanID string
		err    error
		want   string // messages as JSON
	}{
		{name: "last generation by start time", spans: []Span{root, gen("g2", 2, str("second"), str("two"), nil), gen("g1", 1, str("first"), str("one"), nil), tool},
			want: `[{"role":"user","parts":[{"type":"text","content":"second"}]},{"role":"assistant","parts":[{"type":"text","content":"two"}]}]`},
		{name: "chosen span", spans: []Span{root, gen("g2", 2, str("second"), nil, nil), gen("g1", 1, str("first"), nil, nil)}, spanID: "g1",
			want: `[{"role":"user","parts":[{"type":"text","content":"first"}]}]`},
		{name: "chosen span not a generation", spans: []Span{root, gen("g1", 1, str("first"), nil, nil), tool}, spanID: "tool", err: ErrNoGeneration},
		{name: "chosen span not in the trace", spans: []Span{root, gen("g1", 1, str("first"), nil, nil)}, spanID: "nope", err: ErrNoGeneration},
		{name: "no generation", spans: []Span{root, tool}, err: ErrNoGeneration},
		{name: "no spans", err: ErrNoGeneration},
		{name: "no content", spans: []Span{root, gen("g1", 1, nil, nil, nil)}, err: ErrNoContent},
		{name: "blank content", spans: []Span{gen("g1", 1, str(" "), str("\n"), str(""))}, err: ErrNoContent},
		{name: "instructions first", spans: []Span{gen("g1", 1, str("["+user+"]"), str("Sunny."), str("Be brief."))},
			want: `[` + sys + `,` + user + `,` + sunny + `]`},
		{name: "instructions already in the input", spans: []Span{gen("g1", 1, str(`[{"role":"user","content":"Weather in Oslo?"},{"role":"developer","content":"Be brief."}]`), nil, str("Be brief."))},
			want: `[` + user + `,` + sys + `]`},
		{name: "instructions alone", spans: []Span{gen("g1", 1, nil, nil, str("Be brief."))}, want: `[` + sys + `]`},
		{name: "content that is not messages", spans: []Span{gen("g1", 1, str(`{"city":"Oslo"}`), str(`{"temp":7}`), nil)},
			want: `[{"role":"user","parts":[{"type":"text","content":"{\"city\":\"Oslo\"}"}]},{"role":"assistant","parts":[{"type":"text","content":"{\"temp\":7}"}]}]`},
		{name: "openai tool calls and results",
			spans: []Span{gen("g1", 1, str(`[{"role":"user","content":"Weather in Oslo and Rome?"},{"role":"assistant","tool_calls":[`+
				`{"id":"a","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}},{"id":"b","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},`+
				`{"role":"tool","tool_call_id":"b","content":"hot"},{"role":"tool","tool_call_id":"a","content":"cold"}]`), str("Cold in Oslo, hot in Rome."), nil)},
			want: `[{"role":"user","parts":[{"type":"text","content":"Weather in Oslo and Rome?"}]},` +
				`{"role":"assistant","parts":[{"type":"tool_call","id":"a","name":"weather","arguments":{"city":"Oslo"}},{"type":"tool_call","id":"b","name":"weather","arguments":{"city":"Rome"}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"b","name":"weather","response":"hot"}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"a","name":"weather","response":"cold"}]},` +
				`{"role":"assistant","parts":[{"type":"text","content":"Cold in Oslo, hot in Rome."}]}]`},
		{name: "anthropic results in a user turn",
			spans: []Span{gen("g1", 1, str(`[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}},{"type":"tool_use","id":"t2","name":"g","input":{}}]},`+
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"1"},{"type":"tool_result","tool_use_id":"t2","content":"2"},{"type":"text","text":"Go on."}]}]`), nil, nil)},
			want: `[{"role":"assistant","parts":[{"type":"tool_call","id":"t1","name":"f","arguments":{}},{"type":"tool_call","id":"t2","name":"g","arguments":{}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"t1","name":"f","response":"1"}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"t2","name":"g","response":"2"}]},` +
				`{"role":"user","parts":[{"type":"text","content":"Go on."}]}]`},
		{name: "gemini calls without ids",
			spans: []Span{gen("g1", 1, str(`[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}}},{"functionCall":{"name":"g","args":{}}}]},`+
				`{"role":"user","parts":[{"functionResponse":{"name":"g","response":{"r":2}}},{"functionResponse":{"name":"f","response":{"r":1}}}]}]`),
				str(`[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":2}}}]}]`), nil)},
			want: `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"f","arguments":{"a":1}},{"type":"tool_call","id":"call_2","name":"g","arguments":{}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_2","name":"g","response":{"r":2}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","name":"f","response":{"r":1}}]},` +
				`{"role":"assistant","parts":[{"type":"tool_call","id":"call_3","name":"f","arguments":{"a":2}}]}]`},
		{name: "made-up ids skip the recorded ones, results without a name pair in order",
			spans: []Span{gen("g1", 1, str(`[{"role":"assistant","parts":[{"type":"tool_call","name":"f"},{"type":"tool_call","id":"call_1","name":"g"},{"type":"tool_call","name":"h"}]},`+
				`{"role":"tool","parts":[{"type":"tool_call_response","response":"f"},{"type":"tool_call_response","id":"call_1","response":"g"},{"type":"tool_call_response","response":"h"},{"type":"tool_call_response","id":"zz","response":"?"}]}]`), nil, nil)},
			want: `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_2","name":"f"},{"type":"tool_call","id":"call_1","name":"g"},{"type":"tool_call","id":"call_3","name":"h"}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_2","name":"f","response":"f"}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","name":"g","response":"g"}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_3","name":"h","response":"h"}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"zz","response":"?"}]}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conv, err := BuildConversation(c.spans, c.spanID)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				return
			}
			require.NoError(t, err)
			checkConversation(t, conv)
			got, err := json.Marshal(conv.Messages)
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(got))
		})
	}
}

func TestBuildConversationErrors(t *testing.T) {
	spans := []Span{{ID: "tool", Type: TypeTool}, {ID: "t2"}, {ID: "g", Type: TypeGeneration}}
	for _, c := range []struct {
		spanID, want string
	}{
		{"tool", `no generation: span tool is not a generation (type "tool")`},
		{"t2", `no generation: span t2 is not a generation (type "")`},
		{"x", "no generation: span x is not in the trace"},
		{"g", "no content to replay: generation g has no input, output or instructions"},
	} {
		_, err := BuildConversation(spans, c.spanID)
		assert.EqualError(t, err, c.want)
	}
	_, err := BuildConversation(spans[:2], "")
	assert.EqualError(t, err, "no generation: the trace has no generation")
}

func TestBuildConversationSpanIDCanonical(t *testing.T) {
	in := "Hi"
	spans := []Span{{ID: "0af76519-16cd-43dd-8448-eb211c80319c", Type: TypeGeneration, Input: &in}}
	c, err := BuildConversation(spans, "0AF7651916CD43DD8448EB211C80319C")
	require.NoError(t, err)
	assert.Equal(t, spans[0].ID, c.SpanID)
}

func TestBuildConversationModelAndParameters(t *testing.T) {
	in := "Hi"
	for _, c := range []struct {
		name         string
		model, req   string
		meta         Meta
		wantModel    string
		wantParams   string
		wantToolsLen int
	}{
		{name: "none", wantParams: `{}`},
		{name: "request model", req: "gpt-4o", wantModel: "gpt-4o", wantParams: `{}`},
		{name: "answering model first", model: "gpt-4o-2024-08-06", req: "gpt-4o", wantModel: "gpt-4o-2024-08-06", wantParams: `{}`},
		{name: "parameters as the translator stores them",
			meta:       Meta{{"model_parameters", json.RawMessage(`{"max_tokens":200,"response_format":"","seed":null,"temperature":0.2,"tool_choice":"{\"type\":\"auto\"}"}`)}},
			wantParams: `{"max_tokens":200,"temperature":0.2,"tool_choice":{"type":"auto"}}`},
		{name: "parameters as a map", meta: Meta{{"model_parameters", map[string]any{"top_p": 0.9, "stop": []any{"\n"}}}},
			wantParams: `{"top_p":0.9,"stop":["\n"]}`},
		{name: "parameters as JSON text", meta: Meta{{"model_parameters", `{"top_p":0.9}`}}, wantParams: `{"top_p":0.9}`},
		{name: "parameters not an object", meta: Meta{{"model_parameters", "warm"}}, wantParams: `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			conv, err := BuildConversation([]Span{{ID: "g", Type: TypeGeneration, Input: &in, Model: c.model, RequestModel: c.req, Meta: c.meta}}, "")
			require.NoError(t, err)
			assert.Equal(t, c.wantModel, conv.Model)
			params, err := json.Marshal(conv.Parameters)
			require.NoError(t, err)
			assert.JSONEq(t, c.wantParams, string(params))
			assert.NotNil(t, conv.Tools)
			assert.Empty(t, conv.Tools)
		})
	}
}

func TestBuildConversationTools(t *testing.T) {
	const weather = `{"type":"function","function":{"name":"weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}`
	const schema = `{"type":"object","properties":{"city":{"type":"string"}}}`
	for _, c := range []struct {
		name  string
		defs  any
		input string
		want  []string
	}{
		{name: "openai", defs: json.RawMessage(`[` + weather + `]`), want: []string{weather}},
		{name: "openai as JSON text", defs: `[` + weather + `]`, want: []string{weather}},
		{name: "semconv flat", defs: json.RawMessage(`[{"type":"function","name":"weather","description":"Weather of a city","parameters":` + schema + `}]`), want: []string{weather}},
		{name: "ai sdk v4: JSON text per tool", defs: json.RawMessage(`["{\"type\":\"function\",\"name\":\"weather\",\"description\":\"Weather of a city\",\"parameters\":` + strings.ReplaceAll(schema, `"`, `\"`) + `}"]`),
			want: []string{weather}},
		{name: "ai sdk v5+: inputSchema", defs: json.RawMessage(`[{"type":"function","name":"weather","inputSchema":` + schema + `,"description":"Weather of a city"}]`), want: []string{weather}},
		{name: "anthropic", defs: []any{map[string]any{"name": "weather", "description": "Weather of a city", "input_schema": json.RawMessage(schema)}}, want: []string{weather}},
		{name: "openinference", defs: []any{map[string]any{"tool": map[string]any{"json_schema": weather}}}, want: []string{weather}},
		{name: "gemini", defs: json.RawMessage(`[{"functionDeclarations":[{"name":"weather","description":"Weather of a city","parameters":` + schema + `},{"name":"time"}]}]`),
			want: []string{weather, `{"type":"function","function":{"name":"time"}}`}},
		{name: "strict kept", defs: json.RawMessage(`[{"type":"function","function":{"name":"f","strict":true,"parameters":{}}}]`),
			want: []string{`{"type":"function","function":{"name":"f","parameters":{},"strict":true}}`}},
		{name: "a single tool", defs: json.RawMessage(weather), want: []string{weather}},
		{name: "built-in tools kept as recorded", defs: json.RawMessage(`[{"type":"web_search_preview"},{"type":"function"},"lookup"]`),
			want: []string{`{"type":"web_search_preview"}`, `{"type":"function"}`, `"lookup"`}},
		{name: "text that is not JSON", defs: "weather, time"},
		{name: "langfuse: the request in the input", input: `{"messages":[{"role":"user","content":"Hi"}],"tools":[` + weather + `]}`, want: []string{weather}},
		{name: "meta over the input", defs: json.RawMessage(`[{"name":"time"}]`), input: `{"messages":[{"role":"user","content":"Hi"}],"tools":[` + weather + `]}`,
			want: []string{`{"type":"function","function":{"name":"time"}}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.input
			if in == "" {
				in = "Hi"
			}
			s := Span{ID: "g", Type: TypeGeneration, Input: &in}
			if c.defs != nil {
				s.Meta = Meta{{"tool_definitions", c.defs}}
			}
			conv, err := BuildConversation([]Span{s}, "")
			require.NoError(t, err)
			require.Len(t, conv.Tools, len(c.want), "%s", conv.Tools)
			for i := range c.want {
				assert.JSONEq(t, c.want[i], string(conv.Tools[i]))
			}
		})
	}
}

func FuzzBuildConversation(f *testing.F) {
	tr := New(Options{Retention: RetentionFull})
	for _, file := range otlpfixtures.Files(f, otlpDir) {
		for _, s := range tr.ToOpper(otlpfixtures.Load(f, file)) {
			if s.Type == TypeGeneration {
				f.Add(deref(s.Input), deref(s.Output), deref(s.Instructions), `[{"name":"f"}]`)
			}
		}
	}
	f.Add(`[{"role":"user","parts":[{"type":"tool_call_response","response":1},{"type":"tool_call"}]}]`, "", "", "")
	f.Add("", `[{"role":"tool","parts":[]}]`, " ", `{"tool":{"json_schema":"{\"tool\":{\"json_schema\":\"{}\"}}"}}`)
	f.Fuzz(func(t *testing.T, input, output, instructions, tools string) {
		s := Span{ID: "g", Type: TypeGeneration, Input: &input, Output: &output, Instructions: &instructions,
			Meta: Meta{{"tool_definitions", tools}, {"model_parameters", json.RawMessage(tools)}}}
		c, err := BuildConversation([]Span{s}, "")
		if err != nil {
			if !errors.Is(err, ErrNoContent) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		checkConversation(t, c)
		if len(c.Messages) == 0 {
			t.Fatal("a conversation without messages")
		}
	})
}
