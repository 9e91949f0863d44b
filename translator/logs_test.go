package translator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

func loadLogs(t testing.TB, name string) plog.Logs {
	raw, err := os.ReadFile(filepath.Join(otlpDir, name+".otlp-logs.json"))
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	require.NoError(t, err)
	return ld
}

// The log companion of a real trace (the npm OpenTelemetry OpenAI
// instrumentation, 0.22.0) carries the generation's messages: the mapping
// gives the span the input, output and instructions the same events on the
// span would give it.
func TestLogContentsFromRealInstrumentation(t *testing.T) {
	ld := loadLogs(t, "otel-genai-stream")
	contents, counts := New(Options{Retention: RetentionFull}).LogContents(ld)
	require.Len(t, contents, 1)
	assert.Equal(t, LogCounts{Joined: 3}, counts)
	lc := contents[0]
	assert.Equal(t, 3, lc.Records)

	// The span the records name is the trace fixture's generation.
	spans := New(Options{Retention: RetentionFull}).ToOpper(otlpfixtures.Load(t, filepath.Join(otlpDir, "otel-genai-stream.otlp.json")))
	var ids []string
	for _, s := range spans {
		ids = append(ids, s.ID)
	}
	assert.Contains(t, ids, lc.SpanID)

	require.NotNil(t, lc.Input)
	require.NotNil(t, lc.Output)
	require.NotNil(t, lc.Instructions)
	assert.Equal(t, "You answer in one short sentence.", *lc.Instructions)
	in, ok := NormalizeMessages(*lc.Input, InputSide)
	require.True(t, ok)
	require.Len(t, in, 2)
	assert.Equal(t, "system", in[0].Role)
	assert.Equal(t, "user", in[1].Role)
	assert.Equal(t, "How tall is the Eiffel Tower?", in[1].Parts[0].Content)
	out, ok := NormalizeMessages(*lc.Output, OutputSide)
	require.True(t, ok)
	require.Len(t, out, 1)
	assert.Equal(t, "assistant", out[0].Role)
	assert.Equal(t, "The Eiffel Tower is about 330 metres tall.", out[0].Parts[0].Content)

	// Under metadata retention the records add no content.
	contents, _ = New(Options{Retention: RetentionMetadata}).LogContents(ld)
	require.Len(t, contents, 1)
	assert.Nil(t, contents[0].Input)
	assert.Nil(t, contents[0].Output)
	assert.Nil(t, contents[0].Instructions)
}

// Records that are not GenAI events, and GenAI records without a span,
// are counted and left out; records of two spans make two contents, in
// order; a body that is not a map is the message's content; event_name
// wins over the event.name attribute; evaluations become metrics.
func TestLogContentsSortsRecords(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	tid := pcommon.TraceID{1, 2, 3}
	a, b := pcommon.SpanID{1}, pcommon.SpanID{2}
	add := func(name string, span pcommon.SpanID, body string) plog.LogRecord {
		lr := lrs.AppendEmpty()
		lr.SetEventName(name)
		if !span.IsEmpty() {
			lr.SetTraceID(tid)
			lr.SetSpanID(span)
		}
		lr.SetTimestamp(1000)
		if body != "" {
			lr.Body().SetStr(body)
		}
		return lr
	}
	add("http.request", a, "not genai")
	add("gen_ai.user.message", pcommon.SpanID{}, "no span")
	add("gen_ai.user.message", b, "question for b")
	old := lrs.AppendEmpty() // an older SDK: the name in event.name
	old.Attributes().PutStr("event.name", "gen_ai.user.message")
	old.SetTraceID(tid)
	old.SetSpanID(a)
	old.Body().SetEmptyMap().PutStr("content", "question for a")
	eval := add("gen_ai.evaluation.result", a, "")
	eval.Attributes().PutStr("gen_ai.evaluation.name", "relevance")
	eval.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.8)

	contents, counts := New(Options{Retention: RetentionFull}).LogContents(ld)
	assert.Equal(t, LogCounts{Joined: 3, NotGenAI: 1, NoSpan: 1}, counts)
	require.Len(t, contents, 2)
	assert.Equal(t, SpanUUID(tid, b), contents[0].SpanID, "in the order their spans first appear")
	assert.Equal(t, TraceUUID(tid), contents[0].TraceID)
	assert.Contains(t, *contents[0].Input, "question for b")
	assert.Equal(t, SpanUUID(tid, a), contents[1].SpanID)
	assert.Equal(t, 2, contents[1].Records)
	assert.Contains(t, *contents[1].Input, "question for a")
	require.Len(t, contents[1].Metrics, 1)
	assert.Equal(t, "relevance", contents[1].Metrics[0].Dimension)
	assert.InDelta(t, 0.8, contents[1].Metrics[0].Value, 1e-9)
}

// FuzzLogContents: any logs payload maps without a panic, to contents of
// valid UTF-8, with every record counted once.
func FuzzLogContents(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(otlpDir, "*.otlp-logs.json"))
	require.NoError(f, err)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(raw)
	}
	const ids = `"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"`
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"gen_ai.choice","traceId":"01","spanId":"02","body":{"arrayValue":{"values":[{"kvlistValue":{}}]}}}]}]}]}`))
	// Bodies of every shape: a kvlist of kvlists, bytes, a bare string
	// with invalid UTF-8, a huge value, an operation-details record whose
	// messages are not JSON.
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"gen_ai.user.message",` + ids + `,"body":{"kvlistValue":{"values":[{"key":"content","value":{"kvlistValue":{"values":[{"key":"x","value":{"bytesValue":"/w=="}}]}}}]}}}]}]}]}`))
	f.Add([]byte("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"eventName\":\"gen_ai.assistant.message\"," + ids + ",\"body\":{\"stringValue\":\"\xff\xfe ok \xc3\"}}]}]}]}"))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"gen_ai.choice",` + ids + `,"body":{"kvlistValue":{"values":[{"key":"message","value":{"stringValue":"` + strings.Repeat("a", 1<<20) + `"}}]}}}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"gen_ai.client.inference.operation.details",` + ids + `,"attributes":[{"key":"gen_ai.input.messages","value":{"stringValue":"[{\"role\":"}},{"key":"gen_ai.output.messages","value":{"arrayValue":{"values":[{"intValue":"3"}]}}}]}]}]}]}`))
	tr := New(Options{Retention: RetentionFull, MaxFieldBytes: 1 << 10})
	f.Fuzz(func(t *testing.T, raw []byte) {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
		if err != nil {
			return
		}
		contents, counts := tr.LogContents(ld)
		assert.Equal(t, ld.LogRecordCount(), counts.Joined+counts.NotGenAI+counts.NoSpan)
		for _, c := range contents {
			for _, v := range []*string{c.Input, c.Output, c.Instructions} {
				if v != nil {
					assert.True(t, utf8.ValidString(*v))
					assert.LessOrEqual(t, len(*v), 1<<10+len(TruncateMarker))
				}
			}
			assert.False(t, strings.ContainsRune(c.SpanID, utf8.RuneError))
		}
	})
}

// The privacy promise holds for records as for spans: under metadata
// retention no log companion adds any content to its span, while under
// full retention each adds some (the records are read, not skipped).
func TestLogContentsMetadataRetention(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(otlpDir, "*.otlp-logs.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".otlp-logs.json")
		ld := loadLogs(t, name)
		full, _ := New(Options{Retention: RetentionFull}).LogContents(ld)
		some := false
		for _, lc := range full {
			some = some || lc.Input != nil || lc.Output != nil
		}
		assert.True(t, some, "%s: full retention reads the records' content", name)
		meta, _ := New(Options{Retention: RetentionMetadata}).LogContents(ld)
		require.Len(t, meta, len(full))
		for _, lc := range meta {
			assert.Nil(t, lc.Input, name)
			assert.Nil(t, lc.Output, name)
			assert.Nil(t, lc.Instructions, name)
		}
	}
}
