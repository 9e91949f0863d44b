//go:build unix

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/opperotel/bridge/internal/opperfake"
	"github.com/opperotel/bridge/translator"
)

// wantSpan is what must arrive at the hosted API for one span.
type wantSpan struct {
	traceID, parentID, name, typ, from string
}

// newSyncProvider is an OTel Go SDK pipeline that exports every span on
// its own, as it ends: children reach the collector before their parents,
// in separate requests.
func newSyncProvider(t *testing.T, httpAddr string) *sdktrace.TracerProvider {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(), otlptracehttp.WithTimeout(10*time.Second),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "e2e-cloud"))
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
}

// sendGenerated emits n GenAI agent trees through the OTel Go SDK (one
// request per span, children first) and records what each span must become.
func sendGenerated(t *testing.T, httpAddr string, n int, want map[string]wantSpan) {
	t.Helper()
	tp := newSyncProvider(t, httpAddr)
	types := map[string]string{"agent": "agent", "chat1": "generation", "tool": "tool", "chat2": "generation"}
	names := map[string]string{"agent": "invoke_agent " + agentName, "chat1": "chat " + requestModel, "tool": "execute_tool get_weather", "chat2": "chat " + requestModel}
	for i := 0; i < n; i++ {
		tree := emitSDKAgentTree(t, tp)
		for role, id := range tree.ids {
			w := wantSpan{traceID: tree.traceID, name: names[role], typ: types[role], from: "go sdk"}
			if role != "agent" {
				w.parentID = tree.ids["agent"]
			}
			want[id] = w
		}
	}
	shutdownProvider(t, tp)
}

// sendFixtures posts fixtures and records what their spans must become
// (metadata retention, as config/opper-cloud.yaml says).
func sendFixtures(t *testing.T, httpAddr string, fixtures []fixture, want map[string]wantSpan) {
	t.Helper()
	tr := translator.New(translator.Options{Retention: translator.RetentionMetadata})
	for _, f := range fixtures {
		postOTLPJSON(t, httpAddr, f.raw)
		for _, s := range tr.ToOpper(f.td) {
			want[s.ID] = wantSpan{traceID: s.TraceID, parentID: s.ParentID, name: s.Name, typ: s.Type, from: f.name}
		}
	}
}

// TestE2EHostedAPI: config/opper-cloud.yaml against a strict fake of the
// hosted v2 API. The API is down while spans are posted, the collector is
// killed (SIGKILL) and restarted on the same persistent queue, more spans
// are posted, then the API comes back: every span arrives exactly once,
// linked to its parent, without content.
func TestE2EHostedAPI(t *testing.T) {
	requireCollector(t)
	t.Parallel()

	key := "op-" + uuid.NewString()
	fake := opperfake.New(opperfake.Options{APIKey: key})
	t.Cleanup(fake.Close)
	fake.SetDown(true)

	grpcAddr, httpAddr, health := freeAddr(t), freeAddr(t), freeAddr(t)
	c := startCollector(t, "cloud", health,
		[]string{"OPPER_ENDPOINT=" + fake.URL(), "OPPER_API_KEY=" + key},
		"--config="+filepath.Join(repoRoot, "config", "opper-cloud.yaml"),
		"--set=receivers.otlp.protocols.grpc.endpoint="+grpcAddr,
		"--set=receivers.otlp.protocols.http.endpoint="+httpAddr,
		"--set=extensions.health_check.endpoint="+health,
		"--set=service.telemetry.metrics.level=none",
		// Short backoff, so the test does not wait out the default 5s..30s
		// intervals once the API is back.
		"--set=exporters.opper.retry_on_failure.initial_interval=200ms",
		"--set=exporters.opper.retry_on_failure.max_interval=1s",
	)

	fixtures := loadFixtures(t)
	half := len(fixtures) / 2
	want := map[string]wantSpan{}

	// Run 1: the API is down; the spans wait in the queue on disk.
	sendFixtures(t, httpAddr, fixtures[:half], want)
	sendGenerated(t, httpAddr, 3, want)
	n1 := len(want)
	time.Sleep(1500 * time.Millisecond) // some exports fail and are in retry when the crash comes
	c.kill()
	t.Logf("run 1: %d spans accepted while the API was down, then SIGKILL", n1)
	if got := len(fake.Spans()); got != 0 {
		t.Fatalf("the fake stored %d spans while down", got)
	}

	// Run 2: same working directory, same queue; still down.
	c.start()
	sendFixtures(t, httpAddr, fixtures[half:], want)
	sendGenerated(t, httpAddr, 3, want)
	t.Logf("run 2: %d more spans accepted while the API was down", len(want)-n1)
	time.Sleep(1500 * time.Millisecond)

	// The API comes back.
	up := time.Now()
	fake.SetDown(false)
	eventually(t, 90*time.Second, 200*time.Millisecond, fmt.Sprintf("all %d spans at the API", len(want)), func() (bool, string) {
		stored := fake.Spans()
		missing := 0
		for id := range want {
			if _, ok := fake.Span(id); !ok {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d stored, %d of %d missing", len(stored), missing, len(want))
	})
	t.Logf("delivered %s after the API came back", time.Since(up).Round(time.Millisecond))
	// Anything extra (a duplicate under another id, a placeholder) would
	// come within a few retry intervals.
	time.Sleep(2 * time.Second)

	stored := fake.Spans()
	if len(stored) != len(want) {
		var extra []string
		for _, s := range stored {
			if _, ok := want[s.ID]; !ok {
				extra = append(extra, fmt.Sprintf("%s %q (meta %v)", s.ID, s.Name, s.Meta))
			}
		}
		t.Errorf("the API stored %d spans, want %d; extra: %v", len(stored), len(want), extra)
	}
	seen := map[string]int{}
	for _, s := range stored {
		seen[s.ID]++
		w, ok := want[s.ID]
		if !ok {
			continue
		}
		what := fmt.Sprintf("span %s %q (%s)", s.ID, w.name, w.from)
		checkEqual(t, what+" trace_id", s.TraceID, w.traceID)
		checkEqual(t, what+" parent_id", s.ParentID, w.parentID)
		checkEqual(t, what+" name", s.Name, w.name)
		checkEqual(t, what+" type", s.Type, w.typ)
		if len(s.Input) > 0 || len(s.Output) > 0 {
			t.Errorf("%s: content sent under retention metadata: input %.100s output %.100s", what, s.Input, s.Output)
		}
		if p, _ := s.Meta["placeholder"].(bool); p {
			t.Errorf("%s: still a placeholder", what)
		}
		if s.Creates != 1 {
			t.Errorf("%s: created %d times", what, s.Creates)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("span %s stored %d times", id, n)
		}
	}
	reqs := fake.Requests()
	lines := make([]string, 0, len(reqs))
	for k, v := range reqs {
		lines = append(lines, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(lines)
	t.Logf("requests the API answered: %s", strings.Join(lines, ", "))
}
