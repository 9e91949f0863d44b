package opperreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap/zaptest"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/memory"
)

// testAPI is the API handler over a memory store, served by httptest.
type testAPI struct {
	t     *testing.T
	url   string
	store *memory.Store
	api   *api
	// key is sent as a bearer token when set.
	key string
}

func newTestAPI(t *testing.T, configure func(*Config)) *testAPI {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if configure != nil {
		configure(cfg)
	}
	st := memory.New()
	a, err := newAPI(cfg, st, zaptest.NewLogger(t), nil)
	require.NoError(t, err)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &testAPI{t: t, url: srv.URL, store: st, api: a}
}

func (ta *testAPI) withKey(key string) *testAPI {
	c := *ta
	c.key = key
	return &c
}

// do sends a request; body is sent as is when it is a string or []byte,
// else as JSON. Extra headers come as name, value pairs.
func (ta *testAPI) do(method, path string, body any, headers ...string) (*http.Response, []byte) {
	ta.t.Helper()
	return doRequest(ta.t, ta.url, ta.key, method, path, body, headers...)
}

func doRequest(t testing.TB, base, key, method, path string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

// mustJSON sends a request, checks the status and JSON content type, and
// decodes the answer into a generic value.
func (ta *testAPI) mustJSON(status int, method, path string, body any, headers ...string) map[string]any {
	ta.t.Helper()
	resp, out := ta.do(method, path, body, headers...)
	require.Equal(ta.t, status, resp.StatusCode, "%s %s: %s", method, path, out)
	if status == http.StatusNoContent {
		return nil
	}
	assert.Equal(ta.t, "application/json", resp.Header.Get("Content-Type"))
	var m map[string]any
	require.NoError(ta.t, json.Unmarshal(out, &m), string(out))
	return m
}

// startReceiver starts the whole receiver on a free loopback port, over
// the given store (nil: SQLite in a temp dir).
func startReceiver(t *testing.T, next consumer.Traces, st store.Store, configure func(*Config)) (*opperReceiver, string) {
	t.Helper()
	return startReceiverWith(t, receivertest.NewNopSettings(metadata.Type), next, st, configure)
}

// startReceiverWith is startReceiver with the given settings, e.g. to read
// the receiver's telemetry.
func startReceiverWith(t *testing.T, set receiver.Settings, next consumer.Traces, st store.Store, configure func(*Config)) (*opperReceiver, string) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Storage.SQLite.Path = filepath.Join(t.TempDir(), "opper.db")
	cfg.Forward.PollInterval = 50 * time.Millisecond
	cfg.Forward.RetryInitialInterval = 10 * time.Millisecond
	cfg.Forward.RetryMaxInterval = 50 * time.Millisecond
	if configure != nil {
		configure(cfg)
	}
	r, err := newReceiver(cfg, set, next)
	require.NoError(t, err)
	if st != nil {
		r.openStore = func(context.Context, component.Host, component.ID, *Config) (store.Store, bool, error) {
			return st, true, nil
		}
	}
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, r.Shutdown(context.Background())) })
	return r, "http://" + r.addr.String()
}

// get walks a decoded JSON value by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}
