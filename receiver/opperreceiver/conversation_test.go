package opperreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/internal/benchdata"
	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/sqlite"
	"github.com/opperotel/bridge/translator"
)

const fixturesDir = "../../testdata/otlp"

// postFixture translates a payload of testdata/otlp, gives its spans what
// its log capture adds to them (the .otlp-logs.json beside it, when there
// is one), and sends them as the exporter does (POST /v2/spans/batch); it
// returns them by trace.
func postFixture(t *testing.T, ta *testAPI, name string) map[string][]translator.Span {
	t.Helper()
	tr := translator.New(translator.Options{Retention: translator.RetentionFull})
	spans := tr.ToOpper(otlpfixtures.Load(t, filepath.Join(fixturesDir, name+".otlp.json")))
	if raw, err := os.ReadFile(filepath.Join(fixturesDir, name+".otlp-logs.json")); !errors.Is(err, fs.ErrNotExist) {
		require.NoError(t, err)
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
		require.NoError(t, err)
		contents, _ := tr.LogContents(ld)
		translator.FillSpans(spans, contents)
	}
	body := []byte{'['}
	byTrace := map[string][]translator.Span{}
	for i := range spans {
		if i > 0 {
			body = append(body, ',')
		}
		body = translator.AppendCreateSpanV2(body, &spans[i])
		byTrace[spans[i].TraceID] = append(byTrace[spans[i].TraceID], spans[i])
	}
	body = append(body, ']')
	resp, out := ta.do(http.MethodPost, "/v2/spans/batch", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	var br opperapi.BatchResponse
	require.NoError(t, json.Unmarshal(out, &br))
	for _, r := range br.Results {
		require.Equal(t, http.StatusOK, r.Status, "%s: span %d: %+v", name, r.Index, r.Error)
	}
	return byTrace
}

func hasGeneration(spans []translator.Span) bool {
	return slices.ContainsFunc(spans, func(s translator.Span) bool { return s.Type == translator.TypeGeneration })
}

// TestConversationFixtures reads back the conversation of every trace of
// every real payload, over the memory store and over the whole receiver on
// SQLite: it is BuildConversation of the stored spans, and the one
// testdata/conversations holds for the translated spans, so storing a
// trace loses nothing of its conversation.
func TestConversationFixtures(t *testing.T) {
	mem := newTestAPI(t, nil)
	r, url := startReceiver(t, consumertest.NewNop(), nil, func(cfg *Config) { cfg.Forward.Enabled = false })
	for _, backend := range []struct {
		name string
		ta   *testAPI
		st   store.Store
	}{
		{"memory", mem, mem.store},
		{"sqlite", &testAPI{t: t, url: url}, r.store},
	} {
		t.Run(backend.name, func(t *testing.T) {
			for _, file := range otlpfixtures.Files(t, fixturesDir) {
				name := strings.TrimSuffix(filepath.Base(file), ".otlp.json")
				t.Run(name, func(t *testing.T) {
					ta := &testAPI{t: t, url: backend.ta.url}
					checkFixtureConversations(t, ta, backend.st, name)
				})
			}
		})
	}
}

func checkFixtureConversations(t *testing.T, ta *testAPI, st store.Store, name string) {
	raw, err := os.ReadFile(filepath.Join("../../testdata/conversations", name+".conversations.json"))
	require.NoError(t, err)
	var golden map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &golden))
	for traceID, spans := range postFixture(t, ta, name) {
		stored, err := st.GetTrace(context.Background(), DefaultProject, traceID)
		require.NoError(t, err)
		want, wantErr := translator.BuildConversation(stored.Spans, "")
		resp, out := ta.do(http.MethodGet, "/v3/traces/"+traceID+"/conversation", nil)
		switch {
		case !hasGeneration(spans):
			require.ErrorIs(t, wantErr, translator.ErrNoGeneration)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, string(out))
			assert.JSONEq(t, `{"error":{"code":"not_found","message":"this trace has no generation to replay"}}`, string(out))
			continue
		case wantErr != nil:
			require.ErrorIs(t, wantErr, translator.ErrNoContent)
			assert.Equal(t, http.StatusConflict, resp.StatusCode, string(out))
			assert.JSONEq(t, string(mustMarshal(t, opperapi.NewErrorV3(http.StatusConflict, errNoContent.msg, nil))), string(out))
			continue
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
		assert.JSONEq(t, string(mustMarshal(t, opperapi.Envelope[translator.Conversation]{Data: want})), string(out))
		var got opperapi.Envelope[json.RawMessage]
		require.NoError(t, json.Unmarshal(out, &got))
		assert.JSONEq(t, string(golden[traceID]), string(got.Data), "stored and read back, the conversation differs from the golden")
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestConversationChosenSpan(t *testing.T) {
	ta := newTestAPI(t, nil)
	var traceID string
	var gens, others []translator.Span
	for id, spans := range postFixture(t, ta, "openinference-tools") {
		traceID = id
		for _, s := range spans {
			if s.Type == translator.TypeGeneration {
				gens = append(gens, s)
			} else {
				others = append(others, s)
			}
		}
	}
	require.Len(t, gens, 2)
	require.NotEmpty(t, others)
	stored, err := ta.store.GetTrace(context.Background(), DefaultProject, traceID)
	require.NoError(t, err)
	for _, g := range gens {
		want, err := translator.BuildConversation(stored.Spans, g.ID)
		require.NoError(t, err)
		// Any spelling of a UUID names the span.
		for _, id := range []string{g.ID, strings.ToUpper(strings.ReplaceAll(g.ID, "-", ""))} {
			got := ta.mustJSON(http.StatusOK, http.MethodGet, "/v3/traces/"+traceID+"/conversation?span="+id, nil)
			assert.Equal(t, g.ID, get(got, "data", "span_id"))
			assert.JSONEq(t, string(mustMarshal(t, want)), string(mustMarshal(t, got["data"])))
		}
	}
	first := ta.mustJSON(http.StatusOK, http.MethodGet, "/v3/traces/"+traceID+"/conversation?span="+gens[0].ID, nil)
	last := ta.mustJSON(http.StatusOK, http.MethodGet, "/v3/traces/"+traceID+"/conversation", nil)
	assert.Len(t, get(first, "data", "messages"), 3, "system, user, the call")
	assert.Len(t, get(last, "data", "messages"), 5, "system, user, the call, its result, the answer")

	notGen := ta.mustJSON(http.StatusNotFound, http.MethodGet, "/v3/traces/"+traceID+"/conversation?span="+others[0].ID, nil)
	assert.Equal(t, map[string]any{"error": map[string]any{"code": "not_found",
		"message": "span " + others[0].ID + " is not a generation of this trace"}}, notGen)
	unknown := ta.mustJSON(http.StatusNotFound, http.MethodGet, "/v3/traces/"+traceID+"/conversation?span=nope", nil)
	assert.Equal(t, "span nope is not a generation of this trace", get(unknown, "error", "message"))
}

func TestConversationErrors(t *testing.T) {
	ta := newTestAPI(t, func(cfg *Config) {
		cfg.APIKeys = []APIKeyConfig{{Key: "key-a", Project: "a"}, {Key: "key-b", Project: "b"}}
		cfg.Retention.Projects = map[string]translator.Retention{"b": translator.RetentionMetadata}
	})
	a, b := ta.withKey("key-a"), ta.withKey("key-b")
	var traceID string
	for id := range postFixture(t, a, "openllmetry-stream") {
		traceID = id
	}
	path := "/v3/traces/" + traceID + "/conversation"
	a.mustJSON(http.StatusOK, http.MethodGet, path, nil)

	for _, c := range []struct {
		name   string
		ta     *testAPI
		method string
		path   string
		status int
		want   string
	}{
		{"unknown trace", a, http.MethodGet, "/v3/traces/nope/conversation", 404, `{"error":{"code":"not_found","message":"Trace not found"}}`},
		{"another project's trace", b, http.MethodGet, path, 404, `{"error":{"code":"not_found","message":"Trace not found"}}`},
		{"no key", ta, http.MethodGet, path, 401, `{"error":{"code":"unauthorized","message":"missing or invalid API key"}}`},
		{"wrong method", a, http.MethodPost, path, 405, `{"error":{"code":"method_not_allowed","message":"method POST is not allowed here; use GET"}}`},
		{"empty span", a, http.MethodGet, path + "?span=", 400, `{"error":{"code":"bad_request","message":"query.span: String should have at least 1 character",` +
			`"details":[{"loc":["query","span"],"msg":"String should have at least 1 character","type":"string_too_short"}]}}`},
		{"span too long", a, http.MethodGet, path + "?span=" + strings.Repeat("x", 257), 400, `{"error":{"code":"bad_request","message":"query.span: String should have at most 256 bytes",` +
			`"details":[{"loc":["query","span"],"msg":"String should have at most 256 bytes","type":"string_too_long"}]}}`},
		{"span with a control character", a, http.MethodGet, path + "?span=" + url.QueryEscape("a\x01b"), 400, `{"error":{"code":"bad_request",` +
			`"message":"query.span: String must not contain control characters","details":[{"loc":["query","span"],"msg":"String must not contain control characters","type":"string_pattern_mismatch"}]}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, out := c.ta.do(c.method, c.path, nil)
			require.Equal(t, c.status, resp.StatusCode, string(out))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.JSONEq(t, c.want, string(out))
		})
	}

	// Project b keeps metadata only: its copy of the trace has nothing to
	// replay.
	for id := range postFixture(t, b, "openllmetry-stream") {
		traceID = id
	}
	resp, out := b.do(http.MethodGet, "/v3/traces/"+traceID+"/conversation", nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(out))
	assert.JSONEq(t, `{"error":{"code":"conflict","message":"this trace has no content to replay: it was stored under metadata retention, `+
		`or its instrumentation recorded no input, output or instructions for the generation"}}`, string(out))
}

var conversationBenchSpans = flag.Int("conversation-bench-spans", 100_000,
	"spans in BenchmarkConversation's SQLite store (50-span traces); 1000000 for the size of the other API benchmarks")

// BenchmarkConversation serves GET /v3/traces/{id}/conversation of random
// 50-span agent traces (12 generations each, the last one's
// conversation), and GET /v3/traces/{id} of the same for comparison, from
// a SQLite store of -conversation-bench-spans spans:
//
//	go test -run '^$' -bench BenchmarkConversation -benchtime 2000x ./receiver/opperreceiver
//	go test -run '^$' -bench BenchmarkConversation -benchtime 2000x ./receiver/opperreceiver -args -conversation-bench-spans=1000000
func BenchmarkConversation(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "opper.db")})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	traces := max(*conversationBenchSpans/benchdata.SpansPerTrace, 1)
	fillBenchTraces(b, st, traces)
	a, err := newAPI(createDefaultConfig().(*Config), st, zap.NewNop(), nil)
	require.NoError(b, err)
	srv := httptest.NewServer(a)
	b.Cleanup(srv.Close)
	c := benchClient()
	rng := rand.New(rand.NewPCG(7, 8))
	// Sub-benchmarks, so that the store is built once, not once per b.N;
	// the whole trace's read is the reference.
	for _, suffix := range []string{"/conversation", ""} {
		b.Run("GET /v3/traces/{id}"+suffix, func(b *testing.B) {
			var bytes int64
			benchdata.Latency(b, func(int) error {
				n, err := getPageBytes(c, srv.URL+"/v3/traces/"+benchdata.TraceID(rng.IntN(traces))+suffix)
				bytes += n
				return err
			})
			b.ReportMetric(float64(bytes)/float64(b.N)/1024, "KB/answer")
		})
	}
}
