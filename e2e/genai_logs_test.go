package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// genaiCapture is a real trace of the npm OpenTelemetry OpenAI
// instrumentation with the log records it emitted beside it.
type genaiCapture struct {
	name              string
	traces, logs      []byte
	traceIDs          []string
	generationsFailed bool // the provider answered an error: no output
	embeddings        bool // no messages at all
}

func loadGenAICaptures(t *testing.T) []genaiCapture {
	t.Helper()
	dir := filepath.Join(repoRoot, "testdata", "otlp")
	files, err := filepath.Glob(filepath.Join(dir, "*.otlp-logs.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no log captures in %s: %v", dir, err)
	}
	var out []genaiCapture
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".otlp-logs.json")
		logs, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw, td := otlpfixtures.Read(t, filepath.Join(dir, name+".otlp.json"))
		c := genaiCapture{name: name, traces: raw, logs: logs,
			generationsFailed: strings.Contains(name, "error"), embeddings: strings.Contains(name, "embeddings")}
		seen := map[string]bool{}
		for _, s := range translator.New(translator.Options{}).ToOpper(td) {
			if !seen[s.TraceID] {
				seen[s.TraceID] = true
				c.traceIDs = append(c.traceIDs, s.TraceID)
			}
		}
		out = append(out, c)
	}
	return out
}

// postOTLPLogsJSON posts an ExportLogsServiceRequest in OTLP/JSON.
func postOTLPLogsJSON(t *testing.T, httpAddr string, payload []byte) {
	t.Helper()
	if _, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(payload); err != nil {
		t.Fatalf("not OTLP/JSON logs: %v", err)
	}
	postOTLPJSONTo(t, "http://"+httpAddr+"/v1/logs", payload)
}

// requireGenerationContent reads trace id back through GET /v2/traces/{id}
// until every generation has its input (and output, unless the call
// failed), and returns the trace.
func requireGenerationContent(t *testing.T, base, id string, failed bool) opperapi.Trace {
	t.Helper()
	var tr opperapi.Trace
	eventually(t, 30*time.Second, 100*time.Millisecond, "trace "+id+" with every generation's content", func() (bool, string) {
		tr = opperapi.Trace{}
		status, body, err := getJSON(base+"/v2/traces/"+id, "", &tr)
		if err != nil || status != http.StatusOK {
			return false, body
		}
		generations := 0
		for _, s := range tr.Spans {
			if s.Type == nil || *s.Type != translator.TypeGeneration {
				continue
			}
			generations++
			if s.Data == nil || s.Data.Input == nil {
				return false, "generation " + s.Name + " has no input"
			}
			if !failed && s.Data.Output == nil {
				return false, "generation " + s.Name + " has no output"
			}
		}
		return generations > 0, body
	})
	return tr
}

// TestE2EGenAILogs: the built distribution with config/local.yaml takes
// the real OTLP traces and logs of the npm OpenTelemetry OpenAI
// instrumentation, in either order, and every generation reads back
// through GET /v2/traces/{id} with the input and output its log records
// carried, stored once.
func TestE2EGenAILogs(t *testing.T) {
	requireCollector(t)
	t.Parallel()
	p := newLocalPorts(t)
	startCollector(t, "local", p.health, nil,
		append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml")}, p.setArgs()...)...)
	base := "http://" + p.opper

	for i, c := range loadGenAICaptures(t) {
		if c.embeddings {
			continue
		}
		// Half of them logs first (the usual order: the SDKs export
		// records every second, spans every 5 s), half spans first.
		if i%2 == 0 {
			postOTLPLogsJSON(t, p.http, c.logs)
			postOTLPJSON(t, p.http, c.traces)
		} else {
			postOTLPJSON(t, p.http, c.traces)
			postOTLPLogsJSON(t, p.http, c.logs)
		}
		for _, id := range c.traceIDs {
			tr := requireGenerationContent(t, base, id, c.generationsFailed)
			ids := map[string]bool{}
			for _, s := range tr.Spans {
				if ids[s.ID] {
					t.Errorf("%s: span %s listed twice", c.name, s.ID)
				}
				ids[s.ID] = true
			}
			t.Logf("%s: trace %s, %d spans, generations with content", c.name, id, len(tr.Spans))
		}
	}
}

// genaiAppDir is the npm OpenTelemetry OpenAI instrumentation's app, which
// also runs live against an OTLP endpoint (make genai-deps installs it).
var genaiAppDir = filepath.Join("testdata", "gen", "otel-genai")

// requireGenAIApp skips unless node and the app's packages are installed;
// under CI (which installs them) it fails instead.
func requireGenAIApp(t *testing.T) string {
	t.Helper()
	return requireNodePackage(t, genaiAppDir, filepath.Join("@opentelemetry", "instrumentation-openai"), "genai-deps")
}

// TestE2EGenAILogsLive runs the real npm instrumentation (the app that made
// the captures, against its local OpenAI mock) with the SDKs' own batch
// processors exporting traces and logs to the built distribution on
// config/local.yaml; every generation of each run reads back through
// GET /v2/traces/{id} with its input and output.
func TestE2EGenAILogsLive(t *testing.T) {
	requireCollector(t)
	node := requireGenAIApp(t)
	t.Parallel()
	p := newLocalPorts(t)
	startCollector(t, "local", p.health, nil,
		append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml")}, p.setArgs()...)...)
	base := "http://" + p.opper
	run := strconv.FormatInt(time.Now().UnixNano(), 36)

	scenarios := []string{"chat-greeting", "stream", "tools", "responses"}
	errs := make(chan error, len(scenarios))
	for _, sc := range scenarios {
		go func() {
			cmd := exec.Command(node, "app.cjs", sc)
			cmd.Dir = filepath.Join(repoRoot, genaiAppDir)
			cmd.Env = append(os.Environ(), "OTLP_ENDPOINT=http://"+p.http, "OTEL_SERVICE_NAME=e2e-"+sc+"-"+run)
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("node app.cjs %s: %v\n%s", sc, err, out)
			}
			errs <- err
		}()
	}
	for range scenarios {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range scenarios {
		service := "e2e-" + sc + "-" + run
		var list opperapi.List[opperapi.TraceListItem]
		eventually(t, 30*time.Second, 100*time.Millisecond, "the trace of service "+service, func() (bool, string) {
			status, body, err := getJSON(base+"/v2/traces?service="+service, "", &list)
			return err == nil && status == http.StatusOK && len(list.Data) == 1, body
		})
		tr := requireGenerationContent(t, base, list.Data[0].ID, false)
		generations := 0
		for _, s := range tr.Spans {
			if s.Type != nil && *s.Type == translator.TypeGeneration {
				generations++
			}
		}
		t.Logf("%s: %d spans, %d generations, all with input and output", sc, len(tr.Spans), generations)
	}
}
