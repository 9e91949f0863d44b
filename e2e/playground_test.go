//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/opperotel/bridge/internal/openaifake"
	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// playgroundPlan is playground.test.mjs's input.
type playgroundPlan struct {
	Base        string `json:"base"`
	Chromium    string `json:"chromium"`
	Screenshots string `json:"screenshots"`
	// Control scripts the fake provider: POST a JSON list of
	// openaifake.Answer; GET the number of requests it has had.
	Control string `json:"control"`
	TraceID string `json:"trace_id"`
	Model   string `json:"model"`
	// Original is a piece of the recorded answer.
	Original string `json:"original"`
}

// TestE2EPlayground runs issue 14's browser scenario against the built
// collector with a playground provider: the fake OpenAI-compatible server
// (internal/openaifake) runs in this process and the script tells it what
// to answer. In Chromium: the conversation page of a fixture's trace, an
// edited user turn run from there and streamed, Compare, a saved run found
// in the trace list, and a provider's 401 shown with its message.
func TestE2EPlayground(t *testing.T) {
	requireCollector(t)
	node := requireBrowser(t)

	fake := openaifake.New(openaifake.Options{Models: []string{openaifake.DefaultModel}})
	t.Cleanup(fake.Close)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("first_text") {
			// When the fake flushed the last streamed answer's first text,
			// in Unix milliseconds: the page measures against it.
			times := fake.FirstTextTimes()
			if len(times) == 0 {
				http.Error(w, "no streamed text yet", http.StatusNotFound)
				return
			}
			_ = json.NewEncoder(w).Encode(float64(times[len(times)-1].UnixMicro()) / 1000)
			return
		}
		if r.Method == http.MethodGet {
			_ = json.NewEncoder(w).Encode(len(fake.Requests()))
			return
		}
		var answers []openaifake.Answer
		if err := json.NewDecoder(r.Body).Decode(&answers); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fake.SetScript(answers...)
	}))
	t.Cleanup(control.Close)

	ports := newLocalPorts(t)
	overlay := filepath.Join(t.TempDir(), "playground.yaml")
	writeFile(t, overlay, fmt.Sprintf(`receivers:
  opper:
    playground:
      providers:
        - name: fake
          endpoint: %s
          api_key: %s
          models: [%s]
`, fake.URL(), fake.APIKey(), openaifake.DefaultModel))
	startCollector(t, "playground", ports.health, nil,
		append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml"), "--config=" + overlay}, ports.setArgs()...)...)

	var tools fixture
	for _, f := range loadFixtures(t) {
		if f.name == "openinference-tools.otlp.json" {
			tools = f
		}
	}
	if tools.raw == nil {
		t.Fatal("testdata/otlp/openinference-tools.otlp.json is missing")
	}
	expected, order := translateFixtures(t, []fixture{tools}, translator.RetentionFull)
	if len(order) != 1 {
		t.Fatalf("the fixture has %d traces, want 1", len(order))
	}
	conv, err := translator.BuildConversation(expected[order[0]].spans, "")
	if err != nil {
		t.Fatal(err)
	}
	last := conv.Messages[len(conv.Messages)-1]
	if last.Role != "assistant" || len(last.Parts) == 0 {
		t.Fatalf("the fixture's last generation does not end with an answer: %+v", last)
	}
	postOTLPJSON(t, ports.http, tools.raw)

	plan := playgroundPlan{Base: "http://" + ports.opper, Chromium: chromiumPath, Screenshots: screenshotDir(t),
		Control: control.URL, TraceID: order[0], Model: openaifake.DefaultModel, Original: firstWords(last.Parts[0].Content)}
	eventually(t, 30*time.Second, 200*time.Millisecond, "the fixture's trace stored", func() (bool, string) {
		var tr opperapi.Envelope[json.RawMessage]
		status, body, err := getJSON(plan.Base+"/v3/traces/"+plan.TraceID+"/conversation", "", &tr)
		return err == nil && status == http.StatusOK, fmt.Sprintf("status %d, err %v: %.300s", status, err, body)
	})
	runNodeScript(t, node, "playground.test.mjs", plan, plan.Screenshots)

	// Every run reached the provider with its key and the model asked for.
	reqs := fake.Requests()
	if len(reqs) < 3 {
		t.Fatalf("the fake had %d requests, want at least 3", len(reqs))
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer "+fake.APIKey() {
			t.Errorf("a run sent Authorization %q", got)
		}
	}
}

// firstWords is the start of a text, enough to find it on a page.
func firstWords(s string) string {
	r := []rune(s)
	if len(r) > 24 {
		r = r[:24]
	}
	return string(r)
}
