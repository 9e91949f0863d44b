package opperreceiver

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// TestV3SDKFlow replays what the v3 SDKs send while tracing (opper-api.md
// section 3): POST at start, one PATCH at the end, nested spans created
// with the parent's ids, inner spans patched first, the Python SDK's
// orphan sibling, and both ways of reading GET /v3/traces/{id}. It runs
// against the whole receiver over SQLite, with forwarding on.
func TestV3SDKFlow(t *testing.T) {
	sink := new(consumertest.TracesSink)
	_, url := startReceiver(t, sink, nil, func(cfg *Config) {
		cfg.APIKeys = []APIKeyConfig{{Key: "op-test-key", Project: "p"}}
	})
	ta := &testAPI{t: t, url: url, key: "op-test-key"}
	pyNow := func() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00") }

	// TS v4 traced(): outer root, no trace id.
	outer := ta.mustJSON(200, "POST", "/v3/spans", map[string]any{
		"name": "agent run", "start_time": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"input": "what is 2+2?", "meta": map[string]any{"user": "u1"}, "tags": map[string]any{"env": true},
	})
	outerID, traceID := get(outer, "data", "id").(string), get(outer, "data", "trace_id").(string)
	require.NotEmpty(t, outerID)
	require.NotEmpty(t, traceID)
	assert.Equal(t, "agent run", get(outer, "data", "name"))

	// A nested tool span, with the parent's ids (Python timestamps).
	inner := ta.mustJSON(200, "POST", "/v3/spans", map[string]any{
		"name": "calculator", "type": "tool", "trace_id": traceID, "parent_id": outerID,
		"start_time": pyNow(), "input": `{"a":2,"b":2}`, "tags": map[string]any{"tool": true},
	})
	innerID := get(inner, "data", "id").(string)
	assert.Equal(t, traceID, get(inner, "data", "trace_id"))
	assert.Equal(t, outerID, get(inner, "data", "parent_id"))
	assert.Equal(t, "tool", get(inner, "data", "type"))

	// Python's sibling bug: the second child of the same outer span comes
	// without trace_id/parent_id and becomes a root of its own.
	orphan := ta.mustJSON(200, "POST", "/v3/spans", map[string]any{"name": "second child", "start_time": pyNow()})
	orphanTrace := get(orphan, "data", "trace_id").(string)
	assert.NotEqual(t, traceID, orphanTrace)
	assert.Nil(t, get(orphan, "data", "parent_id"))

	// Inner spans are patched before outer ones: {end_time} (+output/error).
	ta.mustJSON(200, "PATCH", "/v3/spans/"+innerID, map[string]any{"end_time": pyNow(), "output": `{"result":4}`})
	ta.mustJSON(200, "PATCH", "/v3/spans/"+orphanID(orphan), map[string]any{"end_time": pyNow(), "error": "ValueError: nope"})
	patched := ta.mustJSON(200, "PATCH", "/v3/spans/"+outerID, map[string]any{"end_time": time.Now().UTC().Format(time.RFC3339Nano),
		"metadata": map[string]any{"k": "v"}})
	assert.Equal(t, "ok", get(patched, "data", "status"))

	// Events.
	ev := ta.mustJSON(200, "POST", "/v3/spans/"+innerID+"/events", map[string]any{"kind": "evaluation", "data": map[string]any{"score": 0.8}})
	assert.Equal(t, "evaluation", get(ev, "data", "kind"))
	assert.Equal(t, "api", get(ev, "data", "source"))
	assert.Len(t, ta.mustJSON(200, "GET", "/v3/spans/"+innerID+"/events?kind=evaluation", nil)["data"], 1)
	assert.Empty(t, ta.mustJSON(200, "GET", "/v3/spans/"+innerID+"/events?kind=feedback", nil)["data"])
	assert.Len(t, ta.mustJSON(200, "GET", "/v3/traces/"+traceID+"/events", nil)["data"], 1)

	// GET span: enveloped.
	span := ta.mustJSON(200, "GET", "/v3/spans/"+innerID, nil)
	assert.Equal(t, `{"a":2,"b":2}`, get(span, "data", "input"))
	assert.Equal(t, `{"result":4}`, get(span, "data", "output"))
	assert.Equal(t, true, get(span, "data", "tags", "tool"))

	// GET trace: the spec's {"data":{...}} for TS, the same at the top
	// level for Python's traces.get.
	tr := ta.mustJSON(200, "GET", "/v3/traces/"+traceID, nil)
	for _, view := range []any{tr["data"], tr} {
		assert.Equal(t, traceID, get(view, "id"))
		assert.EqualValues(t, 2, get(view, "span_count"))
		assert.Equal(t, "agent run", get(view, "name"))
		assert.Equal(t, "ok", get(view, "status"))
		require.Len(t, get(view, "spans"), 2)
		assert.Equal(t, outerID, get(view, "spans", 0, "id"))
		assert.Equal(t, traceID, get(view, "spans", 1, "trace_id"))
		assert.Len(t, get(view, "events"), 1)
	}

	// List (Python form-encodes: space as +).
	list := ta.mustJSON(200, "GET", "/v3/traces?limit=10&offset=0&name=AGENT+run", nil)
	assert.EqualValues(t, 1, get(list, "meta", "total_count"))
	assert.EqualValues(t, 2, get(list, "data", 0, "span_count"))
	all := ta.mustJSON(200, "GET", "/v3/traces", nil)
	assert.EqualValues(t, 2, get(all, "meta", "total_count"))
	assert.Len(t, ta.mustJSON(200, "GET", "/v3/traces?status=error", nil)["data"], 1)

	// Everything ended, so everything reaches the pipeline.
	require.Eventually(t, func() bool { return sink.SpanCount() == 3 }, 5*time.Second, 10*time.Millisecond)

	// Delete the trace: gone, with its events.
	ta.mustJSON(http.StatusNoContent, "DELETE", "/v3/traces/"+traceID, nil)
	ta.mustJSON(404, "GET", "/v3/traces/"+traceID, nil)
	ta.mustJSON(404, "GET", "/v3/spans/"+innerID, nil)
	ta.mustJSON(http.StatusNoContent, "DELETE", "/v3/spans/"+orphanID(orphan), nil)
	assert.EqualValues(t, 0, get(ta.mustJSON(200, "GET", "/v3/traces", nil), "meta", "total_count"))
}

func orphanID(created map[string]any) string { return get(created, "data", "id").(string) }
