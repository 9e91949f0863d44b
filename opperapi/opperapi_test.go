package opperapi

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTimeLenient(t *testing.T) {
	want := time.Date(2024, 3, 20, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-03-20T10:00:00Z", want},
		{"2024-03-20T10:00:00+00:00", want},
		{"2024-03-20T12:00:00+02:00", want},
		{"2024-03-20T12:00:00+0200", want},
		{"2024-03-20T10:00Z", want},
		{"2024-03-20T10:00:00", want},
		{"2024-03-20 10:00:00", want},
		{"2024-03-20t10:00:00z", want},
		{"2024-03-20T10:00:10.500Z", want.Add(10500 * time.Millisecond)},
		{"2024-03-20T10:00:00.123456789Z", want.Add(123456789)},
		{"2024-03-20T10:00:00.123456+00:00", want.Add(123456 * time.Microsecond)},
		{"2026-11-21T14:37:32.735422+00:00", time.Date(2026, 11, 21, 14, 37, 32, 735422000, time.UTC)},
		{"2024-03-20T10:00:00.5", want.Add(500 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v", got)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, in := range []string{"", "yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "1711000000", "2024-03-20T10:00:00+00"} {
		_, err := ParseTime(in)
		assert.Error(t, err, in)
	}
}

func TestTimeJSON(t *testing.T) {
	ts := NewTime(time.Date(2024, 3, 20, 12, 0, 10, 500_000_000, time.FixedZone("x", 2*3600)))
	b, err := json.Marshal(ts)
	require.NoError(t, err)
	assert.Equal(t, `"2024-03-20T10:00:10.5Z"`, string(b))

	var back Time
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, ts.Equal(back.Time))

	require.NoError(t, json.Unmarshal([]byte(`1711000000.25`), &back))
	assert.Equal(t, time.Unix(1711000000, 250_000_000).UTC(), back.Time)
	assert.Error(t, json.Unmarshal([]byte(`-5`), &back))
	assert.Error(t, json.Unmarshal([]byte(`true`), &back))

	_, err = json.Marshal(NewTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Error(t, err)
	assert.Nil(t, TimePtr(time.Time{}))
}

func TestObjectMustBeObject(t *testing.T) {
	var req CreateSpanRequest
	require.NoError(t, json.Unmarshal([]byte(`{"name":"n","meta":{"k":1}}`), &req))
	m, err := req.Meta.Map()
	require.NoError(t, err)
	assert.Equal(t, json.Number("1"), m["k"])

	require.NoError(t, json.Unmarshal([]byte(`{"name":"n","meta":null}`), &req))
	assert.Empty(t, req.Meta)

	for _, bad := range []string{`[1]`, `"s"`, `3`, `true`} {
		err := json.Unmarshal([]byte(`{"name":"n","meta":`+bad+`}`), &req)
		assert.ErrorIs(t, err, ErrNotObject, bad)
	}
}

func TestCreateSpanKeepsStructuredInput(t *testing.T) {
	body := `{"name":"my span","start_time":"2024-03-20T10:00:00.000Z","id":"3c90c3cc-0d44-4b50-8888-8dd25736052a","input":{"question":"hi"},"output":"answer","score":7,"trace_id":null}`
	var req CreateSpanRequest
	require.NoError(t, json.Unmarshal([]byte(body), &req))
	assert.JSONEq(t, `{"question":"hi"}`, string(req.Input))
	assert.Equal(t, `"answer"`, string(req.Output))
	assert.Nil(t, req.TraceID)
	assert.Equal(t, int64(7), *req.Score)

	assert.Error(t, json.Unmarshal([]byte(`{"name":"n","score":1.5}`), &req), "a float score is not an integer")
}

func TestTextAcceptsAnyJSON(t *testing.T) {
	var req UpdateSpanRequest
	require.NoError(t, json.Unmarshal([]byte(`{"output":{"a": [1, 2]},"input":"plain"}`), &req))
	assert.Equal(t, `{"a":[1,2]}`, StringOf(req.Output))
	assert.Equal(t, "plain", StringOf(req.Input))
	b, err := json.Marshal(req)
	require.NoError(t, err)
	assert.JSONEq(t, `{"input":"plain","output":"{\"a\":[1,2]}"}`, string(b))
}

func TestResponsesOmitUnset(t *testing.T) {
	b, err := json.Marshal(Span{ID: "i", Name: "n"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"i","name":"n"}`, string(b))

	b, err = json.Marshal(List[TraceListItem]{Data: []TraceListItem{}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"meta":{"total_count":0},"data":[]}`, string(b))
}

func TestTraceResponseV3TopLevelAndData(t *testing.T) {
	tr := TraceV3{TraceListItemV3: TraceListItemV3{ID: "t1", SpanCount: 1}, Spans: []SpanV3{{ID: "s", TraceID: "t1", Name: "n"}}, Events: []EventV3{}}
	b, err := json.Marshal(TraceResponseV3{Data: tr, TraceV3: tr})
	require.NoError(t, err)
	var probe struct {
		ID    string `json:"id"`
		Spans []any  `json:"spans"`
		Data  struct {
			ID    string `json:"id"`
			Spans []any  `json:"spans"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &probe))
	assert.Equal(t, "t1", probe.ID)
	assert.Equal(t, "t1", probe.Data.ID)
	assert.Len(t, probe.Spans, 1)
	assert.Len(t, probe.Data.Spans, 1)
}

func TestErrorShapes(t *testing.T) {
	b, err := json.Marshal(NewError(http.StatusNotFound, "Parent span not found"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"NotFoundError","message":"The resource was not found","detail":"Parent span not found"}`, string(b))

	b, err = json.Marshal(NewErrorV3(http.StatusBadRequest, "name is required", nil))
	require.NoError(t, err)
	assert.JSONEq(t, `{"error":{"code":"bad_request","message":"name is required"}}`, string(b))
	assert.Equal(t, "unauthorized", StatusCode(401))
	assert.Equal(t, "not_found", StatusCode(404))
	assert.Equal(t, "too_many_requests", StatusCode(429))
}

func TestErrorMessage(t *testing.T) {
	assert.Equal(t, "The resource was not found: Parent span not found",
		ErrorMessage([]byte(`{"type":"NotFoundError","message":"The resource was not found","detail":"Parent span not found"}`)))
	assert.Equal(t, "invalid api key", ErrorMessage([]byte(`{"error":{"code":"unauthorized","message":"invalid api key"}}`)))
	assert.Equal(t, "upstream broke", ErrorMessage([]byte("upstream broke\n")))
	assert.Contains(t, ErrorMessage([]byte(`{"type":"RequestValidationError","message":"The request is invalid","detail":[{"loc":["body","name"],"msg":"field required","type":"missing"}]}`)), "field required")
}

func TestDecodeBatchResponse(t *testing.T) {
	for _, body := range []string{
		`{"results":[{"index":0,"status":201,"id":"3f1c0d52-8b8f-4c59-9e1c-2b7a8a0e6f11"},{"index":1,"status":409}]}`,
		" {\n \"results\" : [ ] } \n",
		`{"results":[{"index":0,"status":404,"error":{"type":"NotFoundError","message":"Parent span not found"}}]}`,
		`{"results":[{"Index":1,"STATUS":200}]}`,
		`{"results":[{"index":-3,"status":200,"id":"a\u00e9"}]}`,
		`{"results":[{"index":1.0,"status":200}]}`,
		`{"results":null}`,
		`{"results":[{"index":1,"status":200}],"extra":true}`,
		`{"results":[{"index":1,"status":200}]} x`,
		`{"results":[{"index":01,"status":200}]}`,
		`{"results":[{"index":99999999999999999999,"status":200}]}`,
		`{"results":[{}]}`,
	} {
		want := BatchResponse{}
		wantErr := json.Unmarshal([]byte(body), &want)
		got, err := DecodeBatchResponse([]byte(body))
		if wantErr != nil {
			assert.Error(t, err, body)
			continue
		}
		require.NoError(t, err, body)
		assert.Equal(t, len(want.Results), len(got.Results), body)
		for i := range want.Results {
			assert.Equal(t, want.Results[i], got.Results[i], body)
		}
	}
	_, ok := scanBatchResponse([]byte(`{"results":[{"index":0,"status":201,"id":"x"}]}`))
	assert.True(t, ok, "the receiver's answers take the direct scan")
}

// The direct scan accepts only what encoding/json reads the same way.
func FuzzDecodeBatchResponse(f *testing.F) {
	f.Add([]byte(`{"results":[{"index":0,"status":201,"id":"x"},{"index":1,"status":409}]}`))
	f.Add([]byte(`{"results":[]}`))
	f.Add([]byte(`{"results":[{"index":-0,"status":2e2}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanBatchResponse(body)
		if !ok {
			return
		}
		var want BatchResponse
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scanned what encoding/json rejects (%v): %q", err, body)
		}
		if len(got.Results) != len(want.Results) {
			t.Fatalf("%d results, encoding/json %d: %q", len(got.Results), len(want.Results), body)
		}
		for i := range got.Results {
			if got.Results[i] != (BatchItemResult{Index: want.Results[i].Index, Status: want.Results[i].Status, ID: want.Results[i].ID}) || want.Results[i].Error != nil {
				t.Fatalf("result %d: %+v, encoding/json %+v: %q", i, got.Results[i], want.Results[i], body)
			}
		}
	})
}
