package opperreceiver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

func TestV2CreateAssignsIDs(t *testing.T) {
	ta := newTestAPI(t, nil)
	before := time.Now().UTC()

	// A root without ids: the span id is new and starts its own trace.
	root := ta.mustJSON(200, "POST", "/v2/spans", `{"name":"n","trace_id":null,"parent_id":null,"meta":null}`)
	id := root["id"].(string)
	assert.Len(t, id, 36)
	assert.Equal(t, id, root["trace_id"])
	start, err := time.Parse(time.RFC3339Nano, root["start_time"].(string))
	require.NoError(t, err)
	assert.False(t, start.Before(before.Truncate(time.Second)), "missing start_time is now")

	// A child naming a known parent takes the parent's trace.
	child := ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "c", "parent_id": id})
	assert.Equal(t, id, child["trace_id"])

	// A child whose parent has not arrived takes the parent's id as trace
	// id; the parent, arriving as a root without a trace id, gets the same.
	early := ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "early", "parent_id": "6F9619FF-8B86-D011-B42D-00C04FC964FF"})
	parentID := "6f9619ff-8b86-d011-b42d-00c04fc964ff"
	assert.Equal(t, parentID, early["trace_id"], "ids are canonical lower-case UUIDs")
	parent := ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "late parent", "id": parentID})
	assert.Equal(t, parentID, parent["trace_id"])
	tr := ta.mustJSON(200, "GET", "/v2/traces/"+parentID, nil)
	assert.EqualValues(t, 2, tr["span_count"])
	assert.Equal(t, "late parent", tr["name"])
}

func TestV2CreateIsIdempotent(t *testing.T) {
	ta := newTestAPI(t, nil)
	body := map[string]any{"name": "s", "id": "a1", "trace_id": "t1", "start_time": "2024-03-20T10:00:00Z"}
	for range 3 {
		ta.mustJSON(200, "POST", "/v2/spans", body)
	}
	body["end_time"] = "2024-03-20T10:00:01.5Z"
	ta.mustJSON(200, "POST", "/v2/spans", body)
	tr := ta.mustJSON(200, "GET", "/v2/traces/t1", nil)
	assert.EqualValues(t, 1, tr["span_count"])
	assert.EqualValues(t, 1500, tr["duration_ms"])
}

func TestV2SpanLifecycle(t *testing.T) {
	ta := newTestAPI(t, nil)
	traceID := "3c90c3cc-0d44-4b50-8888-8dd25736052a"
	rootID := "11111111-1111-4111-8111-111111111111"
	genID := "22222222-2222-4222-8222-222222222222"

	// Child first, with structured input and usage in meta.
	gen := ta.mustJSON(200, "POST", "/v2/spans", map[string]any{
		"name": "llm call", "id": genID, "trace_id": traceID, "parent_id": rootID, "type": "generation",
		"start_time": "2024-03-20T08:00:01Z", "end_time": "2024-03-20T08:00:02.25Z",
		"input": map[string]any{"question": "hi"}, "output": "hello",
		"meta": map[string]any{"model": "gpt-4o", "usage": map[string]any{"input_tokens": 10, "output_tokens": 5}, "cost": 0.002},
	})
	assert.Equal(t, map[string]any{"question": "hi"}, gen["input"], "create answers input as sent")
	ta.mustJSON(200, "POST", "/v2/spans", map[string]any{
		"name": "my workflow", "id": rootID, "trace_id": traceID, "type": "workflow",
		"start_time": "2024-03-20T10:00:00+02:00", "input": "question?",
		"meta": map[string]any{"tags": []string{"prod"}},
	})

	// PATCH ends the root; answers the full span.
	upd := ta.mustJSON(200, "PATCH", "/v2/spans/"+rootID, map[string]any{
		"end_time": "2024-03-20T08:00:03Z", "output": "final output", "meta": map[string]any{"done": true}, "score": 3,
	})
	assert.Equal(t, "my workflow", upd["name"])
	assert.Equal(t, "final output", upd["output"])
	assert.EqualValues(t, 3, upd["score"])
	assert.Equal(t, true, get(upd, "meta", "done"))

	// Metrics.
	m := ta.mustJSON(200, "POST", "/v2/spans/"+genID+"/metrics", map[string]any{"dimension": "accuracy", "value": 0.9, "comment": "c"})
	metricID := m["id"].(string)
	assert.Equal(t, genID, m["span_id"])
	_, err := time.Parse(time.RFC3339Nano, m["created_at"].(string))
	require.NoError(t, err)
	list := ta.mustJSON(200, "GET", "/v2/spans/"+genID+"/metrics?limit=100&offset=0", nil)
	assert.EqualValues(t, 1, get(list, "meta", "total_count"))
	assert.Equal(t, metricID, get(list, "data", 0, "id"))
	m = ta.mustJSON(200, "PATCH", "/v2/spans/"+genID+"/metrics/"+metricID, map[string]any{"value": 0.5})
	assert.InDelta(t, 0.5, m["value"], 1e-9)
	assert.Equal(t, "accuracy", m["dimension"])
	ta.mustJSON(200, "GET", "/v2/spans/"+genID+"/metrics/"+metricID, nil)

	// Feedback shows on the span.
	fb := ta.mustJSON(200, "POST", "/v2/spans/"+rootID+"/feedback", map[string]any{"score": 1, "comment": "nice", "save_to_dataset": true})
	assert.Equal(t, true, fb["example_saved"])
	got := ta.mustJSON(200, "GET", "/v2/spans/"+rootID, nil, "Content-Type", "application/json")
	assert.InDelta(t, 1.0, get(got, "feedback", "score"), 1e-9)
	assert.Equal(t, "nice", get(got, "feedback", "comment"))

	// save_examples: 201, ids, the span's content.
	ex := ta.mustJSON(201, "POST", "/v2/spans/"+rootID+"/save_examples", nil)
	assert.NotEmpty(t, ex["dataset_id"])
	assert.NotEmpty(t, ex["dataset_entry_id"])
	assert.Equal(t, "question?", ex["input"])
	assert.Equal(t, "final output", ex["output"])
	events, err := ta.store.ListEvents(context.Background(), DefaultProject, traceID, rootID, eventKindDatasetExample)
	require.NoError(t, err)
	assert.Len(t, events, 2, "feedback with save_to_dataset and save_examples each record an example")

	// The trace: roll-up and SpanSchema spans with content as strings.
	tr := ta.mustJSON(200, "GET", "/v2/traces/"+traceID, nil)
	assert.Equal(t, traceID, tr["id"])
	assert.Equal(t, "my workflow", tr["name"])
	assert.EqualValues(t, 3000, tr["duration_ms"])
	assert.EqualValues(t, 15, tr["total_tokens"])
	assert.EqualValues(t, 2, tr["span_count"])
	assert.Equal(t, "ok", tr["status"])
	assert.Equal(t, "question?", tr["input"])
	spans := tr["spans"].([]any)
	require.Len(t, spans, 2)
	assert.Equal(t, rootID, get(spans, 0, "id"))
	assert.Equal(t, `{"question":"hi"}`, get(spans, 1, "data", "input"))
	assert.EqualValues(t, 1250, get(spans, 1, "duration_ms"))
	assert.EqualValues(t, 15, get(spans, 1, "data", "total_tokens"))
	assert.Equal(t, "gpt-4o", get(spans, 1, "data", "model"))
	assert.Equal(t, metricID, get(spans, 1, "metrics", 0, "id"))
	assert.NotNil(t, get(spans, 1, "metrics", 0, "created_at"))

	// The list item.
	items := ta.mustJSON(200, "GET", "/v2/traces?limit=100&name=MY+work&offset=0", nil)
	assert.EqualValues(t, 1, get(items, "meta", "total_count"))
	item := get(items, "data", 0)
	assert.EqualValues(t, 2, get(item, "span_count"))
	assert.EqualValues(t, 1, get(item, "type_counts", "generation"))
	assert.EqualValues(t, 15, get(item, "total_tokens"))
	assert.InDelta(t, 0.002, get(item, "cost"), 1e-12)
	assert.Equal(t, "2 steps, 1 generation, 1 workflow", get(item, "summary"))
	assert.Equal(t, "final output", get(item, "output"))

	// Deletes.
	ta.mustJSON(204, "DELETE", "/v2/spans/"+genID+"/metrics/"+metricID, nil)
	ta.mustJSON(404, "GET", "/v2/spans/"+genID+"/metrics/"+metricID, nil)
	ta.mustJSON(204, "DELETE", "/v2/spans/"+genID, nil)
	ta.mustJSON(404, "GET", "/v2/spans/"+genID, nil)
	assert.EqualValues(t, 1, ta.mustJSON(200, "GET", "/v2/traces/"+traceID, nil)["span_count"])
}

func TestV2TraceListFilters(t *testing.T) {
	ta := newTestAPI(t, nil)
	base := time.Date(2024, 3, 20, 10, 0, 0, 0, time.UTC)
	for i, s := range []struct {
		name   string
		dur    time.Duration
		errMsg string
		cost   float64
		tag    string
	}{
		{"alpha search", time.Second, "", 0.01, "prod"},
		{"beta search", 5 * time.Second, "boom", 0.5, ""},
		{"gamma chat", 20 * time.Second, "", 2, "prod"},
	} {
		start := base.Add(time.Duration(i) * time.Hour)
		body := map[string]any{"name": s.name, "type": "generation", "start_time": start.Format(time.RFC3339), "end_time": start.Add(s.dur).Format(time.RFC3339),
			"meta": map[string]any{"cost": s.cost, "usage": map[string]any{"input_tokens": 1, "output_tokens": 1}}}
		if s.errMsg != "" {
			body["error"] = s.errMsg
		}
		if s.tag != "" {
			body["meta"].(map[string]any)["tags"] = []string{s.tag}
		}
		ta.mustJSON(200, "POST", "/v2/spans", body)
	}
	// A running trace.
	ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "delta running", "start_time": base.Add(3 * time.Hour).Format(time.RFC3339)})

	names := func(query string) []string {
		list := ta.mustJSON(200, "GET", "/v2/traces?"+query, nil)
		var out []string
		for _, it := range list["data"].([]any) {
			out = append(out, get(it, "name").(string))
		}
		assert.EqualValues(t, len(out), get(list, "meta", "total_count"), query)
		return out
	}
	assert.Equal(t, []string{"delta running", "gamma chat", "beta search", "alpha search"}, names(""), "newest first")
	assert.Equal(t, []string{"beta search", "alpha search"}, names("name=SEARCH"))
	assert.Equal(t, []string{"beta search", "alpha search"}, names("name=%20search"))
	assert.Equal(t, []string{"beta search"}, names("status=error"))
	assert.Equal(t, []string{"delta running"}, names("status=running"))
	assert.Equal(t, []string{"gamma chat", "beta search"}, names("min_duration_ms=5000"))
	// A running trace has no duration yet, so it is under every maximum
	// (the store contract).
	assert.Equal(t, []string{"delta running", "beta search", "alpha search"}, names("max_duration_ms=5000"))
	assert.Equal(t, []string{"gamma chat", "beta search"}, names("min_cost=0.1"))
	assert.Equal(t, []string{"delta running", "beta search", "alpha search"}, names("max_cost=1&min_cost=0"))
	assert.Equal(t, []string{"gamma chat", "alpha search"}, names("tag=prod"))
	assert.Equal(t, []string{"gamma chat", "beta search"}, names("from=2024-03-20T11:00:00Z&to=2024-03-20T13:00:00%2B00:00"))
	assert.Equal(t, []string{"gamma chat", "beta search"}, names("from=2024-03-20T13:00:00+02:00&to=2024-03-20%2013:00:00"))

	page := ta.mustJSON(200, "GET", "/v2/traces?limit=2&offset=1", nil)
	assert.EqualValues(t, 4, get(page, "meta", "total_count"))
	assert.Len(t, page["data"], 2)
	assert.Equal(t, "gamma chat", get(page, "data", 0, "name"))
}

func TestV2Batch(t *testing.T) {
	ta := newTestAPI(t, nil)
	body := `[
		{"name":"child","id":"c1","parent_id":"p1","end_time":"2024-03-20T10:00:01Z"},
		{"name":"bad","score":1.5},
		{"name":"parent","id":"p1","end_time":"2024-03-20T10:00:02Z"},
		"not an object",
		{"name":"other","id":"o1","trace_id":"t9"}
	]`
	resp, out := ta.do("POST", "/v2/spans/batch", body, opperapi.HeaderSource, opperapi.SourceExporter)
	require.Equal(t, 200, resp.StatusCode, string(out))
	var br opperapi.BatchResponse
	require.NoError(t, json.Unmarshal(out, &br))
	require.Len(t, br.Results, 5)
	for i, want := range []int{200, 422, 200, 422, 200} {
		assert.Equal(t, i, br.Results[i].Index)
		assert.Equal(t, want, br.Results[i].Status, "item %d", i)
	}
	assert.Equal(t, "c1", br.Results[0].ID)
	require.NotNil(t, br.Results[1].Error)
	assert.Equal(t, "RequestValidationError", br.Results[1].Error.Type)

	// The child listed first joins its parent's trace.
	tr := ta.mustJSON(200, "GET", "/v2/traces/p1", nil)
	assert.EqualValues(t, 2, tr["span_count"])

	// Spans from the exporter (loop guard) are stored, never queued.
	pending, err := ta.store.PendingForward(context.Background(), 100, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, pending)

	// Empty array.
	assert.Equal(t, map[string]any{"results": []any{}}, ta.mustJSON(200, "POST", "/v2/spans/batch", `[]`))
}

func TestRetentionPerProject(t *testing.T) {
	ta := newTestAPI(t, func(cfg *Config) {
		cfg.APIKeys = []APIKeyConfig{{Key: "ka", Project: "a"}, {Key: "kb", Project: "b"}}
		cfg.Retention.Projects = map[string]translator.Retention{"b": translator.RetentionMetadata}
	})
	body := map[string]any{"name": "s", "id": "s1", "input": "secret in", "output": "secret out",
		"meta": map[string]any{"instructions": "be nice", "model": "m"}}
	full := ta.withKey("ka").mustJSON(200, "POST", "/v2/spans", body)
	assert.Equal(t, "secret in", full["input"])
	meta := ta.withKey("kb").mustJSON(200, "POST", "/v2/spans", body)
	assert.Nil(t, meta["input"])
	assert.Nil(t, meta["output"])
	assert.Nil(t, get(meta, "meta", "instructions"))
	assert.Equal(t, "m", get(meta, "meta", "model"))
	assert.Equal(t, "metadata", get(meta, "meta", "retention"))

	// PATCH content is dropped too.
	upd := ta.withKey("kb").mustJSON(200, "PATCH", "/v2/spans/s1", map[string]any{"output": "late secret"})
	assert.Nil(t, upd["output"])
	stored, err := ta.store.GetSpan(context.Background(), "b", "s1")
	require.NoError(t, err)
	assert.Nil(t, stored.Output)
	assert.Nil(t, stored.Instructions)
}

func TestQueryAcceptsContentTypeAndNulls(t *testing.T) {
	ta := newTestAPI(t, nil)
	s := ta.mustJSON(200, "POST", "/v2/spans", `{"name":"n","id":null,"type":null,"start_time":null,"end_time":null,"input":null,"output":null,"error":null,"meta":null,"score":null}`)
	ta.mustJSON(200, "PATCH", "/v2/spans/"+s["id"].(string), `{"name":null,"end_time":null,"input":null,"output":null,"meta":null,"score":null}`)
	ta.mustJSON(200, "GET", "/v2/traces?limit=100&offset=0", nil, "Content-Type", "application/json")
	ta.mustJSON(200, "GET", "/v3/traces?limit=100&offset=0", nil, "Content-Type", "application/json")
}

func TestWritesWakeForwarder(t *testing.T) {
	ta := newTestAPI(t, nil)
	woke := make(chan struct{}, 10)
	ta.api.notify = func() { woke <- struct{}{} }
	ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "running"})
	assert.Empty(t, woke, "a running span waits for its end or the timeout")
	ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "done", "end_time": "2024-01-01T00:00:00Z"})
	assert.Len(t, woke, 1)
	resp, _ := ta.do("POST", "/v2/spans", map[string]any{"name": "exported", "end_time": "2024-01-01T00:00:00Z"}, opperapi.HeaderSource, opperapi.SourceExporter)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, woke, 1, "loop-guarded writes are not forwarded")
}

// TestV2MetricIdempotencyKey: a metric create sent again with the same
// Idempotency-Key (a retried request, an exporter replaying its queue)
// stores one metric; creates without a key keep adding, as SDK users
// expect from the hosted API.
func TestV2MetricIdempotencyKey(t *testing.T) {
	ta := newTestAPI(t, nil)
	spanID := "22222222-2222-4222-8222-222222222222"
	otherID := "33333333-3333-4333-8333-333333333333"
	for _, id := range []string{spanID, otherID} {
		ta.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "s", "id": id, "trace_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"})
	}
	path := "/v2/spans/" + spanID + "/metrics"
	body := map[string]any{"dimension": "relevance", "value": 0.8, "comment": "relevant"}
	key := "6D3E0A52-1111-5222-8333-444455556666"
	first := ta.mustJSON(200, "POST", path, body, "Idempotency-Key", key)
	assert.Equal(t, strings.ToLower(key), first["id"], "a UUID key is the metric's id")
	for range 2 {
		again := ta.mustJSON(200, "POST", path, body, "Idempotency-Key", key)
		assert.Equal(t, first, again, "the stored metric, unchanged")
	}
	byName := ta.mustJSON(200, "POST", path, body, "Idempotency-Key", "export-7/metric-0")
	assert.Equal(t, byName, ta.mustJSON(200, "POST", path, body, "Idempotency-Key", "export-7/metric-0"))
	assert.NotEqual(t, first["id"], byName["id"])
	ta.mustJSON(200, "POST", path, body)
	ta.mustJSON(200, "POST", path, body)
	list := ta.mustJSON(200, "GET", path+"?limit=100&offset=0", nil)
	assert.EqualValues(t, 4, get(list, "meta", "total_count"), "one per key, one per create without")

	conflict := ta.mustJSON(409, "POST", "/v2/spans/"+otherID+"/metrics", body, "Idempotency-Key", key)
	assert.Equal(t, "ConflictError", conflict["type"])
	ta.mustJSON(404, "POST", "/v2/spans/44444444-4444-4444-8444-444444444444/metrics", body, "Idempotency-Key", key)
}
