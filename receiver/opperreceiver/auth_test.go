package opperreceiver

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
)

func newAuthTestAPI(t *testing.T) *testAPI {
	return newTestAPI(t, func(cfg *Config) {
		cfg.APIKeys = []APIKeyConfig{
			{Key: "key-a", Project: "a"},
			{Key: "Bearer key-b", Project: "b"}, // configured with the prefix
		}
	})
}

func TestAuthRequired(t *testing.T) {
	ta := newAuthTestAPI(t)
	for _, h := range []struct {
		name, value string
		status      int
	}{
		{"missing", "", 401},
		{"wrong key", "Bearer key-c", 401},
		{"prefix of a key", "Bearer key-", 401},
		{"key with a suffix", "Bearer key-aa", 401},
		{"no scheme", "key-a", 401},
		{"other scheme", "Basic key-a", 401},
		{"empty bearer", "Bearer ", 401},
		{"right key", "Bearer key-a", 200},
		{"scheme in lower case", "bearer key-a", 200},
		{"scheme in upper case, extra spaces", "BEARER   key-a ", 200},
		{"key configured with the prefix", "Bearer key-b", 200},
	} {
		t.Run(h.name, func(t *testing.T) {
			for _, path := range []string{"/v2/traces", "/v3/traces"} {
				resp, body := ta.do(http.MethodGet, path, nil, "Authorization", h.value)
				require.Equal(t, h.status, resp.StatusCode, "%s: %s", path, body)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				if h.status != 401 {
					continue
				}
				assert.Equal(t, `Bearer realm="opper"`, resp.Header.Get("WWW-Authenticate"))
				if strings.HasPrefix(path, "/v3") {
					assert.JSONEq(t, `{"error":{"code":"unauthorized","message":"missing or invalid API key"}}`, string(body))
				} else {
					assert.JSONEq(t, `{"type":"UnauthorizedError","message":"The request is unauthorized","detail":"missing or invalid API key"}`, string(body))
				}
			}
		})
	}
}

func TestProjectIsolation(t *testing.T) {
	ta := newAuthTestAPI(t)
	a, b := ta.withKey("key-a"), ta.withKey("key-b")

	span := a.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "secret", "end_time": "2024-03-20T10:00:00Z"})
	id, traceID := span["id"].(string), span["trace_id"].(string)
	a.mustJSON(200, "POST", "/v2/spans/"+id+"/metrics", map[string]any{"dimension": "d", "value": 1})
	v3 := a.mustJSON(200, "POST", "/v3/spans", map[string]any{"name": "secret3"})
	id3 := get(v3, "data", "id").(string)

	// Project a sees its data.
	a.mustJSON(200, "GET", "/v2/spans/"+id, nil)
	a.mustJSON(200, "GET", "/v2/traces/"+traceID, nil)
	assert.EqualValues(t, 2, get(a.mustJSON(200, "GET", "/v2/traces", nil), "meta", "total_count"))

	// Project b sees none of it, and cannot touch it.
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/v2/spans/" + id, ""},
		{"PATCH", "/v2/spans/" + id, `{"name":"mine"}`},
		{"DELETE", "/v2/spans/" + id, ""},
		{"GET", "/v2/spans/" + id + "/metrics", ""},
		{"POST", "/v2/spans/" + id + "/metrics", `{"dimension":"d","value":1}`},
		{"POST", "/v2/spans/" + id + "/feedback", `{"score":1}`},
		{"POST", "/v2/spans/" + id + "/save_examples", ""},
		{"GET", "/v2/traces/" + traceID, ""},
		{"GET", "/v3/spans/" + id3, ""},
		{"PATCH", "/v3/spans/" + id3, `{"output":"x"}`},
		{"DELETE", "/v3/spans/" + id3, ""},
		{"GET", "/v3/traces/" + traceID, ""},
		{"DELETE", "/v3/traces/" + traceID, ""},
		{"GET", "/v3/traces/" + traceID + "/events", ""},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		resp, out := b.do(req.method, req.path, body)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s: %s", req.method, req.path, out)
	}
	assert.EqualValues(t, 0, get(b.mustJSON(200, "GET", "/v2/traces", nil), "meta", "total_count"))
	assert.EqualValues(t, 0, get(b.mustJSON(200, "GET", "/v3/traces", nil), "meta", "total_count"))

	// The same client-chosen id in project b is a separate span.
	b.mustJSON(200, "POST", "/v2/spans", map[string]any{"name": "b's", "id": id})
	assert.Equal(t, "secret", a.mustJSON(200, "GET", "/v2/spans/"+id, nil)["name"])
	assert.Equal(t, "b's", b.mustJSON(200, "GET", "/v2/spans/"+id, nil)["name"])
}

// TestConstantTimeKeyComparison pins the comparison the code review asked
// for: keys are compared with crypto/subtle over every configured key.
func TestConstantTimeKeyComparison(t *testing.T) {
	src, err := os.ReadFile("handler.go")
	require.NoError(t, err)
	code := string(src)
	start := strings.Index(code, "for i := range a.keys {")
	require.GreaterOrEqual(t, start, 0)
	loop := code[start:]
	loop = loop[:strings.Index(loop, "\n\t}\n")]
	assert.Contains(t, loop, "subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:])")
	assert.Contains(t, loop, "subtle.ConstantTimeSelect(eq, i, match)")
	for _, early := range []string{"break", "return", "if "} {
		assert.NotContains(t, loop, early, "the key loop must run over every key without branching")
	}
}

func TestAnonymousRefusedOnPublicEndpoint(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "0.0.0.0:0"
	cfg.Storage.SQLite.Path = t.TempDir() + "/opper.db"
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	err = r.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "refusing to serve without api_keys")
	require.NoError(t, r.Shutdown(context.Background()))

	cfg.AllowAnonymous = true
	r, err = newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, r.Shutdown(context.Background()))
}
