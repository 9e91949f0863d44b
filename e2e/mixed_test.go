//go:build unix

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// otlpSink is an OTLP/HTTP traces endpoint (what otlp_http sends to) that
// records every span it receives.
type otlpSink struct {
	srv *httptest.Server

	// delay (a time.Duration) slows every answer: a downstream under load.
	delay atomic.Int64

	mu       sync.Mutex
	spans    []ptrace.Span
	requests int
	errs     []string
}

func newOTLPSink(t *testing.T) *otlpSink {
	s := &otlpSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *otlpSink) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.mu.Lock()
		s.errs = append(s.errs, msg)
		s.mu.Unlock()
		http.Error(w, msg, code)
	}
	time.Sleep(time.Duration(s.delay.Load()))
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		fail(http.StatusNotFound, "unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(http.StatusBadRequest, "gzip: %v", err)
			return
		}
		body = zr
	default:
		fail(http.StatusUnsupportedMediaType, "content encoding %q", enc)
		return
	}
	data, err := io.ReadAll(body)
	if err != nil {
		fail(http.StatusBadRequest, "read: %v", err)
		return
	}
	req := ptraceotlp.NewExportRequest()
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/x-protobuf":
		err = req.UnmarshalProto(data)
	case "application/json":
		err = req.UnmarshalJSON(data)
	default:
		err = fmt.Errorf("content type %q", ct)
	}
	if err != nil {
		fail(http.StatusBadRequest, "decode: %v", err)
		return
	}
	s.mu.Lock()
	s.requests++
	rss := req.Traces().ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := ptrace.NewSpan()
				spans.At(k).CopyTo(sp)
				s.spans = append(s.spans, sp)
			}
		}
	}
	s.mu.Unlock()
	resp, _ := ptraceotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// received returns the spans so far, by their opper.span.id attribute ("" for
// spans without one), and the decoding errors.
func (s *otlpSink) received() (map[string][]ptrace.Span, int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]ptrace.Span{}
	for _, sp := range s.spans {
		id := ""
		if v, ok := sp.Attributes().Get(translator.AttrOpperSpanID); ok {
			id = v.AsString()
		}
		out[id] = append(out[id], sp)
	}
	return out, len(s.spans), append([]string(nil), s.errs...)
}

// requireNodeSDK skips unless node and the pinned opperai package are
// there; under CI (which installs them) it fails instead.
func requireNodeSDK(t *testing.T) string {
	t.Helper()
	return requireNodePackage(t, filepath.Join("testdata", "sdk"), "opperai", "test-node-deps")
}

// TestE2EMixedLanguages: an OTel-instrumented parent (Go SDK, OTLP) and an
// Opper SDK child (npm opperai, API v2) meet in one trace. The collector is
// config/gateway.yaml (the receiver with API keys, forwarding as OTLP to
// ${env:OTLP_ENDPOINT}) plus an overlay that adds the OTLP receiver and the
// opper exporter writing to that same receiver, as config/local.yaml does.
// The SDK span must leave through otlp_http exactly once, and the
// exporter's span never (the loop guard).
func TestE2EMixedLanguages(t *testing.T) {
	requireCollector(t)
	node := requireNodeSDK(t)
	t.Parallel()

	sink := newOTLPSink(t)
	key := "gw-" + uuid.NewString()
	otlpHTTP, opperAddr, health := freeAddr(t), freeAddr(t), freeAddr(t)
	overlay := filepath.Join(t.TempDir(), "otlp-in.yaml")
	writeFile(t, overlay, `# e2e overlay on config/gateway.yaml: OTLP in -> opper exporter -> this collector's receiver
receivers:
  otlp:
    protocols:
      http:
        endpoint: `+otlpHTTP+`
processors:
  batch:
    timeout: 1s
exporters:
  opper:
    endpoint: http://`+opperAddr+`
    api_key: ${env:OPPER_GATEWAY_KEY}
    retention: full
    bulk: on
service:
  pipelines:
    traces/otlp-to-opper:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [opper]
`)
	startCollector(t, "gateway", health,
		[]string{"OPPER_GATEWAY_KEY=" + key, "OTLP_ENDPOINT=" + sink.srv.URL},
		"--config="+filepath.Join(repoRoot, "config", "gateway.yaml"),
		"--config="+overlay,
		"--set=receivers.opper.endpoint="+opperAddr,
		"--set=extensions.health_check.endpoint="+health,
		"--set=service.telemetry.metrics.level=none",
	)
	base := "http://" + opperAddr

	// The OTel side: an agent span, open while the Opper SDK child runs.
	tp := newTracerProvider(t, otlpHTTP, "e2e-planner")
	_, parent := tp.Tracer("github.com/opperotel/bridge/e2e").Start(context.Background(), "invoke_agent planner",
		trace.WithAttributes(attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "planner")))
	sc := parent.SpanContext()
	otelTrace, otelParent := pcommon.TraceID(sc.TraceID()), pcommon.SpanID(sc.SpanID())
	traceID := translator.TraceUUID(otelTrace)
	parentID := translator.SpanUUID(otelTrace, otelParent)
	childID := uuid.NewString()

	// The Opper SDK side: the child, written to the receiver.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "mixed-child.mjs")
	cmd.Dir = filepath.Join(repoRoot, "testdata", "sdk")
	cmd.Env = append(os.Environ(), "OPPER_RECEIVER_URL="+base, "OPPER_API_KEY="+key,
		"TRACE_ID="+traceID, "PARENT_ID="+parentID, "SPAN_ID="+childID)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node mixed-child.mjs: %v\n%s", err, out)
	}
	t.Logf("Opper SDK child created in %s: %s", time.Since(start).Round(time.Millisecond), bytes.TrimSpace(out))

	parent.End()
	shutdownProvider(t, tp)

	// One tree: the OTel parent (through the exporter) and the SDK child.
	var tr opperapi.Trace
	eventually(t, 30*time.Second, 100*time.Millisecond, "both spans in one trace", func() (bool, string) {
		tr = opperapi.Trace{}
		status, body, err := getJSON(base+"/v2/traces/"+traceID, key, &tr)
		if err != nil || status != http.StatusOK {
			return false, fmt.Sprintf("GET /v2/traces/%s: %d %v %.300s", traceID, status, err, body)
		}
		return len(tr.Spans) == 2, fmt.Sprintf("%d spans", len(tr.Spans))
	})
	byID := map[string]opperapi.SpanSchema{}
	for _, s := range tr.Spans {
		byID[s.ID] = s
	}
	p, c := byID[parentID], byID[childID]
	if p.ID == "" || c.ID == "" {
		t.Fatalf("trace %s has spans %v, want the OTel parent %s and the SDK child %s", traceID, keys(byID), parentID, childID)
	}
	checkEqual(t, "parent's parent_id", deref(p.ParentID), "")
	checkEqual(t, "parent's type", deref(p.Type), "agent")
	checkEqual(t, "child's parent_id", deref(c.ParentID), parentID)
	checkEqual(t, "child's type", deref(c.Type), "generation")
	checkEqual(t, "trace name (the root's)", deref(tr.Name), "invoke_agent planner")
	checkEqual(t, "trace span_count", tr.SpanCount, 2)
	checkEqual(t, "trace total_tokens (the SDK child's usage)", deref(tr.TotalTokens), 28)
	if c.Data == nil || deref(c.Data.Model) != "gpt-4o-mini" {
		t.Errorf("child data %+v: want model gpt-4o-mini", c.Data)
	}

	// The SDK span leaves as OTLP once; the exporter's span does not come
	// back out (loop guard).
	eventually(t, 30*time.Second, 100*time.Millisecond, "the SDK span at the OTLP sink", func() (bool, string) {
		got, n, errs := sink.received()
		return len(got[childID]) > 0, fmt.Sprintf("%d spans at the sink, errors %v", n, errs)
	})
	// Longer than the gateway's batch timeout (1s) and a forwarder cycle, so
	// a duplicate or a looped span would have arrived.
	time.Sleep(3 * time.Second)
	got, n, errs := sink.received()
	if len(errs) > 0 {
		t.Errorf("the sink could not decode: %v", errs)
	}
	if len(got[childID]) != 1 || n != 1 {
		t.Fatalf("sink: want exactly the SDK span %s once, got %d spans: %v", childID, n, keys(got))
	}
	sp := got[childID][0]
	checkEqual(t, "forwarded span's OTel trace id", sp.TraceID(), otelTrace)
	checkEqual(t, "forwarded span's OTel parent span id", sp.ParentSpanID(), otelParent)
	checkEqual(t, "forwarded span's name", sp.Name(), "summarize (opper sdk)")
	if _, looped := got[parentID]; looped {
		t.Errorf("loop: the exporter's span %s was forwarded to the pipeline", parentID)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
