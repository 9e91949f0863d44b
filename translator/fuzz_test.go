package translator

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/opperapi"
)

// fuzzKeys are attribute keys whose values the translator parses or
// interprets: every convention's content, usage, type and metadata keys.
var fuzzKeys = []string{
	"gen_ai.operation.name", "openinference.span.kind", "langfuse.observation.type", "ai.operationId", "operation.name",
	"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "ai.prompt", "ai.prompt.messages",
	"ai.values", "ai.embeddings", "langfuse.observation.usage_details", "langfuse.observation.cost_details",
	"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.total_tokens", "llm.token_count.prompt",
	"ai.usage.tokens", "gen_ai.usage.cost", "llm.invocation_parameters", "metadata", "langfuse.trace.tags", "tag.tags",
	"gen_ai.response.finish_reasons", "gen_ai.tool.definitions", "langfuse.observation.completion_start_time",
	"opper.meta", "opper.span.id", "opper.trace.id", "traceloop.entity.input", "input.value",
	"llm.input_messages.0.message.content", "gen_ai.prompt.99999999.role", "retrieval.documents.1.document.content",
}

func FuzzToOpper(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","name":"x","attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"7"}}]}]}]}]}`),
		"gen_ai.operation.name", "chat", int64(3), 1.5, uint8(3), uint64(10), uint64(5), []byte{1}, []byte{})
	// No NaN or infinite float seeds: Go's float mutator can loop forever
	// on them. The function derives those values from ival instead.
	f.Add([]byte("{}"), "llm.input_messages.7.message.role", "{\"role\":\"system\",\"content\":", int64(-1), 0.5, uint8(40), uint64(0), uint64(0), []byte{}, []byte{})
	f.Add([]byte("null"), "x", "\xff\xfe invalid utf-8 \xc3", int64(math.MaxInt64), -3.0, uint8(200), uint64(math.MaxUint64), uint64(1), make([]byte, 16), make([]byte, 8))

	tr := New(Options{Retention: RetentionFull, MaxFieldBytes: 4096})
	f.Fuzz(func(t *testing.T, doc []byte, key, sval string, ival int64, fval float64, depth uint8, start, end uint64, tid, sid []byte) {
		switch ival % 7 {
		case 1:
			fval = math.NaN()
		case 2:
			fval = math.Inf(1)
		case 3:
			fval = math.Inf(-1)
		}
		if td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc); err == nil {
			checkTranslation(t, tr, td)
		}
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr(key, sval)
		span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		var traceID pcommon.TraceID
		var spanID pcommon.SpanID
		copy(traceID[:], tid)
		copy(spanID[:], sid)
		span.SetTraceID(traceID)
		span.SetSpanID(spanID)
		span.SetParentSpanID(spanID)
		span.SetName(sval)
		span.SetStartTimestamp(pcommon.Timestamp(start))
		span.SetEndTimestamp(pcommon.Timestamp(end))
		attrs := span.Attributes()
		for i, k := range fuzzKeys {
			switch i % 4 {
			case 0:
				attrs.PutStr(k, sval)
			case 1:
				attrs.PutInt(k, ival)
			case 2:
				attrs.PutDouble(k, fval)
			default:
				s := attrs.PutEmptySlice(k)
				s.AppendEmpty().SetStr(sval)
				s.AppendEmpty().SetDouble(fval)
			}
		}
		attrs.PutStr(key, sval)
		nested := attrs.PutEmptyMap("deep")
		for i := 0; i < int(depth); i++ {
			nested = nested.PutEmptyMap(sval)
		}
		nested.PutDouble("leaf", fval)
		ev := span.Events().AppendEmpty()
		ev.SetName("gen_ai.choice")
		ev.Attributes().PutStr("message", sval)
		ev = span.Events().AppendEmpty()
		ev.SetName("exception")
		ev.Attributes().PutStr("exception.message", sval)
		span.Status().SetCode(ptrace.StatusCode(ival & 3))
		checkTranslation(t, tr, td)
	})
}

// FuzzOTLPJSON mutates the real payloads themselves: whatever OTLP/JSON
// the collector accepts, the translator must take.
func FuzzOTLPJSON(f *testing.F) {
	for _, file := range otlpfixtures.Files(f, otlpDir) {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	tr := New(Options{Retention: RetentionFull, MaxFieldBytes: 4096})
	f.Fuzz(func(t *testing.T, doc []byte) {
		if td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc); err == nil {
			checkTranslation(t, tr, td)
		}
	})
}

// checkTranslation is the fuzz property: no panic anywhere, every body the
// exporter would send is valid JSON, and the reverse direction holds.
func checkTranslation(t *testing.T, tr *Translator, td ptrace.Traces) {
	spans := tr.ToOpper(td)
	if len(spans) != td.SpanCount() {
		t.Fatalf("spans lost: %d in, %d out", td.SpanCount(), len(spans))
	}
	for i := range spans {
		body := AppendCreateSpanV2(nil, &spans[i])
		if !json.Valid(body) {
			t.Fatalf("invalid JSON body: %q", body)
		}
		req := CreateSpanRequestV3(&spans[i], "t", "p")
		if _, err := json.Marshal(req); err != nil {
			t.Fatalf("v3 body: %v", err)
		}
	}
	_ = RollUp(spans)
	_ = ToOTLP(spans, nil)
}

func TestHugeAndHostileValues(t *testing.T) {
	huge := strings.Repeat("é", 5<<20) // 10 MB of two-byte runes
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("chat")
	span.SetStartTimestamp(2000)
	span.SetEndTimestamp(1000) // ends before it starts
	attrs := span.Attributes()
	attrs.PutStr("gen_ai.operation.name", "chat")
	attrs.PutStr("gen_ai.input.messages", huge)
	attrs.PutStr("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"cut`) // truncated JSON
	attrs.PutDouble("gen_ai.usage.input_tokens", math.NaN())
	attrs.PutStr("llm.input_messages.99999999.message.role", "user")
	attrs.PutStr("junk", strings.Repeat("x", 1<<20))

	tr := New(Options{Retention: RetentionFull, MaxFieldBytes: 64 << 10})
	spans := tr.ToOpper(td)
	require.Len(t, spans, 1)
	s := spans[0]
	assert.NotEmpty(t, s.ID, "empty OTel ids get synthetic ones")
	assert.LessOrEqual(t, len(*s.Input), 64<<10)
	assert.True(t, utf8.ValidString(*s.Input), "cut on a rune boundary")
	assert.True(t, strings.HasSuffix(*s.Input, TruncateMarker))
	assert.Equal(t, int64(len(huge)), s.Meta.Value("truncated").(map[string]any)["input"])
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"text","content":"cut`, *s.Output, "truncated JSON is kept as text")
	assert.False(t, s.EndTime.Before(s.StartTime))
	otel := mustMap(t, s.Meta.Value("otel"))
	assert.Equal(t, true, otel["truncated"], "meta.otel over its cap is cut and says so")
	body := AppendCreateSpanV2(nil, &s)
	assert.True(t, json.Valid(body))
	assert.Less(t, len(body), 200<<10)
}

// FuzzJSONScan checks the minimal scanner against encoding/json: it never
// panics or reads out of bounds, and on any object encoding/json accepts it
// finds the same keys with the same values.
func FuzzJSONScan(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"u"}]}]}`,
		`[{"role":"developer","parts":[{"type":"text","content":"p"}]}]`,
		`{"a":"\"}","b":[1,{"c":null}],"d":-1.5e3,"e":true}`, `{"a":`, `{"a" 1}`, `[`, `"`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		c := spanCtx{out: &Span{}, otel: &otelMeta{}}
		_, _ = c.systemMessage(doc)
		var want map[string]json.RawMessage
		got := map[string]string{}
		end := objectFields(doc, skipSpace(doc, 0), func(k, v string) bool {
			got[k] = v
			return true
		})
		// Escapes and invalid UTF-8 make encoding/json rewrite keys; the
		// scanner keeps them raw, so only plain documents compare.
		if json.Unmarshal([]byte(doc), &want) != nil || strings.ContainsRune(doc, '\\') || !utf8.ValidString(doc) {
			return
		}
		if end < 0 {
			t.Fatalf("scanner rejected an object encoding/json accepts: %q", doc)
		}
		for k, v := range want {
			if strings.TrimSpace(got[k]) != strings.TrimSpace(string(v)) && len(want) == len(got) {
				t.Fatalf("key %q: scanner %q, encoding/json %q", k, got[k], v)
			}
		}
	})
}

// FuzzJSONString: the fast string encoder always yields valid JSON that
// decodes to the input (with invalid UTF-8 replaced, as encoding/json does).
func FuzzJSONString(f *testing.F) {
	for _, seed := range []string{"", "plain ascii text of some length", "quote\" back\\slash\n\t\x01", "é ü 日本 \u2028 <a&b>", "\xff\xfe bad", "12345678\"12345678"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", enc, s, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("round trip of %q: got %q, want %q", s, back, wantBack)
		}
	})
}

// FuzzWireMeta: the scanning meta decoder the receiver uses takes the same
// structured fields as the decoding one, for any object a client can send.
func FuzzWireMeta(f *testing.F) {
	for _, seed := range []string{
		`{"model":"gpt-4o","usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7},"cost":0.5,"tags":{"a":true,"b":false},"k":[1,{"x":"y"}]}`,
		`{"model":5,"tags":["x","y"],"usage_aggregate":{"input_tokens":1},"cost_aggregate":2,"instructions":"be \"brief\"","m\u006fdel":"escaped key"}`,
		`{"total_tokens":12,"input_is_json":true,"user_id":null}`, `{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var probe map[string]any
		if json.Unmarshal([]byte(doc), &probe) != nil {
			return
		}
		var fast, slow Span
		errFast := fast.mergeWireMeta(opperapi.Object(doc))
		errSlow := slow.mergeWireMetaDecoded(opperapi.Object(doc))
		if errSlow != nil {
			return
		}
		if errFast != nil {
			t.Fatalf("fast path failed on %q: %v", doc, errFast)
		}
		if fast.Model != slow.Model || fast.Provider != slow.Provider || fast.Aggregate != slow.Aggregate ||
			(fast.Usage == nil) != (slow.Usage == nil) || (fast.Cost == nil) != (slow.Cost == nil) {
			t.Fatalf("%q: fast %+v, slow %+v", doc, fast, slow)
		}
		if fast.Usage != nil && *fast.Usage != *slow.Usage {
			t.Fatalf("%q: usage %+v vs %+v", doc, *fast.Usage, *slow.Usage)
		}
		if len(fast.Meta) != len(slow.Meta) {
			t.Fatalf("%q: meta keys %v vs %v", doc, fast.Meta, slow.Meta)
		}
		if !json.Valid(AppendCreateSpanV2(nil, &fast)) {
			t.Fatalf("invalid body from %q", doc)
		}
	})
}

// FuzzUnquoteJSON checks the string decoder against encoding/json: the same
// text for every input encoding/json takes as a string, a refusal for every
// one it refuses.
func FuzzUnquoteJSON(f *testing.F) {
	for _, seed := range []string{`"plain"`, `"a\nb\t\"c\"\\"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\udc00x"`,
		`"\ud800\u0041"`, "\"\xff\xfe\"", `"\/\b\f\r"`, `"\x"`, `"\u12"`, `"`, `""`, "\"\x01\"", `"a"b"`, `"\ud83d\ude0"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var want string
		wantErr := json.Unmarshal([]byte(v), &want)
		got, ok := unquoteJSON(v)
		if wantErr != nil {
			// encoding/json also takes surrounding space; unquoteJSON is
			// only given trimmed values.
			if ok && strings.TrimSpace(v) == v {
				t.Fatalf("%q: accepted %q, encoding/json refused: %v", v, got, wantErr)
			}
			return
		}
		if strings.TrimSpace(v) != v {
			return
		}
		if !ok || got != want {
			t.Fatalf("%q: got %q (%v), want %q", v, got, ok, want)
		}
	})
}

// rawTextReference is rawText as it was written with encoding/json, kept to
// check the scanner version against.
func rawTextReference(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if len(raw) == 0 {
		return "", true
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal([]byte(raw), &s)
		return s, err == nil
	case '[':
		var parts []json.RawMessage
		if json.Unmarshal([]byte(raw), &parts) != nil {
			return "", false
		}
		var b strings.Builder
		for _, p := range parts {
			var text string
			if len(p) > 0 && p[0] == '"' {
				_ = json.Unmarshal(p, &text)
			} else {
				var part struct {
					Type    string `json:"type"`
					Content string `json:"content"`
					Text    string `json:"text"`
				}
				if json.Unmarshal(p, &part) != nil || part.Type != "" && part.Type != "text" && part.Type != "input_text" {
					continue
				}
				text = part.Content
				if text == "" {
					text = part.Text
				}
			}
			if text == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(text)
		}
		return b.String(), true
	}
	return "", json.Valid([]byte(raw))
}

// FuzzRawText checks the scanner's reading of content values against
// encoding/json's.
func FuzzRawText(f *testing.F) {
	for _, seed := range []string{`"a\nb"`, `[{"type":"text","text":"x"},"y",{"type":"image","text":"z"}]`,
		`[{"Type":"text","Content":"c"},{"type":null,"content":null,"text":"t"},{"type":5},{"content":[1]}]`,
		`[1,null,[],{}]`, `[{"type":"input_text","content":"a"},{"text":"b","type":"text","text":"c"}]`, `{"a":1}`, `[`, `12`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, gotOK := rawText(raw)
		want, wantOK := rawTextReference(raw)
		if got != want || gotOK != wantOK {
			t.Fatalf("%q: got %q %v, want %q %v", raw, got, gotOK, want, wantOK)
		}
	})
}

// An oversized attribute costs meta.otel only itself: the resource
// (service.name) and the other attributes stay, and the cut is counted.
func TestOversizedAttributeKeepsTheResource(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("host.name", strings.Repeat("h", 2000))
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("work")
	span.SetStartTimestamp(1000)
	span.SetEndTimestamp(2000)
	span.Attributes().PutStr("app.blob", strings.Repeat("x", 10<<20))
	span.Attributes().PutStr("app.small", "kept")
	ev := span.Events().AppendEmpty()
	ev.SetName("big event")
	ev.Attributes().PutStr("payload", strings.Repeat("y", 30<<10))
	span.Events().AppendEmpty().SetName("small event")

	s := New(Options{Retention: RetentionFull}).ToOpper(td)[0]
	otel := mustMap(t, s.Meta.Value("otel"))
	resource := mustMap(t, otel["resource"])
	assert.Equal(t, "checkout", resource["service.name"], "the resource keeps service.name")
	assert.Equal(t, "checkout", ServiceName(&s))
	attrs := mustMap(t, otel["attributes"])
	assert.Equal(t, "kept", attrs["app.small"])
	assert.NotContains(t, attrs, "app.blob")
	assert.Equal(t, true, otel["truncated"])
	assert.Equal(t, int64(2), otel["dropped_keys"], "the blob and the large event, nothing else")
	events, _ := otel["events"].([]any)
	require.Len(t, events, 1, "the large event goes, the small one stays")
	assert.Contains(t, fmt.Sprint(events[0]), "small event")
}
