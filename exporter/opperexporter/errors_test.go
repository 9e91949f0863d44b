package opperexporter

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/opperotel/bridge/exporter/opperexporter/internal/metadata"
	"github.com/opperotel/bridge/opperapi"
)

func exportertestSettings() exporter.Settings { return exportertest.NewNopSettings(metadata.Type) }

// TestErrorResponses maps every status the API may answer a span create
// with to what the exporter does, like otlphttpexporter's test of the same name.
func TestErrorResponses(t *testing.T) {
	type want int
	const (
		ok want = iota
		permanent
		retryable
		throttled
	)
	httpDate := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		want       want
	}{
		{name: "200", status: 200, want: ok},
		{name: "400", status: 400, body: `{"type":"BadRequestError","message":"The request is invalid"}`, want: permanent},
		{name: "401", status: 401, body: `{"type":"UnauthorizedError","message":"The request is unauthorized"}`, want: permanent},
		{name: "403", status: 403, body: `{"type":"HTTPException","message":"Account suspended"}`, want: permanent},
		{name: "404 wrong path", status: 404, body: `{"detail":"Not Found"}`, want: permanent},
		{name: "409 becomes update", status: 409, want: ok},
		{name: "413", status: 413, want: permanent},
		{name: "422", status: 422, body: `{"type":"RequestValidationError","message":"The request is invalid","detail":"score: Input should be a valid integer"}`, want: permanent},
		{name: "429", status: 429, want: retryable},
		{name: "429 Retry-After seconds", status: 429, retryAfter: "7", want: throttled},
		{name: "429 Retry-After date", status: 429, retryAfter: httpDate, want: throttled},
		{name: "500", status: 500, want: retryable},
		{name: "502", status: 502, want: retryable},
		{name: "503", status: 503, want: retryable},
		{name: "503 Retry-After", status: 503, retryAfter: "2", want: throttled},
		{name: "504", status: 504, want: retryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var patches atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPatch {
					patches.Add(1)
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"id":"x","name":"n"}`))
					return
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			cfg := testConfig(srv.URL)
			cfg.RetryConfig.Enabled = false
			exp := startExporter(t, cfg)

			err := exp.ConsumeTraces(context.Background(), oneSpan("op"))
			switch tt.want {
			case ok:
				require.NoError(t, err)
				if tt.status == http.StatusConflict {
					assert.Equal(t, int32(1), patches.Load())
				}
				assert.Equal(t, int64(1), exp.counter(t, "otelcol_exporter_opper_spans_sent"))
			case permanent:
				require.Error(t, err)
				assert.True(t, consumererror.IsPermanent(err), "%v", err)
				assert.Contains(t, err.Error(), "HTTP Status Code "+http.StatusText(tt.status)[:0])
				assert.Equal(t, int64(1), exp.counter(t, "otelcol_exporter_opper_spans_dropped", "reason", dropReason(tt.status)))
				if msg := opperapi.ErrorMessage([]byte(tt.body)); msg != "" {
					assert.Contains(t, err.Error(), msg, "the server's message is kept")
				}
			case retryable, throttled:
				require.Error(t, err)
				assert.False(t, consumererror.IsPermanent(err), "%v", err)
				var te consumererror.Traces
				require.ErrorAs(t, err, &te)
				assert.Equal(t, 1, te.Data().SpanCount(), "the failed span is handed back for the retry")
				assert.Equal(t, tt.want == throttled, strings.Contains(err.Error(), "Throttle ("), "%v", err)
			}
		})
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cfg := testConfig("http://" + addr)
	cfg.RetryConfig.Enabled = false
	exp := startExporter(t, cfg)
	err = exp.ConsumeTraces(context.Background(), oneSpan("op"))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	var te consumererror.Traces
	require.ErrorAs(t, err, &te)
	assert.Equal(t, int64(1), exp.counter(t, "otelcol_exporter_opper_requests", "status_class", "network"))
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Fri, 20 Mar 2026 09:59:00 GMT", 0, true}, // in the past: retry now
	} {
		d, ok := retryAfter(tt.in, now)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, d, tt.in)
	}
}

// TestPermanentErrorsLoggedOncePerMinute: many rejected batches, one log
// line with the server's message; every span counted.
func TestPermanentErrorsLoggedOncePerMinute(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"type":"UnauthorizedError","message":"The request is unauthorized","detail":"invalid api key"}`))
	}))
	defer srv.Close()
	core, logs := observer.New(zap.WarnLevel)
	cfg := testConfig(srv.URL)
	e, err := newExporter(cfg, exportertestSettings())
	require.NoError(t, err)
	e.drops = newDropLogger(zap.New(core), time.Minute, spanDropMessage)
	e.client = srv.Client()
	for range 5 {
		err := e.pushTraces(context.Background(), oneSpan("op"))
		require.True(t, consumererror.IsPermanent(err))
	}
	entries := logs.FilterMessageSnippet("rejected spans permanently").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "The request is unauthorized: invalid api key", entries[0].ContextMap()["server_message"])
	assert.Equal(t, "unauthorized", entries[0].ContextMap()["reason"])
	require.NoError(t, e.shutdown(context.Background()))
}

func TestClassify(t *testing.T) {
	f := classify("create span", "http://x/v2/spans", response{status: 503, header: http.Header{"Retry-After": {"4"}}})
	assert.True(t, f.retry)
	assert.Equal(t, 4*time.Second, f.delay)
	f = classify("create span", "http://x/v2/spans", response{status: 422, header: http.Header{}, body: []byte(`{"message":"bad","detail":"score"}`)})
	assert.False(t, f.retry)
	assert.Equal(t, "invalid", f.reason)
	assert.Equal(t, "bad: score", f.detail)
	assert.True(t, errors.Is(f.err, f.err))
}
