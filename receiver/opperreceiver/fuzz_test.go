package opperreceiver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/opperotel/bridge/store/memory"
)

var fuzzSeeds = []string{
	``, `{`, `null`, `[]`, `"x"`, `{}`, `{"name":"n"}`, `{"name":null}`,
	`{"name":"n","id":"a","trace_id":"t","parent_id":"a","type":"generation"}`,
	`{"name":"n","start_time":"2024-03-20T10:00:00.123456789+02:00","end_time":"2024-03-20T10:00:00Z"}`,
	`{"name":"n","start_time":1710928800.5,"end_time":"9999-12-31T23:59:59-23:59"}`,
	`{"name":"n","start_time":"0000-01-01T00:00:00Z"}`,
	`{"name":"n","input":{"q":[1,2,{"x":null}]},"output":[1],"meta":{"usage":{"input_tokens":1e30},"cost":"x","tags":[1,"a"]}}`,
	`{"name":"n","meta":{"usage":{"total_tokens":-1},"cost_aggregate":1,"tags":{"a":false}}}`,
	`{"name":"n","score":1.5}`, `{"name":"n","score":99999999999999999999}`,
	`{"name":"n","meta":"m"}`, `{"name":"n","tags":{"a":true},"metadata":{"b":1}}`,
	`[{"name":"a"},{"name":1},null,{"name":"b","parent_id":"a"}]`,
	`{"name":"\u0000\ud800","id":"\u0007"}`,
	`{"dimension":"d","value":1e308,"comment":null}`, `{"score":0.5,"save_to_dataset":true}`,
	`{"kind":"feedback","data":{"a":1}}`, `{"output":{"x":1},"end_time":"2024-01-01T00:00Z"}`,
}

// fuzzAPI sends one request through the whole handler and checks the
// properties every answer has: no 5xx, JSON with the right content type,
// and the version's error shape on errors.
func fuzzAPI(t *testing.T, a *api, method, path string, body []byte) {
	req := httptest.NewRequest(method, "http://opper"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent {
		return
	}
	if rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusPermanentRedirect {
		// ServeMux sends unclean paths ("/a/../b") to their clean form.
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s %q: content type %q", method, path, body, ct)
	}
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("%s %s %q: answer is not a JSON object: %v: %s", method, path, body, err, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	if versionOf(req.URL.Path) == v3 {
		var e struct {
			Error *struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s %s %q: not a v3 error: %s", method, path, body, rec.Body)
		}
		return
	}
	var e struct{ Type, Message string }
	if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Type == "" || e.Message == "" {
		t.Fatalf("%s %s %q: not a v2 error: %s", method, path, body, rec.Body)
	}
}

// newFuzzAPI returns an API over a memory store holding the span "s1" in trace "t1".
func newFuzzAPI(t *testing.T) *api {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.MaxRequestBodySize = 64 << 10
	a, err := newAPI(cfg, memory.New(), zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	fuzzAPI(t, a, "POST", "/v2/spans", []byte(`{"name":"seed","id":"s1","trace_id":"t1"}`))
	return a
}

func fuzzEndpoint(f *testing.F, method, path string) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzAPI(t, newFuzzAPI(t), method, path, body)
	})
}

func FuzzV2CreateSpan(f *testing.F)   { fuzzEndpoint(f, "POST", "/v2/spans") }
func FuzzV2UpdateSpan(f *testing.F)   { fuzzEndpoint(f, "PATCH", "/v2/spans/s1") }
func FuzzV2Batch(f *testing.F)        { fuzzEndpoint(f, "POST", "/v2/spans/batch") }
func FuzzV2CreateMetric(f *testing.F) { fuzzEndpoint(f, "POST", "/v2/spans/s1/metrics") }
func FuzzV2Feedback(f *testing.F)     { fuzzEndpoint(f, "POST", "/v2/spans/s1/feedback") }
func FuzzV3CreateSpan(f *testing.F)   { fuzzEndpoint(f, "POST", "/v3/spans") }
func FuzzV3UpdateSpan(f *testing.F)   { fuzzEndpoint(f, "PATCH", "/v3/spans/s1") }
func FuzzV3CreateEvent(f *testing.F)  { fuzzEndpoint(f, "POST", "/v3/spans/s1/events") }

// FuzzQuery fuzzes paths and query strings of the read endpoints.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"/v2/traces?limit=100&offset=0&name=a+b", "/v2/traces?limit=x", "/v2/traces?from=2024-01-01T00:00:00+01:00&to=%zz",
		"/v3/traces?status=ok&min_cost=1e400", "/v2/traces/t1", "/v3/traces/t1", "/v2/spans/s1/metrics?limit=-1",
		"/v3/spans/s1/events?kind=feedback", "/v2/spans/%2e%2e", "/v3/traces/t1/events?kind=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \t\r\n#") {
			return
		}
		if _, err := http.NewRequest("GET", "http://opper"+target, nil); err != nil {
			return
		}
		fuzzAPI(t, newFuzzAPI(t), "GET", target, nil)
	})
}
