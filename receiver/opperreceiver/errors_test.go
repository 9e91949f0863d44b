package opperreceiver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errorCase is one request that must fail with status.
type errorCase struct {
	name    string
	method  string
	path    string
	body    any
	key     string // overrides the valid key; "-" sends none
	status  int
	loc     []any  // v2 422: the loc of the first issue
	message string // a substring of the message
}

func newErrorTestAPI(t *testing.T) (*testAPI, string, string) {
	ta := newTestAPI(t, func(cfg *Config) {
		cfg.APIKeys = []APIKeyConfig{{Key: "key-a", Project: "a"}}
		cfg.ServerConfig.MaxRequestBodySize = 1024
	})
	ta = ta.withKey("key-a")
	span := ta.mustJSON(http.StatusOK, http.MethodPost, "/v2/spans", map[string]any{"name": "root"})
	v3 := ta.mustJSON(http.StatusOK, http.MethodPost, "/v3/spans", map[string]any{"name": "root3"})
	return ta, span["id"].(string), get(v3, "data", "id").(string)
}

func runErrorCases(t *testing.T, ta *testAPI, cases []errorCase, check func(t *testing.T, tc errorCase, body []byte)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ta
			if tc.key == "-" {
				c = ta.withKey("")
			} else if tc.key != "" {
				c = ta.withKey(tc.key)
			}
			resp, body := c.do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			check(t, tc, body)
		})
	}
}

func TestErrorResponsesV2(t *testing.T) {
	ta, spanID, _ := newErrorTestAPI(t)
	big := `{"name":"` + strings.Repeat("x", 2048) + `"}`
	cases := []errorCase{
		{name: "malformed JSON", method: "POST", path: "/v2/spans", body: `{"name":`, status: 400, message: "not valid JSON"},
		{name: "malformed JSON on update", method: "PATCH", path: "/v2/spans/" + spanID, body: `nope`, status: 400},
		{name: "malformed batch", method: "POST", path: "/v2/spans/batch", body: `[{"name":"a"}`, status: 400},
		{name: "no key", method: "GET", path: "/v2/traces", key: "-", status: 401, message: "unauthorized"},
		{name: "wrong key", method: "POST", path: "/v2/spans", body: `{"name":"x"}`, key: "key-b", status: 401},
		{name: "unknown span", method: "GET", path: "/v2/spans/00000000-0000-0000-0000-000000000000", status: 404, message: "not found"},
		{name: "unknown span update", method: "PATCH", path: "/v2/spans/nope", body: `{"name":"x"}`, status: 404},
		{name: "unknown span delete", method: "DELETE", path: "/v2/spans/nope", status: 404},
		{name: "unknown span metrics", method: "GET", path: "/v2/spans/nope/metrics", status: 404},
		{name: "unknown metric", method: "GET", path: "/v2/spans/" + spanID + "/metrics/nope", status: 404},
		{name: "feedback on unknown span", method: "POST", path: "/v2/spans/nope/feedback", body: `{"score":1}`, status: 404},
		{name: "save_examples of unknown span", method: "POST", path: "/v2/spans/nope/save_examples", status: 404},
		{name: "unknown trace", method: "GET", path: "/v2/traces/nope", status: 404},
		{name: "unknown path", method: "GET", path: "/v2/nothing", status: 404},
		{name: "wrong method", method: "PUT", path: "/v2/spans", body: `{}`, status: 405},
		{name: "wrong method on span", method: "POST", path: "/v2/spans/" + spanID, body: `{}`, status: 405},
		{name: "wrong method on traces", method: "DELETE", path: "/v2/traces", status: 405},
		{name: "body too large", method: "POST", path: "/v2/spans", body: big, status: 413, message: "too large"},
		{name: "batch too large", method: "POST", path: "/v2/spans/batch", body: "[" + big + "]", status: 413},
		{name: "missing name", method: "POST", path: "/v2/spans", body: `{"type":"x"}`, status: 422, loc: []any{"body", "name"}},
		{name: "null name", method: "POST", path: "/v2/spans", body: `{"name":null}`, status: 422, loc: []any{"body", "name"}},
		{name: "empty body", method: "POST", path: "/v2/spans", body: ``, status: 422, loc: []any{"body"}},
		{name: "body not an object", method: "POST", path: "/v2/spans", body: `[1]`, status: 422, loc: []any{"body"}},
		{name: "bad time", method: "POST", path: "/v2/spans", body: `{"name":"a","start_time":"yesterday"}`, status: 422, loc: []any{"body", "start_time"}},
		{name: "time out of range", method: "POST", path: "/v2/spans", body: `{"name":"a","end_time":"9999-12-31T23:59:59-05:00"}`, status: 422, loc: []any{"body", "end_time"}},
		{name: "meta not an object", method: "POST", path: "/v2/spans", body: `{"name":"a","meta":[1]}`, status: 422, loc: []any{"body", "meta"}},
		{name: "float score", method: "POST", path: "/v2/spans", body: `{"name":"a","score":0.5}`, status: 422, loc: []any{"body", "score"}},
		{name: "id not a string", method: "POST", path: "/v2/spans", body: `{"name":"a","id":5}`, status: 422, loc: []any{"body", "id"}},
		{name: "update with object output", method: "PATCH", path: "/v2/spans/" + spanID, body: `{"meta":"x"}`, status: 422, loc: []any{"body", "meta"}},
		{name: "metric without value", method: "POST", path: "/v2/spans/" + spanID + "/metrics", body: `{"dimension":"d"}`, status: 422, loc: []any{"body", "value"}},
		{name: "metric with string value", method: "POST", path: "/v2/spans/" + spanID + "/metrics", body: `{"dimension":"d","value":"0.9"}`, status: 422, loc: []any{"body", "value"}},
		{name: "feedback without score", method: "POST", path: "/v2/spans/" + spanID + "/feedback", body: `{}`, status: 422, loc: []any{"body", "score"}},
		{name: "limit zero", method: "GET", path: "/v2/traces?limit=0", status: 422, loc: []any{"query", "limit"}},
		{name: "limit above 100", method: "GET", path: "/v2/traces?limit=101", status: 422, loc: []any{"query", "limit"}},
		{name: "negative offset", method: "GET", path: "/v2/traces?offset=-1", status: 422, loc: []any{"query", "offset"}},
		{name: "bad status", method: "GET", path: "/v2/traces?status=weird", status: 422, loc: []any{"query", "status"}},
		{name: "bad from", method: "GET", path: "/v2/traces?from=tomorrow", status: 422, loc: []any{"query", "from"}},
		{name: "bad cost", method: "GET", path: "/v2/traces?min_cost=cheap", status: 422, loc: []any{"query", "min_cost"}},
		{name: "batch not an array", method: "POST", path: "/v2/spans/batch", body: `{"name":"a"}`, status: 422, loc: []any{"body"}},
		{name: "batch null", method: "POST", path: "/v2/spans/batch", body: `null`, status: 422, loc: []any{"body"}},
	}
	runErrorCases(t, ta, cases, func(t *testing.T, tc errorCase, body []byte) {
		var e struct {
			Type    string          `json:"type"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		}
		require.NoError(t, json.Unmarshal(body, &e))
		assert.NotEmpty(t, e.Type)
		assert.NotEmpty(t, e.Message)
		if tc.message != "" {
			assert.Contains(t, strings.ToLower(e.Message+string(e.Detail)), strings.ToLower(tc.message))
		}
		if tc.status == http.StatusUnprocessableEntity {
			var issues []struct {
				Loc  []any  `json:"loc"`
				Msg  string `json:"msg"`
				Type string `json:"type"`
			}
			require.NoError(t, json.Unmarshal(e.Detail, &issues), string(e.Detail))
			require.NotEmpty(t, issues)
			assert.Equal(t, tc.loc, issues[0].Loc)
			assert.NotEmpty(t, issues[0].Msg)
			assert.NotEmpty(t, issues[0].Type)
		}
	})
}

func TestErrorResponsesV3(t *testing.T) {
	ta, _, spanID := newErrorTestAPI(t)
	big := `{"name":"` + strings.Repeat("x", 2048) + `"}`
	cases := []errorCase{
		{name: "malformed JSON", method: "POST", path: "/v3/spans", body: `{"name"`, status: 400, message: "not valid JSON"},
		{name: "missing name", method: "POST", path: "/v3/spans", body: `{"input":"x"}`, status: 400, message: "name"},
		{name: "bad time", method: "POST", path: "/v3/spans", body: `{"name":"a","start_time":"noon"}`, status: 400, message: "start_time"},
		{name: "meta not an object", method: "POST", path: "/v3/spans", body: `{"name":"a","meta":"m"}`, status: 400},
		{name: "tags not an object", method: "PATCH", path: "/v3/spans/" + spanID, body: `{"tags":["a"]}`, status: 400},
		{name: "event without kind", method: "POST", path: "/v3/spans/" + spanID + "/events", body: `{"data":{}}`, status: 400},
		{name: "limit above 100", method: "GET", path: "/v3/traces?limit=500", status: 400, message: "limit"},
		{name: "no key", method: "GET", path: "/v3/traces", key: "-", status: 401},
		{name: "wrong key", method: "POST", path: "/v3/spans", body: `{"name":"x"}`, key: "key-a-but-longer", status: 401},
		{name: "unknown span", method: "GET", path: "/v3/spans/nope", status: 404},
		{name: "unknown span update", method: "PATCH", path: "/v3/spans/nope", body: `{"end_time":"2024-01-01T00:00:00Z"}`, status: 404},
		{name: "unknown span delete", method: "DELETE", path: "/v3/spans/nope", status: 404},
		{name: "unknown span events", method: "GET", path: "/v3/spans/nope/events", status: 404},
		{name: "event on unknown span", method: "POST", path: "/v3/spans/nope/events", body: `{"kind":"feedback"}`, status: 404},
		{name: "unknown trace", method: "GET", path: "/v3/traces/nope", status: 404},
		{name: "unknown trace delete", method: "DELETE", path: "/v3/traces/nope", status: 404},
		{name: "unknown trace events", method: "GET", path: "/v3/traces/nope/events", status: 404},
		{name: "unknown path", method: "GET", path: "/v3/nothing", status: 404},
		{name: "wrong method", method: "GET", path: "/v3/spans", status: 405},
		{name: "wrong method on trace", method: "PATCH", path: "/v3/traces/x", body: `{}`, status: 405},
		{name: "body too large", method: "POST", path: "/v3/spans", body: big, status: 413},
	}
	runErrorCases(t, ta, cases, func(t *testing.T, tc errorCase, body []byte) {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &e))
		assert.NotEmpty(t, e.Error.Code)
		assert.NotEmpty(t, e.Error.Message)
		if tc.message != "" {
			assert.Contains(t, strings.ToLower(string(body)), strings.ToLower(tc.message))
		}
	})
}

func TestMethodNotAllowedListsMethods(t *testing.T) {
	ta := newTestAPI(t, nil)
	resp, _ := ta.do(http.MethodPut, "/v2/spans/x", `{}`)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "DELETE, GET, PATCH", resp.Header.Get("Allow"))
}
