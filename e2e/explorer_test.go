//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// The explorer's browser tests: bin/otelcol-opper runs config/local.yaml
// (OTLP in, the exporter writing into opper_storage, the receiver serving
// the pages), real OTLP fixtures go in, and e2e/browser/explorer.test.mjs
// drives Debian's headless Chromium through playwright-core over the
// pages. This file prepares the data and tells the script what to expect.

// chromiumPath is Debian's chromium package (make browser-deps installs it).
const chromiumPath = "/usr/bin/chromium"

// missingDependency skips a test whose dependency is missing, or under CI
// (which installs it with `make <target>`) fails it.
func missingDependency(t *testing.T, what, target string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: CI must run this test (make %s installs what it needs)", what, target)
	}
	t.Skip(what + ": run `make " + target + "` (make test does)")
}

// requireNodePackage returns node's path once node and the npm package
// dir/node_modules/pkg are installed; otherwise it skips, or under CI
// (which installs them with `make <target>`) fails.
func requireNodePackage(t *testing.T, dir, pkg, target string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missingDependency(t, "node is not installed", target)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, dir, "node_modules", pkg, "package.json")); err != nil {
		missingDependency(t, filepath.Join(dir, "node_modules", pkg)+" is missing", target)
	}
	return node
}

// requireBrowser skips unless node, playwright-core and Chromium are
// installed; under CI (which installs them) it fails instead.
func requireBrowser(t *testing.T) string {
	t.Helper()
	node := requireNodePackage(t, filepath.Join("e2e", "browser"), "playwright-core", "browser-deps")
	if _, err := os.Stat(chromiumPath); err != nil {
		missingDependency(t, chromiumPath+" is missing (Debian's chromium package)", "browser-deps")
	}
	return node
}

// browserTrace is what the script checks of one trace in the list.
type browserTrace struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Fixture    string   `json:"fixture"`
	Status     string   `json:"status"`
	Spans      int64    `json:"spans"`
	Tokens     int64    `json:"tokens"`
	HasCost    bool     `json:"has_cost"`
	Cost       float64  `json:"cost"`
	DurationMS int64    `json:"duration_ms"`
	DurationNS int64    `json:"duration_ns"`
	Tags       []string `json:"tags,omitempty"`
	// Models, Users and Sessions are those of any span of the trace.
	Models   []string `json:"models,omitempty"`
	Users    []string `json:"users,omitempty"`
	Sessions []string `json:"sessions,omitempty"`
	Services []string `json:"services,omitempty"`
	// SessionSpan is a span with a session id.
	SessionSpan string `json:"session_span,omitempty"`
	// Generation is a generation span of the trace with its model.
	Generation      string `json:"generation,omitempty"`
	GenerationName  string `json:"generation_name,omitempty"`
	GenerationModel string `json:"generation_model,omitempty"`
}

// browserPlan is the script's input.
type browserPlan struct {
	Base        string         `json:"base"`
	Chromium    string         `json:"chromium"`
	Screenshots string         `json:"screenshots"`
	Traces      []browserTrace `json:"traces"`
	BigTrace    string         `json:"big_trace"`
	BigSpans    int            `json:"big_spans"`
	XSSTrace    string         `json:"xss_trace"`
	XSSName     string         `json:"xss_name"`
	// Keyed is a second collector with api_keys, two projects.
	Keyed *keyedPlan `json:"keyed,omitempty"`
	// UsageTo bounds the fixtures' traces (they start before it, the others
	// after); Usage is their usage by model.
	UsageTo string                  `json:"usage_to"`
	Usage   []translator.ModelUsage `json:"usage"`
	// ReadmeShot, when set, is where the list's screenshot for the README goes.
	ReadmeShot string `json:"readme_shot,omitempty"`
}

type keyedPlan struct {
	Base       string `json:"base"`
	AlphaKey   string `json:"alpha_key"`
	BetaKey    string `json:"beta_key"`
	AlphaTrace string `json:"alpha_trace"`
	BetaTrace  string `json:"beta_trace"`
}

const xssName = `<script>alert(1)</script><img src=x onerror=alert(2)>`

// TestE2EExplorer runs the browser scenarios of issue 11 against the real
// collector: the list with composition, cost, tokens and status dots, every
// filter, the tree, a generation's messages and model, the {} toggle, Copy
// span, the ↗ link, the conversation, escaping, a 20,000-span trace, and
// with api_keys the sign-in page and one project's traces only.
func TestE2EExplorer(t *testing.T) {
	requireCollector(t)
	node := requireBrowser(t)

	ports := newLocalPorts(t)
	startCollector(t, "explorer", ports.health, nil,
		append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml")}, ports.setArgs()...)...)

	fixtures := loadFixtures(t)
	expected, order := translateFixtures(t, fixtures, translator.RetentionFull)
	for _, f := range fixtures {
		postOTLPJSON(t, ports.http, f.raw)
	}
	xss := otlpTrace(xssName, 3, 1)
	postOTLPProto(t, ports.http, xss)
	const bigSpans = 20000
	big := otlpTrace("agent run with 20,000 steps", bigSpans, 7)
	postOTLPProto(t, ports.http, big)

	plan := browserPlan{
		Base: "http://" + ports.opper, Chromium: chromiumPath, Screenshots: screenshotDir(t),
		BigTrace: translator.CanonicalID(traceIDOf(big).String()), BigSpans: bigSpans,
		XSSTrace: translator.CanonicalID(traceIDOf(xss).String()), XSSName: xssName,
		ReadmeShot: os.Getenv("EXPLORER_README_SHOT"),
	}
	// The fixtures' traces start before UsageTo (they were captured when
	// they were), the generated ones a minute ago.
	var latest time.Time
	for _, id := range order {
		if st := expected[id].summary.StartTime; st.After(latest) {
			latest = st
		}
	}
	if !latest.Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("a fixture's trace starts at %v, not before the generated traces", latest)
	}
	plan.UsageTo = latest.Add(time.Millisecond).UTC().Format(time.RFC3339Nano)
	for _, id := range order {
		e := expected[id]
		for _, u := range translator.UsageByModel(e.spans) {
			plan.Usage = translator.AddModelUsage(plan.Usage, u)
		}
		bt := browserTrace{ID: id, Name: e.summary.Name, Fixture: strings.TrimSuffix(e.fixture, ".otlp.json"),
			Status: e.summary.Status, Spans: e.summary.SpanCount, Tokens: e.summary.TotalTokens, HasCost: e.summary.HasCost,
			Cost: e.summary.Cost, DurationMS: e.summary.Duration().Milliseconds(), DurationNS: e.summary.Duration().Nanoseconds(), Tags: e.summary.Tags}
		for _, s := range e.spans {
			if s.Type == translator.TypeGeneration && s.Model != "" && s.Input != nil && bt.Generation == "" {
				bt.Generation, bt.GenerationName, bt.GenerationModel = s.ID, s.Name, s.Model
			}
			bt.Models = appendNew(appendNew(bt.Models, s.Model), s.RequestModel)
			bt.Users = appendNew(bt.Users, s.UserID)
			bt.Sessions = appendNew(bt.Sessions, s.SessionID)
			bt.Services = appendNew(bt.Services, translator.ServiceName(&s))
			if s.SessionID != "" && bt.SessionSpan == "" {
				bt.SessionSpan = s.ID
			}
		}
		plan.Traces = append(plan.Traces, bt)
	}
	translator.SortModelUsage(plan.Usage)
	want := len(order) + 2
	eventually(t, 60*time.Second, 200*time.Millisecond, "every trace stored", func() (bool, string) {
		var list opperapi.List[opperapi.TraceListItemV3]
		status, body, err := getJSON(plan.Base+"/v3/traces?limit=1", "", &list)
		if err != nil || status != http.StatusOK {
			return false, fmt.Sprintf("status %d, err %v: %.300s", status, err, body)
		}
		return list.Meta.TotalCount >= int64(want), fmt.Sprintf("%d of %d traces", list.Meta.TotalCount, want)
	})

	plan.Keyed = startKeyedCollector(t, fixtures[0])
	runBrowserScript(t, node, plan)
}

// startKeyedCollector runs config/local.yaml with two API keys: the
// exporter writes OTLP into project alpha, an SDK-style v3 write with the
// beta key lands in beta.
func startKeyedCollector(t *testing.T, f fixture) *keyedPlan {
	t.Helper()
	ports := newLocalPorts(t)
	overlay := filepath.Join(t.TempDir(), "keys.yaml")
	writeFile(t, overlay, `receivers:
  opper:
    api_keys:
      - {key: key-alpha-0123456789, project: alpha}
      - {key: key-beta-0123456789, project: beta}
exporters:
  opper:
    project: alpha
`)
	startCollector(t, "explorer-keyed", ports.health, nil,
		append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml"), "--config=" + overlay}, ports.setArgs()...)...)
	postOTLPJSON(t, ports.http, f.raw)
	plan := &keyedPlan{Base: "http://" + ports.opper, AlphaKey: "key-alpha-0123456789", BetaKey: "key-beta-0123456789"}

	body := `{"name":"beta project trace","start_time":"2026-12-01T10:00:00Z","end_time":"2026-12-01T10:00:01Z","input":"only beta sees this"}`
	req, err := http.NewRequest(http.MethodPost, plan.Base+"/v3/spans", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+plan.BetaKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("v3 create with the beta key: %d %s", resp.StatusCode, raw)
	}
	var created opperapi.Envelope[opperapi.SpanV3]
	if err := json.Unmarshal(raw, &created); err != nil {
		t.Fatal(err)
	}
	plan.BetaTrace = created.Data.TraceID
	eventually(t, 30*time.Second, 200*time.Millisecond, "alpha's trace stored", func() (bool, string) {
		var list opperapi.List[opperapi.TraceListItemV3]
		status, body, err := getJSON(plan.Base+"/v3/traces", plan.AlphaKey, &list)
		if err != nil || status != http.StatusOK || len(list.Data) == 0 {
			return false, fmt.Sprintf("status %d, err %v: %.300s", status, err, body)
		}
		plan.AlphaTrace = list.Data[0].ID
		return true, ""
	})
	return plan
}

// screenshotDir keeps the pictures: E2E_SCREENSHOTS names a directory to
// look at them afterwards; by default they go with the test's temp files.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("E2E_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// runBrowserScript runs node's test runner over explorer.test.mjs and
// fails with its report.
func runBrowserScript(t *testing.T, node string, plan browserPlan) {
	t.Helper()
	runNodeScript(t, node, "explorer.test.mjs", plan, plan.Screenshots)
}

// runNodeScript runs node's test runner over one script of e2e/browser,
// its plan in the file EXPLORER_PLAN names, and fails with its report.
func runNodeScript(t *testing.T, node, script string, plan any, screenshots string) {
	t.Helper()
	planFile := filepath.Join(t.TempDir(), "plan.json")
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, planFile, string(b))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "--test-concurrency=1", script)
	cmd.Dir = filepath.Join(repoRoot, "e2e", "browser")
	cmd.Env = append(os.Environ(), "EXPLORER_PLAN="+planFile)
	out, err := cmd.CombinedOutput()
	// Node's report is the test's story: keep it in the log either way.
	t.Logf("%s:\n%s", script, out)
	if err != nil {
		t.Fatalf("browser scenarios failed: %v (screenshots in %s)", err, screenshots)
	}
	if m := regexp.MustCompile(`(?m)^ℹ fail (\d+)`).FindSubmatch(out); m != nil && string(m[1]) != "0" {
		t.Fatalf("browser scenarios: %s failed", m[1])
	}
}

// otlpTrace builds one trace of n spans: a root agent, and below it steps
// of `fanout` generations each, every generation with messages, so the
// tree has depth and the detail pane has content.
func otlpTrace(rootName string, n, fanout int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "explorer-e2e")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("explorer-e2e")
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[:8], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(tid[8:], uint64(n)*7919+uint64(len(rootName)))
	start := time.Now().Add(-time.Minute)
	spanID := func(i int) pcommon.SpanID {
		var id pcommon.SpanID
		binary.BigEndian.PutUint64(id[:], uint64(i+1)|uint64(n)<<40)
		return id
	}
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(tid)
	root.SetSpanID(spanID(0))
	root.SetName(rootName)
	root.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(n) * time.Millisecond)))
	step := 0
	for i := 1; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(spanID(i))
		at := start.Add(time.Duration(i) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(800 * time.Microsecond)))
		if fanout <= 1 || (i-1)%(fanout+1) == 0 {
			step = i
			sp.SetParentSpanID(spanID(0))
			sp.SetName("step " + strconv.Itoa(i))
			continue
		}
		sp.SetParentSpanID(spanID(step))
		sp.SetName("chat gpt-4o-mini")
		a := sp.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.request.model", "gpt-4o-mini")
		a.PutInt("gen_ai.usage.input_tokens", 120)
		a.PutInt("gen_ai.usage.output_tokens", 30)
		a.PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"step `+strconv.Itoa(i)+`"}]}]`)
		a.PutStr("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"done"}],"finish_reason":"stop"}]`)
	}
	return td
}

func traceIDOf(td ptrace.Traces) pcommon.TraceID {
	return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID()
}

// postOTLPProto posts traces as OTLP/HTTP protobuf, as SDKs do.
func postOTLPProto(t *testing.T, httpAddr string, td ptrace.Traces) {
	t.Helper()
	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP post: %d %s", resp.StatusCode, raw)
	}
}

func appendNew(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
