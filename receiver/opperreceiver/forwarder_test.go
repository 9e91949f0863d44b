package opperreceiver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadatatest"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/memory"
	"github.com/opperotel/bridge/translator"
)

// flakyConsumer refuses data while failures > 0, then passes it to the sink.
type flakyConsumer struct {
	consumertest.TracesSink
	failures  atomic.Int64
	permanent bool
	calls     atomic.Int64
}

func (f *flakyConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		err := errors.New("pipeline unavailable")
		if f.permanent {
			err = consumererror.NewPermanent(err)
		}
		return err
	}
	return f.TracesSink.ConsumeTraces(ctx, td)
}

// spanIDCounts counts forwarded spans by their Opper id.
func spanIDCounts(all []ptrace.Traces) map[string]int {
	counts := make(map[string]int)
	for _, td := range all {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				spans := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					id, _ := spans.At(k).Attributes().Get(translator.AttrOpperSpanID)
					counts[id.Str()]++
				}
			}
		}
	}
	return counts
}

func postEndedSpans(t *testing.T, url string, n int, prefix string) {
	t.Helper()
	for i := range n {
		resp, body := doRequest(t, url, "", "POST", "/v2/spans", map[string]any{
			"name": "s", "id": fmt.Sprintf("%s-%d", prefix, i), "trace_id": prefix,
			"start_time": "2024-03-20T10:00:00Z", "end_time": "2024-03-20T10:00:01Z",
		})
		require.Equal(t, 200, resp.StatusCode, string(body))
	}
}

func TestForwardRetriesUntilConsumerRecovers(t *testing.T) {
	tel := newTelemetry(t)
	next := new(flakyConsumer)
	next.failures.Store(5)
	_, url := startReceiverWith(t, metadatatest.NewSettings(tel), next, nil, func(cfg *Config) { cfg.Forward.BatchSize = 7 })
	postEndedSpans(t, url, 50, "t1")

	require.Eventually(t, func() bool { return next.SpanCount() == 50 }, 10*time.Second, 10*time.Millisecond)
	// Another round of polls must not send anything twice.
	time.Sleep(200 * time.Millisecond)
	counts := spanIDCounts(next.AllTraces())
	assert.Len(t, counts, 50)
	for id, n := range counts {
		assert.Equal(t, 1, n, id)
	}
	assert.GreaterOrEqual(t, next.calls.Load(), int64(6))
	// Refused attempts are not counted; each span once it is accepted.
	metadatatest.AssertEqualReceiverOpperSpansForwarded(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 50}}, metricdatatest.IgnoreTimestamp())
	_, err := tel.GetMetric(metricForwardDropped)
	require.Error(t, err, "nothing dropped")
	// The resource names the project.
	res := next.AllTraces()[0].ResourceSpans().At(0).Resource().Attributes()
	svc, _ := res.Get("service.name")
	assert.Equal(t, DefaultProject, svc.Str())
}

// newTelemetry is a test telemetry the receiver records its metrics into.
func newTelemetry(t *testing.T) *componenttest.Telemetry {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return tel
}

// counterValue is the value of a counter without attributes; 0 before it
// was first recorded.
func counterValue(tel *componenttest.Telemetry, name string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

const (
	metricForwarded      = "otelcol_receiver_opper_spans_forwarded"
	metricForwardDropped = "otelcol_receiver_opper_spans_forward_dropped"
)

func TestForwardDropsPermanentErrors(t *testing.T) {
	tel := newTelemetry(t)
	next := &flakyConsumer{permanent: true}
	next.failures.Store(1)
	_, url := startReceiverWith(t, metadatatest.NewSettings(tel), next, nil, nil)
	postEndedSpans(t, url, 1, "t1")
	require.Eventually(t, func() bool { return counterValue(tel, metricForwardDropped) == 1 }, 5*time.Second, 10*time.Millisecond)
	postEndedSpans(t, url, 1, "t2")
	require.Eventually(t, func() bool { return next.SpanCount() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 2, next.calls.Load(), "a permanent error is not retried")
	metadatatest.AssertEqualReceiverOpperSpansForwardDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverOpperSpansForwarded(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	// The dropped span is still stored and readable.
	resp, _ := doRequest(t, url, "", "GET", "/v2/spans/t1-0", nil)
	assert.Equal(t, 200, resp.StatusCode)
}

func TestForwardIncompleteAfterTimeout(t *testing.T) {
	sink := new(consumertest.TracesSink)
	_, url := startReceiver(t, sink, nil, func(cfg *Config) { cfg.Forward.IncompleteSpanTimeout = 300 * time.Millisecond })
	resp, body := doRequest(t, url, "", "POST", "/v2/spans", map[string]any{"name": "never ends", "id": "r1", "start_time": "2024-03-20T10:00:00Z"})
	require.Equal(t, 200, resp.StatusCode, string(body))

	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, sink.SpanCount(), "a running span waits for the timeout")
	require.Eventually(t, func() bool { return sink.SpanCount() == 1 }, 5*time.Second, 10*time.Millisecond)
	span := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	incomplete, ok := span.Attributes().Get(translator.AttrIncomplete)
	require.True(t, ok)
	assert.True(t, incomplete.Bool())
	assert.Equal(t, span.StartTimestamp(), span.EndTimestamp())

	// When it ends after all, the complete span follows.
	resp, body = doRequest(t, url, "", "PATCH", "/v2/spans/r1", map[string]any{"end_time": "2024-03-20T10:00:05Z"})
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Eventually(t, func() bool { return sink.SpanCount() == 2 }, 5*time.Second, 10*time.Millisecond)
	last := sink.AllTraces()[1].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	_, ok = last.Attributes().Get(translator.AttrIncomplete)
	assert.False(t, ok)
}

func TestForwardSkipsLoopGuardedSpans(t *testing.T) {
	sink := new(consumertest.TracesSink)
	_, url := startReceiver(t, sink, nil, nil)
	ended := map[string]any{"name": "from exporter", "id": "x1", "end_time": "2024-03-20T10:00:01Z"}
	resp, _ := doRequest(t, url, "", "POST", "/v2/spans", ended, opperapi.HeaderSource, opperapi.SourceExporter)
	require.Equal(t, 200, resp.StatusCode)
	resp, _ = doRequest(t, url, "", "POST", "/v2/spans/batch", []any{map[string]any{"name": "batch", "id": "x2", "end_time": "2024-03-20T10:00:01Z"}},
		opperapi.HeaderSource, opperapi.SourceExporter)
	require.Equal(t, 200, resp.StatusCode)
	postEndedSpans(t, url, 1, "sdk")

	require.Eventually(t, func() bool { return sink.SpanCount() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(150 * time.Millisecond)
	assert.Equal(t, map[string]int{"sdk-0": 1}, spanIDCounts(sink.AllTraces()))
	// Stored all the same.
	resp, _ = doRequest(t, url, "", "GET", "/v2/spans/x1", nil)
	assert.Equal(t, 200, resp.StatusCode)
	resp, _ = doRequest(t, url, "", "GET", "/v2/spans/x2", nil)
	assert.Equal(t, 200, resp.StatusCode)
}

func TestForwardResumesAfterRestart(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "opper.db")
	useDB := func(cfg *Config) { cfg.Storage.SQLite.Path = dbPath }

	// First run: the pipeline refuses everything.
	refusing := new(flakyConsumer)
	refusing.failures.Store(1 << 40)
	first, url := startReceiver(t, refusing, nil, useDB)
	postEndedSpans(t, url, 20, "t1")
	require.Eventually(t, func() bool { return refusing.calls.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, first.Shutdown(context.Background()))
	assert.Zero(t, refusing.SpanCount())

	// Second run on the same database: the outbox is picked up at start.
	sink := new(consumertest.TracesSink)
	startReceiver(t, sink, nil, useDB)
	require.Eventually(t, func() bool { return sink.SpanCount() == 20 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.Len(t, spanIDCounts(sink.AllTraces()), 20)
	assert.Equal(t, 20, sink.SpanCount())
}

func TestForwardObsReport(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Forward.PollInterval = 20 * time.Millisecond
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.TracesSink)
	r, err := newReceiver(cfg, set, sink)
	require.NoError(t, err)
	r.openStore = func(context.Context, component.Host, component.ID, *Config) (store.Store, bool, error) {
		return memory.New(), true, nil
	}
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	postEndedSpans(t, "http://"+r.addr.String(), 3, "t1")
	require.Eventually(t, func() bool { return sink.SpanCount() == 3 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		m, err := tel.GetMetric("otelcol_receiver_accepted_spans")
		return err == nil && m.Name != ""
	}, 5*time.Second, 10*time.Millisecond)
}

func TestWaitForPipelinePassesBackpressureToTheClient(t *testing.T) {
	next := new(flakyConsumer)
	next.failures.Store(1)
	_, url := startReceiver(t, next, nil, func(cfg *Config) { cfg.Forward.WaitForPipeline = true })
	span := map[string]any{"name": "s", "id": "sync-1", "trace_id": "sync", "start_time": "2024-03-20T10:00:00Z", "end_time": "2024-03-20T10:00:01Z"}

	resp, body := doRequest(t, url, "", "POST", "/v2/spans", span)
	assert.Equal(t, 503, resp.StatusCode, "a refusing pipeline is a retryable error for the client")
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(body), `"type"`)
	assert.Zero(t, next.SpanCount())

	resp, body = doRequest(t, url, "", "POST", "/v2/spans", span)
	require.Equal(t, 200, resp.StatusCode, string(body))
	assert.Equal(t, 1, next.SpanCount(), "delivered before the answer")
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, map[string]int{"sync-1": 1}, spanIDCounts(next.AllTraces()), "the outbox does not send it again")

	next.permanent = true
	next.failures.Store(1)
	resp, _ = doRequest(t, url, "", "POST", "/v3/spans", map[string]any{"name": "v3"})
	assert.Equal(t, 400, resp.StatusCode, "a permanent rejection is the client's to drop")
}

func TestIncludeExporterSpans(t *testing.T) {
	for _, include := range []bool{false, true} {
		t.Run(fmt.Sprint(include), func(t *testing.T) {
			next := new(consumertest.TracesSink)
			_, url := startReceiver(t, next, nil, func(cfg *Config) {
				cfg.Forward.IncludeExporterSpans = include
				cfg.Forward.PollInterval = 10 * time.Millisecond
			})
			resp, body := doRequest(t, url, "", "POST", "/v2/spans", map[string]any{
				"name": "from a collector", "id": "x-1", "trace_id": "x",
				"start_time": "2024-03-20T10:00:00Z", "end_time": "2024-03-20T10:00:01Z",
			}, opperapi.HeaderSource, opperapi.SourceExporter)
			require.Equal(t, 200, resp.StatusCode, string(body))
			if include {
				assert.Eventually(t, func() bool { return next.SpanCount() == 1 }, 5*time.Second, 10*time.Millisecond)
				return
			}
			time.Sleep(100 * time.Millisecond)
			assert.Zero(t, next.SpanCount(), "the loop guard keeps the exporter's spans out")
		})
	}
}

// shutdownDuringConsume holds the first batch until the receiver begins
// shutting down, then accepts it: the forwarder's context is already
// cancelled when it records the batch as forwarded.
type shutdownDuringConsume struct {
	consumertest.TracesSink
	consuming chan struct{}
	once      atomic.Bool
}

func (s *shutdownDuringConsume) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if s.once.CompareAndSwap(false, true) {
		close(s.consuming)
		<-ctx.Done()
	}
	return s.TracesSink.ConsumeTraces(ctx, td)
}

// A batch the pipeline accepted while the receiver shuts down is still
// recorded as forwarded: a restart must not send it again.
func TestForwardRecordsBatchAcceptedDuringShutdown(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "opper.db")
	useDB := func(cfg *Config) { cfg.Storage.SQLite.Path = dbPath }

	// Stored while the pipeline refuses them, so that the next run's first
	// batch holds all of them.
	refusing := new(flakyConsumer)
	refusing.failures.Store(1 << 40)
	idle, url := startReceiver(t, refusing, nil, useDB)
	postEndedSpans(t, url, 5, "t1")
	require.NoError(t, idle.Shutdown(context.Background()))

	first := &shutdownDuringConsume{consuming: make(chan struct{})}
	r, _ := startReceiver(t, first, nil, useDB)
	select {
	case <-first.consuming:
	case <-time.After(10 * time.Second):
		t.Fatal("the outbox was not forwarded")
	}
	require.NoError(t, r.Shutdown(context.Background()))
	require.Equal(t, 5, first.SpanCount())

	// Several polls of the second run (50 ms apart) find nothing due.
	second := new(consumertest.TracesSink)
	startReceiver(t, second, nil, useDB)
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, second.SpanCount(), "spans the first run's pipeline accepted were sent again")
}

// markFailingStore cannot record forwards while failures > 0, as a
// database that went down between the forward and its record.
type markFailingStore struct {
	*memory.Store
	failures atomic.Int64
	marks    atomic.Int64
}

func (s *markFailingStore) MarkForwarded(ctx context.Context, keys []store.PendingKey) error {
	s.marks.Add(1)
	if s.failures.Add(-1) >= 0 {
		return fmt.Errorf("postgres: mark forwarded: %w", store.ErrUnavailable)
	}
	return s.Store.MarkForwarded(ctx, keys)
}

// A batch the pipeline accepted but the store could not record is
// recorded once the store is back, not sent again.
func TestForwardRetriesTheRecordNotTheBatch(t *testing.T) {
	st := &markFailingStore{Store: memory.New()}
	st.failures.Store(4)
	next := new(consumertest.TracesSink)
	_, url := startReceiverWith(t, receivertest.NewNopSettings(metadata.Type), next, st, nil)
	postEndedSpans(t, url, 20, "t1")
	require.Eventually(t, func() bool {
		ps, err := st.Store.PendingForward(t.Context(), 100, time.Now())
		return err == nil && len(ps) == 0
	}, 10*time.Second, 10*time.Millisecond, "the forward recorded")
	time.Sleep(200 * time.Millisecond)
	counts := spanIDCounts(next.AllTraces())
	require.Len(t, counts, 20)
	for id, n := range counts {
		require.Equal(t, 1, n, "span %s sent %d times", id, n)
	}
	require.GreaterOrEqual(t, st.marks.Load(), int64(5))
}
