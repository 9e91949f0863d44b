package opperreceiver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/memory"
	"github.com/opperotel/bridge/translator"
)

// downStore is a memory store whose database can be switched off: every
// call then fails as the PostgreSQL store does when its server is down.
type downStore struct {
	*memory.Store
	down atomic.Bool
}

func (s *downStore) fail() error {
	if s.down.Load() {
		return fmt.Errorf("postgres: upsert spans: %w: dial tcp 10.0.0.5:5432: connect: connection refused (password=hunter2)", store.ErrUnavailable)
	}
	return nil
}

func (s *downStore) UpsertSpans(ctx context.Context, p string, spans []translator.Span, fwd bool) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.UpsertSpans(ctx, p, spans, fwd)
}

func (s *downStore) GetSpan(ctx context.Context, p, id string) (translator.Span, error) {
	if err := s.fail(); err != nil {
		return translator.Span{}, err
	}
	return s.Store.GetSpan(ctx, p, id)
}

func (s *downStore) UpdateSpan(ctx context.Context, p, id string, fwd bool, fn func(*translator.Span) error) (translator.Span, error) {
	if err := s.fail(); err != nil {
		return translator.Span{}, err
	}
	return s.Store.UpdateSpan(ctx, p, id, fwd, fn)
}

func (s *downStore) ListTraces(ctx context.Context, p string, q store.TraceQuery) ([]translator.TraceSummary, int64, error) {
	if err := s.fail(); err != nil {
		return nil, 0, err
	}
	return s.Store.ListTraces(ctx, p, q)
}

// A store that cannot serve answers 503 with Retry-After, in each API's
// error shape and on the pages, without the driver's words, and the same
// requests succeed once it is back.
func TestStoreUnavailable(t *testing.T) {
	st := &downStore{Store: memory.New()}
	a, err := newAPI(createDefaultConfig().(*Config), st, zaptest.NewLogger(t), nil)
	require.NoError(t, err)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	ta := &testAPI{t: t, url: srv.URL, api: a}

	created := ta.mustJSON(http.StatusOK, http.MethodPost, "/v2/spans", map[string]any{"name": "root"})
	id := created["id"].(string)
	st.down.Store(true)
	for _, tc := range []struct {
		method, path string
		body         any
		want         string
	}{
		{"POST", "/v2/spans", map[string]any{"name": "x"}, `"type":"HTTPException","message":"Service unavailable"`},
		{"PATCH", "/v2/spans/" + id, map[string]any{"name": "y"}, `"type":"HTTPException","message":"Service unavailable"`},
		{"GET", "/v2/spans/" + id, nil, `"type":"HTTPException","message":"Service unavailable"`},
		{"GET", "/v2/traces", nil, `"type":"HTTPException","message":"Service unavailable"`},
		{"POST", "/v3/spans", map[string]any{"name": "x"}, `"code":"service_unavailable"`},
		{"PATCH", "/v3/spans/" + id, map[string]any{"output": "z"}, `"code":"service_unavailable"`},
	} {
		resp, body := ta.do(tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s %s: %s", tc.method, tc.path, body)
		assert.Equal(t, "2", resp.Header.Get("Retry-After"), "%s %s", tc.method, tc.path)
		assert.Contains(t, string(body), tc.want)
		assert.Contains(t, string(body), "the trace store is unavailable; retry later")
		assert.NotContains(t, string(body), "hunter2")
		assert.NotContains(t, string(body), "10.0.0.5")
	}
	resp, body := ta.do("GET", "/", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	assert.True(t, strings.Contains(string(body), "The trace store is unavailable"), "the page says so")
	assert.NotContains(t, string(body), "hunter2")

	st.down.Store(false)
	ta.mustJSON(http.StatusOK, http.MethodPatch, "/v2/spans/"+id, map[string]any{"name": "back"})
	ta.mustJSON(http.StatusOK, http.MethodGet, "/v2/traces", nil)
}
